from celery import shared_task

from bankcrm.models import Heartbeat


@shared_task(ignore_result=True)
def record_heartbeat() -> None:
    """Scheduled by beat, run by a worker: a fresh row shows scheduled work gets done."""
    Heartbeat.record("worker")
