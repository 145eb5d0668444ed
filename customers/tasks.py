"""Background work for customers: import batches. Tasks take only ids; the batch row's
status is the source of truth, so a repeated message is a no-op and the beat sweep picks up
whatever a crashed worker or an unreachable broker left behind."""

import logging

from celery import shared_task
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
