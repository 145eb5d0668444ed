"""Background work for customers: import batches and the integration inbox. Tasks take only
ids; the rows' status is the source of truth, so a repeated message is a no-op and the beat
sweeps pick up whatever a crashed worker or an unreachable broker left behind. Services ask
for these tasks by name (bankcrm.outbox.enqueue_on_commit) and never import this module."""

import logging
import time

from celery import shared_task
from django.utils import timezone

from bankcrm.audit import audit_context
from bankcrm.outbox import enqueue
from customers import imports
from customers.ingest import resync
from customers.ingest.outbound import DELIVERIES, outbound_kyc_expired
from customers.ingest.services import INBOX_DOORBELL, inbox_process, source_advance_cursor
from customers.models import ImportBatch
from customers.models.integration import IntegrationSource
from customers.services import delegations_record_expired

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def validate_import(batch_id: int) -> None:
    imports.validate(batch_id)


@shared_task(ignore_result=True, acks_late=True)
def commit_import(batch_id: int) -> None:
    imports.commit(batch_id)


@shared_task(ignore_result=True)
def resume_imports() -> int:
    """Every minute from beat: resend batches waiting for over a minute, and batches whose
    worker stopped sending heartbeats (claim() takes over after five minutes)."""
    now = timezone.now()
    waiting = ImportBatch.objects.filter(
        status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.COMMIT_PENDING],
        created_at__lt=now - timezone.timedelta(minutes=1),
    ).filter(
        # heartbeat_at is NULL until a worker claims; after a claim it marks the last work.
        heartbeat_at__isnull=True
    ) | ImportBatch.objects.filter(
        status__in=[
            ImportBatch.Status.COMMIT_PENDING,
            ImportBatch.Status.VALIDATING,
            ImportBatch.Status.COMMITTING,
        ],
        heartbeat_at__lt=now - timezone.timedelta(minutes=1),
    )
    batches = list(waiting.only("pk", "status"))
    for batch in batches:
        task = (
            validate_import
            if batch.status in (ImportBatch.Status.PENDING, ImportBatch.Status.VALIDATING)
            else commit_import
        )
        enqueue(task.name, batch.pk)
    return len(batches)


# ---- integration inbox --------------------------------------------------------------------

# process_inbox looks once more after IDLE_LINGER, longer than INBOX_DOORBELL's local window
# (a process that rang within it does not ring again), so an event stored in that window is
# still seen.
IDLE_LINGER = 0.5


@shared_task(ignore_result=True, acks_late=True)
def process_inbox(max_batches: int = 200) -> int:
    """Apply pending events until none are left (or max_batches, then hand over)."""
    total = 0
    for _ in range(max_batches):
        claimed = inbox_process()
        total += claimed
        if not claimed:
            # Let the next stored event wake a worker again, then look once more, so an
            # event stored while the key was set is not left for the sweep. Only a worker
            # that applied something waits to look again: a kick whose events another
            # worker took (or a stale message) costs nothing.
            INBOX_DOORBELL.reset()
            if not total:
                break
            time.sleep(IDLE_LINGER)
            claimed = inbox_process()
            total += claimed
            if not claimed:
                break
    else:
        enqueue(process_inbox.name, max_batches)
    return total


@shared_task(ignore_result=True)
def sweep_inbox() -> None:
    """From beat: apply what waits (a lost kick, a broker outage) and move each source's
    sequence cursor; a source with a feed is asked for everything after its cursor, which
    also brings events lost at the end of a stream (a gap nothing later reveals)."""
    process_inbox()  # here, not queued: the sweep is the fallback when messages are lost
    for source in IntegrationSource.objects.filter(enabled=True):
        if not source.feed_url:
            source_advance_cursor(source=source)
        else:  # resync_source moves the cursor first
            try:
                resync.resync_source(source=source)
            except resync.ResyncError:
                logger.warning("inbox.resync_failed", extra={"source": source.code}, exc_info=True)


# ---- outbound events ----------------------------------------------------------------------


@shared_task(ignore_result=True)
def dispatch_outbound(max_batches: int = 50) -> int:
    """From beat: send due outbound deliveries (claimed with SKIP LOCKED, so overlapping
    runs share the work rather than repeat it)."""
    return sum(DELIVERIES.dispatch_all(max_rounds=max_batches).values())


@shared_task(ignore_result=True)
def publish_kyc_expiries() -> int:
    """From beat: publish each KYC expiry once (re-running publishes nothing new)."""
    return outbound_kyc_expired()


@shared_task(ignore_result=True)
def record_expired_delegations() -> int:
    """Every five minutes from beat: delegations that ran out, into the audit trail."""
    with audit_context(label="task:customers.tasks.record_expired_delegations"):
        return delegations_record_expired()
