"""Background work for the service desk. Tasks are thin: the due columns and the outbox rows
are the truth, so a lost or repeated message changes nothing (service/sla.py, notify.py).
Services ask for these tasks by name (bankcrm.outbox.enqueue_on_commit) and never import
this module."""

from celery import shared_task

from service.notify import dispatch_all
from service.sla import sla_sweep_all


@shared_task(ignore_result=True)
def sweep_sla() -> int:
    """Every minute from beat: warnings and escalations that fell due, each once."""
    return sla_sweep_all()


@shared_task(ignore_result=True, acks_late=True)
def send_notifications() -> int:
    """Send due messages (on commit of what wrote them, and every 30 s from beat, which
    catches what a lost message or a broker outage left)."""
    return dispatch_all()
