from celery import shared_task
from django.utils import timezone

from bankcrm.models import Heartbeat


@shared_task(ignore_result=True)
def record_heartbeat() -> None:
    """Scheduled by beat every 30 s and run by a worker: a fresh row proves both are alive."""
    Heartbeat.objects.update_or_create(name="beat", defaults={"beat_at": timezone.now()})
