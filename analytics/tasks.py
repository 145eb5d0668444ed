"""Background work for analytics: thin, safe to run twice (the day's NightlyRun row decides)."""

from celery import shared_task

from analytics.nightly import nightly_run


@shared_task(ignore_result=True)
def nightly() -> int:
    """Every night from beat: scores, value tiers and lifetime values of every customer."""
    run = nightly_run()
    return run.customers if run else 0
