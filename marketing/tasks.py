"""Background work for marketing. Tasks are thin and safe to run twice: the delivery rows
are the truth (marketing/sending.py), firings are unique (marketing/journeys.py). Services
ask for these tasks by name (bankcrm.outbox.enqueue_on_commit) and never import this
module."""

from celery import shared_task

from bankcrm.outbox import enqueue
from marketing import journeys, sending, services


@shared_task(ignore_result=True, acks_late=True)
def send_campaigns() -> int:
    """Send due deliveries (on commit of a launch or a journey's firing, and every 30 s from
    beat, which catches what a lost message, a broker outage or a dead worker left), then
    mark finished campaigns done. A run sends at most sending.dispatch_all's rounds; when
    it stops with more due it asks for itself again, so a large campaign keeps every
    worker that beat's sweeps started busy until it is sent (a lost request is the sweep's)."""
    sent = sending.dispatch_all()[sending.DELIVERIES.done]
    services.campaigns_finish()
    if sending.more_due():
        enqueue("marketing.tasks.send_campaigns")
    return sent


@shared_task(ignore_result=True)
def fire_journeys() -> int:
    """Hourly from beat: each journey's customers due today, once per occurrence."""
    return journeys.fire_journeys()
