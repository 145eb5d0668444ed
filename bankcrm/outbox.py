"""What every outbox shares: rows written in the business transaction are sent by workers,
retried with back-off and given up after a number of attempts."""

import random
from datetime import timedelta


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 h, ±20% so retries of many events spread out;
    the eleven waits between twelve attempts add up to about five hours."""
    base = min(30 * 2 ** (attempts - 1), 3600)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only
