"""Background work for the service desk. Tasks are thin: the due columns and the outbox rows
are the truth, so a lost or repeated message changes nothing (service/sla.py, notify.py)."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sweep_sla() -> int:
    """Every minute from beat: warnings and escalations that fell due, each once."""
    from service.sla import sla_sweep_all

    return sla_sweep_all()


@shared_task(ignore_result=True, acks_late=True)
def send_notifications() -> int:
    """Send due messages (also every 30 s from beat, which catches what a lost kick left)."""
    from service.notify import dispatch_all

    return dispatch_all()


def kick_notifications() -> None:
    """After a commit that wrote messages: ask a worker to send them now. If the broker is
    down they wait in the outbox for beat."""
    try:
        send_notifications.delay()
    except Exception:
        logger.warning("notifications.kick_failed", exc_info=True)
