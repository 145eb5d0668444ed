"""Background work for analytics: thin, safe to run twice (the day's NightlyRun row decides
for the nightly run; a text's pending TextSentiment row, locked, for its sentiment)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from analytics.kpi import kpi_refresh, kpi_snapshot
from analytics.nightly import nightly_run
from analytics.sentiment import text_sentiment_compute, text_sentiment_sweep


@shared_task(ignore_result=True)
def nightly() -> int:
    """Every night from beat: scores, value tiers and lifetime values of every customer."""
    run = nightly_run()
    return run.customers if run else 0


@shared_task(ignore_result=True)
def kpi_snapshot_yesterday() -> None:
    """Every night after the value run: yesterday's snapshot rebuilt whole, as the night
    left it; then today's brought up to date (the night's tiers and values)."""
    today = timezone.localdate()
    kpi_snapshot(today - timedelta(days=1))
    kpi_refresh(today)


@shared_task(ignore_result=True)
def kpi_snapshot_today() -> None:
    """Every hour: today's rows, rebuilt by the day's first run, then from the changes."""
    kpi_refresh(timezone.localdate())


@shared_task(ignore_result=True)
def reports_due() -> int:
    """Every morning: the runs of the reports due today, then every waiting run generated."""
    from analytics.reports import reports_generate_waiting, reports_schedule_due

    reports_schedule_due(today=timezone.localdate())
    return reports_generate_waiting()


@shared_task(ignore_result=True)
def report_generate(run_id: int) -> bool:
    """On commit of a run asked for on the reports page (the morning sweep catches any)."""
    from analytics.reports import report_generate as generate

    return generate(run_id)


@shared_task(ignore_result=True, acks_late=True)
def text_sentiment(kind: str, source_id: int) -> bool:
    """On commit of a stored text (bankcrm.registry.TEXT_WRITTEN): its sentiment."""
    return text_sentiment_compute(kind=kind, source_id=source_id) is not None


@shared_task(ignore_result=True, acks_late=True)
def sweep_text_sentiment() -> int:
    """Every minute from beat: the texts whose task was lost (Redis down, a worker died)."""
    return text_sentiment_sweep()
