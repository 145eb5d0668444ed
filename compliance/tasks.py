import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def verify_audit_chain() -> bool:
    """Nightly from beat: a broken chain is logged as an error (alerting watches these)."""
    from compliance.chain import verify_all

    intact = True
    for report in verify_all():
        if report.ok:
            # The head hash goes to the log shipper too: a chain rewritten from the start by
            # someone with database superuser rights would no longer end in it.
            logger.info(
                "audit.chain_intact",
                extra={"table": report.table, "rows": report.rows, "head": report.head_hash},
            )
        else:
            intact = False
            logger.error(
                "audit.chain_broken",
                extra={"table": report.table, "chain_seq": report.broken_seq,
                       "row_id": report.broken_id, "reason": report.reason},
            )  # fmt: skip
    return intact


@shared_task(ignore_result=True)
def prune_recent_reads() -> int:
    """Hourly from beat: the access-anomaly rules' notes older than any window."""
    from compliance.anomalies import recent_reads_prune

    return recent_reads_prune()


@shared_task(ignore_result=True)
def sweep_risk_warnings() -> tuple[int, int]:
    """Hourly from beat (the work is once a day: a second run finds every signal of the day
    applied): warnings from overdue loans and expired KYC, then expiry."""
    from compliance.warnings import warnings_sweep

    return warnings_sweep()
