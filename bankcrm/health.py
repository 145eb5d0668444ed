"""Health of the parts bankcrm needs: the database, Redis, a worker and beat."""

from django.conf import settings
from django.db import connection

from bankcrm.models import Heartbeat

# Beat stamps every 15 s and schedules the worker's stamp every 30 s: 90 s is late.
HEARTBEAT_LATE_SECONDS = 90
# The database probe waits this long for a pooled connection, not the pool's timeout: a
# load balancer's probe must answer while the database is down (it took 11 s).
DATABASE_PROBE_SECONDS = 1.5


def run_checks() -> dict[str, str]:
    checks = {"database": _database(), "redis": _redis()}
    checks["worker"] = _worker() if checks["redis"] == "ok" else "unknown"
    db_up = checks["database"] == "ok"
    checks["beat"] = _heartbeat("beat") if db_up else "unknown"
    checks["scheduled_tasks"] = _heartbeat("worker") if db_up else "unknown"
    return checks


def overall(checks: dict[str, str]) -> str:
    if checks["database"] != "ok" or checks["redis"] != "ok":
        return "down"
    return "ok" if all(value == "ok" for value in checks.values()) else "degraded"


def _database() -> str:
    pool = connection.pool
    try:
        if pool is None:  # DATABASE_POOL=false: bounded by DATABASE_CONNECT_TIMEOUT
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        else:
            pool.open()  # what Django does before its first connection
            with pool.connection(timeout=DATABASE_PROBE_SECONDS) as conn:
                conn.execute("SELECT 1")
    except Exception:
        return "down"
    return "ok"


def _redis() -> str:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),  # a probe answers now, not after back-off
    )
    try:
        client.ping()
    except redis.RedisError:
        return "down"
    finally:
        client.close()
    return "ok"


def _worker() -> str:
    from bankcrm.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception:
        return "down"
    return "ok" if replies else "down"


def _heartbeat(name: str) -> str:
    age = Heartbeat.age_seconds(name)
    if age is None:
        return "down"
    return "ok" if age < HEARTBEAT_LATE_SECONDS else "stale"
