"""Running test code in threads with their own database connections."""

import threading

from django.db import connection


def in_threads(work, count: int) -> list[Exception]:
    """Run `work` in `count` threads at once (each with its own connection, closed after);
    returns what they raised."""
    errors: list[Exception] = []

    def run():
        try:
            work()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
