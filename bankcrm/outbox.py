"""The outbox: what must be sent because of a write is a row written by that write.

A service that decides a message goes out (a customer notification, a webhook delivery, a
campaign send) writes a row in its own transaction, so the message exists exactly when the
change does, and asks for a worker once it commits. Workers send the rows; beat runs the same
task as a sweep, so a lost message, a broker outage or a dead worker delays a send and never
loses it. An app describes its table once with an `Outbox` and gets the rest:

- claim(): due pending rows are taken with SKIP LOCKED (concurrent dispatchers share the
  work) and leased: their next attempt moves `lease` ahead and their attempt is counted, in a
  transaction committed before anything is sent. A worker that dies mid-send leaves the row
  to be taken again when the lease runs out.
- The sender gets the row and its idempotency key, the same on every attempt, so a receiver
  can drop the repeat a dead worker causes (delivery is at least once).
- finish(): only the claim that took a row settles it (status still pending, the attempt and
  the lease it wrote unchanged), so an admin's requeue or a later claim is never undone.
- A failure is retried after backoff() (30 s doubling to 1 h, ±20%); when the attempt that
  failed was the `max_attempts`-th, the row is given up (status `given_up`) for an admin to
  requeue() (status back to pending, attempts 0, due now). The data-change trail records
  the row put back, with who did it (each outbox table has the trigger, which records
  requeues only: compliance/audited.py).
- A claim sends only while its lease outlasts one more send (`send_timeout`: the sender
  must give up on a send by then, its HTTP or SMTP timeout); the rows it had no time for go
  back at once, their attempt not spent.

Attempts are counted at claim, not when a send's outcome is known: a row whose send kills
its worker (a message too big for memory, a provider library that crashes) would otherwise
be retried forever without a failure ever being written. Counted at claim, it is given up
once its `max_attempts` leases have run out, like any other failure. The cost, one attempt
spent by a worker stopped for a deploy, is small next to max_attempts.

Using it from an app (campaign sends, say):

    # marketing/sending.py
    def send_campaign_message(row: CampaignSend, key: str) -> dict:
        gateway.send(to=row.customer.mobile, text=row.text, idempotency_key=key)
        return {"provider": "sms-gateway"}  # fields saved with the sent status

    CAMPAIGN_SENDS = Outbox(
        name="campaign",
        model=CampaignSend,  # has status, attempts, next_attempt_at, last_error
        send=send_campaign_message,
        key=lambda row: f"campaign:{row.campaign_id}:{row.customer_id}",
        done=CampaignSend.Status.SENT,
        given_up=CampaignSend.Status.FAILED,
        max_attempts=8,
        done_at="sent_at",
        related=("customer",),
    )

    # marketing/services.py, in the transaction that decides the sends
    CampaignSend.objects.bulk_create(rows, ignore_conflicts=True)  # a unique key: once
    enqueue_on_commit("marketing.tasks.send_campaigns")

    # marketing/tasks.py; also in CELERY_BEAT_SCHEDULE every 30 s: the sweep
    @shared_task(ignore_result=True, acks_late=True)
    def send_campaigns() -> int:
        return CAMPAIGN_SENDS.dispatch_all()["sent"]  # counts by status, and "retry"

The sender returns the fields to save with the done status, raises `SendError(error,
**fields)` for a failure it can describe (the HTTP status, say) and `UnsendableError` for a
row that can never be sent (no address: no retry); any other exception is a failure too. The
model needs `status`, `attempts`, `next_attempt_at` and `last_error`, and a partial index on
next_attempt_at where the status is pending (what claim() reads).

Asking a worker: enqueue_on_commit(name, *args) sends a Celery task once the transaction
commits, and nothing if it rolls back. It takes the task's name, as beat's schedule does, so
services never import tasks modules and tasks import services, never the reverse (an import
of the task would make each services module and its tasks module import each other). If the
broker is down it logs and carries on: the rows wait for the task's beat sweep. A Doorbell
adds rate limiting on top for a table written hundreds of times a second (the integration
inbox).
"""

import functools
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from bankcrm.audit import AuditContext, acting
from bankcrm.celery import app as celery_app

logger = logging.getLogger(__name__)

# What a row given up at claim says: its last attempt never reported back.
NO_OUTCOME = "the last attempt did not finish (its worker stopped or its lease ran out)"


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 h, ±20% so retries of many events spread out;
    the eleven waits between twelve attempts add up to about five hours."""
    base = min(30 * 2 ** (attempts - 1), 3600)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only


class SendError(Exception):
    """Raised by a sender: this attempt failed with `error` (kept as it is); `fields` are
    saved with the retry or the giving up (an HTTP status, say)."""

    def __init__(self, error: str, **fields: Any):
        super().__init__(error)
        self.error, self.fields = error, fields


class UnsendableError(Exception):
    """Raised by a sender: this row can never be sent (no address, consent withdrawn since
    it was written); it is settled at once, with the outbox's `skipped` status, or given up
    when it has none. `fields` are saved with it (why it was left out, say)."""

    def __init__(self, error: str = "", **fields: Any):
        super().__init__(error)
        self.fields = fields


@dataclass
class Claim:
    rows: list  # leased to this claim, attempt counted
    given_up: int  # due rows whose last attempt never finished, given up instead of taken
    send_by: datetime  # a send started later could outlast the lease


@dataclass(kw_only=True)
class Outbox:
    """One outbox table and how its rows are sent (see the module docstring)."""

    name: str  # in logs: "<name>.retry", "<name>.given_up"
    model: type[models.Model]
    send: Callable[[Any, str], Mapping[str, Any] | None]  # (row, key) -> fields to save
    key: Callable[[Any], str]  # the idempotency key of a row, the same on every attempt
    done: str
    given_up: str
    max_attempts: int
    pending: str = "pending"
    skipped: str | None = None
    lease: timedelta = timedelta(minutes=2)
    send_timeout: timedelta = timedelta(seconds=10)  # the longest one send may take
    done_at: str | None = None  # a field set to the time of the send that succeeded
    related: tuple[str, ...] = ()  # select_related for what the sender reads
    # Called with a claim's rows before any is sent: the sender's reads done once for the
    # batch instead of once a row (what it reads is then as old as the claim, under a second
    # at a few hundred rows a second).
    prepare: Callable[[list], None] | None = None
    error_length: int = field(init=False, repr=False)

    def __post_init__(self):
        if self.lease <= self.send_timeout:
            raise ValueError("the lease must outlast a send")
        names = ["status", "attempts", "next_attempt_at", "last_error"]
        for name in [*names, *([self.done_at] if self.done_at else [])]:
            self.model._meta.get_field(name)  # FieldDoesNotExist at import, not at sending
        self.error_length = self.model._meta.get_field("last_error").max_length

    def outcomes(self) -> dict[str, int]:
        statuses = [self.done, "retry", self.given_up, *([self.skipped] if self.skipped else [])]
        return dict.fromkeys(statuses, 0)

    def claim(self, *, limit: int) -> Claim:
        """Lease up to `limit` due rows to the caller and count their attempt. Rows whose
        last attempt never finished and that have no attempt left are given up instead."""
        now = timezone.now()
        until = now + self.lease
        with transaction.atomic():
            due = list(
                self.model.objects.filter(status=self.pending, next_attempt_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related(*self.related)
                .order_by("next_attempt_at")[:limit]
            )
            rows = [r for r in due if r.attempts < self.max_attempts]
            spent = [r.pk for r in due if r.attempts >= self.max_attempts]
            if spent:
                self.model.objects.filter(pk__in=spent).update(
                    status=self.given_up, last_error=NO_OUTCOME[: self.error_length]
                )
                logger.error("%s.given_up", self.name, extra={"rows": spent, "error": NO_OUTCOME})
            if rows:
                self.model.objects.filter(pk__in=[r.pk for r in rows]).update(
                    next_attempt_at=until, attempts=F("attempts") + 1
                )
        for row in rows:  # as written: the pair is the claim's mark for finish()
            row.attempts, row.next_attempt_at = row.attempts + 1, until
        return Claim(rows=rows, given_up=len(spent), send_by=until - self.send_timeout)

    def finish(self, row, status: str, **fields: Any) -> bool:
        """Settle a claimed row (sent, given up, skipped); False when the claim was lost
        (an admin requeued the row, or its lease ran out and another claim took it): what
        they did stands."""
        return self._settle(row, status=status, **fields)

    def retry(self, row, *, error: str, **fields: Any) -> bool:
        """The attempt failed: due again after backoff()."""
        return self._settle(
            row, next_attempt_at=timezone.now() + backoff(row.attempts), last_error=error, **fields
        )

    def requeue(self, ids, *, actor, context: AuditContext) -> int:
        """Given-up rows among `ids` back in the queue, as `actor` (an admin's "send
        again"): pending, attempts 0, due now. How many were put back."""
        given_up = self.model.objects.filter(pk__in=ids, status=self.given_up)
        return requeue(
            given_up, actor=actor, context=context,
            status=self.pending, attempts=0, next_attempt_at=timezone.now(),
        )  # fmt: skip

    def release(self, rows: list) -> int:
        """Give back claimed rows that were not sent (the claim ran short of time): due
        again now, their attempt not spent."""
        if not rows:
            return 0
        return self.model.objects.filter(
            pk__in=[r.pk for r in rows],
            status=self.pending,
            next_attempt_at=rows[0].next_attempt_at,  # one claim, one lease
        ).update(attempts=F("attempts") - 1, next_attempt_at=timezone.now())

    def _settle(self, row, **changes: Any) -> bool:
        won = self.model.objects.filter(
            pk=row.pk,
            status=self.pending,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
        ).update(**changes)
        if not won:
            logger.info("%s.claim_lost", self.name, extra={"row": row.pk})
        return bool(won)

    def dispatch(self, *, limit: int = 100) -> dict[str, int]:
        """Claim due rows and send them; counts by what became of them. Call it outside a
        transaction: the claim must commit before anything is sent."""
        counts = self.outcomes()
        claim = self.claim(limit=limit)
        counts[self.given_up] += claim.given_up
        if self.prepare and claim.rows:
            self.prepare(claim.rows)
        for index, row in enumerate(claim.rows):
            if timezone.now() > claim.send_by:
                self.release(claim.rows[index:])
                break
            counts[self._send_one(row)] += 1
        return counts

    def dispatch_all(self, *, limit: int = 100, max_rounds: int = 50) -> dict[str, int]:
        """dispatch() until nothing is due (or max_rounds, left for the next run)."""
        total = self.outcomes()
        for _ in range(max_rounds):
            counts = self.dispatch(limit=limit)
            for outcome, count in counts.items():
                total[outcome] += count
            if not any(counts.values()):
                break
        return total

    def _send_one(self, row) -> str:
        key = self.key(row)
        try:
            saved = self.send(row, key) or {}
        except UnsendableError as exc:
            status = self.skipped or self.given_up
            self.finish(row, status, last_error=str(exc)[: self.error_length], **exc.fields)
            return status
        except Exception as exc:
            if isinstance(exc, SendError):
                error, fields = exc.error, exc.fields
            else:
                error, fields = f"{type(exc).__name__}: {exc}", {}
            error = error[: self.error_length]
            extra = {"key": key, "attempt": row.attempts, "error": error}
            if row.attempts >= self.max_attempts:
                logger.error("%s.given_up", self.name, extra=extra)
                self.finish(row, self.given_up, last_error=error, **fields)
                return self.given_up
            logger.warning("%s.retry", self.name, extra=extra)
            self.retry(row, error=error, **fields)
            return "retry"
        if self.done_at:
            saved = {self.done_at: timezone.now(), **saved}
        self.finish(row, self.done, last_error="", **saved)
        return self.done


def requeue(rows: models.QuerySet, *, actor, context: AuditContext, **reset: Any) -> int:
    """Put rows that were given up back in their queue as `actor`, in one UPDATE (`reset`:
    the status back to pending, the attempts to 0 …); how many. Nothing else is written:
    the data-change trigger of the queue's table records each row put back, with who did
    it, from where, and the values before and after. `rows` names the given-up rows only
    (the WHERE decides, so a row a worker took meanwhile is not taken back)."""
    with transaction.atomic(), acting(actor=actor, context=context):
        return rows.update(**reset)


# ---- asking a worker -------------------------------------------------------------------


@functools.cache
def _registry():
    """Celery's task registry with every app's tasks module imported, as a worker has it (a
    web process imports no tasks module by itself)."""
    celery_app.autodiscover_tasks(force=True)
    return celery_app.tasks


def _task(name: str):
    try:
        return _registry()[name]
    except KeyError:
        raise LookupError(f"no Celery task is named {name!r}") from None


def enqueue(task: str, *args: Any) -> bool:
    """Send the task named `task` now. If the broker cannot be reached, log and return
    False: the rows the task works on wait for its beat sweep."""
    found = _task(task)
    try:
        found.delay(*args)
    except Exception:
        extra = {"task": task, "task_args": args}
        logger.warning("task.enqueue_failed", extra=extra, exc_info=True)
        return False
    return True


def enqueue_on_commit(task: str, *args: Any) -> None:
    """enqueue() once the current transaction commits (at once outside one); nothing is sent
    if it rolls back. A name no task has fails here, in the code that wrote it."""
    _task(task)
    transaction.on_commit(functools.partial(enqueue, task, *args))


@functools.cache
def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


class Doorbell:
    """enqueue_on_commit for a task that drains a table written many times a second: a ring
    sends the task only if nobody rang within `window` seconds (a Redis key set NX, shared
    by every process; a process that rang within `local_window` does not even ask Redis),
    so hundreds of writes a second send one message. The task calls reset() when the table
    looks empty, then looks once more after longer than `local_window`, so a write made
    while the key was set is not left for the sweep."""

    def __init__(self, task: str, *, key: str, window: int = 1, local_window: float = 0.2):
        self.task, self.key, self.window, self.local_window = task, key, window, local_window
        self._last_ring = 0.0

    def ring(self) -> None:
        now = time.monotonic()
        if now - self._last_ring < self.local_window:
            return
        self._last_ring = now
        try:
            first = _redis().set(self.key, 1, nx=True, ex=self.window)
        except Exception:  # Redis is down: the writes wait for the sweep
            logger.warning("task.doorbell_failed", extra={"task": self.task}, exc_info=True)
            return
        if first:
            enqueue(self.task)

    def ring_on_commit(self) -> None:
        _task(self.task)
        transaction.on_commit(self.ring)

    def reset(self) -> None:
        try:
            _redis().delete(self.key)
        except Exception:  # the key expires within the window anyway
            logger.warning("task.doorbell_reset_failed", extra={"task": self.task}, exc_info=True)
