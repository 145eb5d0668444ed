"""Background work for analytics: thin, safe to run twice (the day's NightlyRun row decides
for the nightly run; a text's pending TextSentiment row, locked, for its sentiment)."""

from celery import shared_task

from analytics.nightly import nightly_run
from analytics.sentiment import text_sentiment_compute, text_sentiment_sweep


@shared_task(ignore_result=True)
def nightly() -> int:
    """Every night from beat: scores, value tiers and lifetime values of every customer."""
    run = nightly_run()
    return run.customers if run else 0


@shared_task(ignore_result=True, acks_late=True)
def text_sentiment(kind: str, source_id: int) -> bool:
    """On commit of a stored text (bankcrm.registry.TEXT_WRITTEN): its sentiment."""
    return text_sentiment_compute(kind=kind, source_id=source_id) is not None


@shared_task(ignore_result=True, acks_late=True)
def sweep_text_sentiment() -> int:
    """Every minute from beat: the texts whose task was lost (Redis down, a worker died)."""
    return text_sentiment_sweep()
