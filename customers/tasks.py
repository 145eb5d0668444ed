"""Background work for customers: import batches and the integration inbox. Tasks take only
ids; the rows' status is the source of truth, so a repeated message is a no-op and the beat
sweeps pick up whatever a crashed worker or an unreachable broker left behind."""

import contextlib
import functools
import logging
import time

import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from customers import imports
from customers.models import ImportBatch

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def validate_import(batch_id: int) -> None:
    imports.validate(batch_id)


@shared_task(ignore_result=True, acks_late=True)
def commit_import(batch_id: int) -> None:
    imports.commit(batch_id)


def enqueue(batch: ImportBatch) -> None:
    """Send the batch's next task once the transaction that changed it has committed. If the
    broker is down the batch waits: resume_imports sends it again."""
    task = commit_import if batch.status == ImportBatch.Status.COMMIT_PENDING else validate_import

    def send():
        try:
            task.delay(batch.pk)
        except Exception:  # the broker is unreachable; the sweep retries
            logger.warning("import.enqueue_failed", extra={"batch": batch.pk}, exc_info=True)

    transaction.on_commit(send)


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
        try:
            task.delay(batch.pk)
        except Exception:
            logger.warning("import.resume_failed", extra={"batch": batch.pk}, exc_info=True)
    return len(batches)


# ---- integration inbox --------------------------------------------------------------------

_KICK_KEY = "bankcrm:inbox:kick"


@functools.cache
def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


# A process that rang within this many seconds does not ring again (not even Redis is asked);
# process_inbox looks once more after IDLE_LINGER, longer than this, before it stops, so an
# event stored in that window is still seen.
KICK_LOCAL_SECONDS = 0.2
IDLE_LINGER = 0.5
_last_kick = 0.0


def kick_inbox() -> None:
    """After an event is stored: wake a worker unless one was woken in the last second (at
    hundreds of events a second, one message each would flood the broker). If Redis is down
    the events wait in the inbox for the beat sweep."""
    global _last_kick
    now = time.monotonic()
    if now - _last_kick < KICK_LOCAL_SECONDS:
        return
    _last_kick = now
    try:
        if _redis().set(_KICK_KEY, 1, nx=True, ex=1):
            process_inbox.delay()
    except Exception:
        logger.warning("inbox.kick_failed", exc_info=True)


@shared_task(ignore_result=True, acks_late=True)
def process_inbox(max_batches: int = 200) -> int:
    """Apply pending events until none are left (or max_batches, then hand over)."""
    from customers.ingest.services import inbox_process

    total = 0
    for _ in range(max_batches):
        claimed = inbox_process()
        total += claimed
        if not claimed:
            # Let the next stored event wake a worker again, then look once more, so an
            # event stored while the key was set is not left for the sweep. Only a worker
            # that applied something waits to look again: a kick whose events another
            # worker took (or a stale message) costs nothing.
            with contextlib.suppress(Exception):
                _redis().delete(_KICK_KEY)
            if not total:
                break
            time.sleep(IDLE_LINGER)
            claimed = inbox_process()
            total += claimed
            if not claimed:
                break
    else:
        process_inbox.delay(max_batches)
    return total


@shared_task(ignore_result=True)
def sweep_inbox() -> None:
    """From beat: apply what waits (a lost kick, a broker outage) and move each source's
    sequence cursor; a source with a feed is asked for everything after its cursor, which
    also brings events lost at the end of a stream (a gap nothing later reveals)."""
    from customers.ingest import resync
    from customers.ingest.models import IntegrationSource
    from customers.ingest.services import source_advance_cursor

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
    from customers.ingest.outbound import outbound_dispatch

    sent = 0
    for _ in range(max_batches):
        counts = outbound_dispatch()
        sent += sum(counts.values())
        if not any(counts.values()):
            break
    return sent


@shared_task(ignore_result=True)
def publish_kyc_expiries() -> int:
    """From beat: publish each KYC expiry once (re-running publishes nothing new)."""
    from customers.ingest.outbound import outbound_kyc_expired

    return outbound_kyc_expired()


@shared_task(ignore_result=True)
def record_expired_delegations() -> int:
    """Every five minutes from beat: delegations that ran out, into the audit trail."""
    from bankcrm.audit import audit_context
    from customers.services import delegations_record_expired

    with audit_context(label="task:customers.tasks.record_expired_delegations"):
        return delegations_record_expired()
