"""Storing and applying inbound events.

inbox_store() writes events to the inbox in one statement (duplicates skipped by the unique
keys) and answers per event; the API answers 2xx only after it has committed. Workers call
inbox_process(), which claims pending rows with SKIP LOCKED and applies each in the same
transaction that marks it done: a crash rolls both back, so every event takes effect once.
Applying is order-independent: transactions are keyed by (source, id), balances and master
data are replaced only by a later sequence. One event that cannot be applied, whatever the
reason, fails alone in its savepoint and the others flow on; its error names what went wrong
and where, never the values (they may be identifiers).
"""

import hashlib
import hmac
import json
import logging
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.db import DatabaseError, DataError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bankcrm import crypto, masking, registry
from bankcrm.audit import AuditContext, audit_context
from bankcrm.outbox import Doorbell, requeue
from customers import services as customer_services
from customers.ingest import schemas
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    Account,
    ExternalIdentity,
    Interaction,
    Product,
    Transaction,
)
from customers.models.integration import InboxEvent, IntegrationSource, new_secret

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# Rung on commit after events are stored or replayed: one worker is woken however many
# events a second arrive; customers.tasks.process_inbox resets it when the inbox looks empty.
INBOX_DOORBELL = Doorbell("customers.tasks.process_inbox", key="bankcrm:inbox:kick")


# ---- storing ------------------------------------------------------------------------------


@dataclass
class Outcome:
    index: int
    event_id: str | None
    status: int  # HTTP status for this event
    error: dict | None = None
    errors: list = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status == 202


def body_digest(raw: dict) -> str:
    """Keyed digest of the event's canonical JSON: a repeat has the same, whatever the key
    order or spacing; the key keeps payloads from being guessed from it."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = crypto._blind_key(settings.BLIND_INDEX_KEY)
    return hmac.new(key, b"inbox\x00" + canonical.encode(), hashlib.sha256).hexdigest()


def _utc(moment: datetime, zone: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


_PAYLOAD = InboxEvent._meta.get_field("payload")

_INSERT = """
INSERT INTO customers_inboxevent
    (source_id, event_id, sequence, event_type, occurred_at, payload, body_digest, status,
     attempts, error, received_at)
SELECT %s, e.event_id, e.sequence, e.event_type, e.occurred_at, e.payload, e.digest,
       'pending', 0, '', %s
  FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])
       AS e(event_id, sequence, event_type, occurred_at, payload, digest)
ON CONFLICT DO NOTHING
RETURNING event_id
"""


def inbox_store(*, source: IntegrationSource, events: list) -> list[Outcome]:
    """Validate and store events (already decoded JSON). Per event: 202 stored or already
    stored with the same body; 409 the id (or sequence) is taken by a different event; 422
    invalid. Valid events are stored even when others in the batch are not."""
    outcomes: list[Outcome] = []
    rows = []
    for index, (raw, parsed) in enumerate(zip(events, schemas.parse_events(events), strict=True)):
        if isinstance(parsed, schemas.EventError):
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            outcomes.append(Outcome(index, event_id, 422, parsed.details[0], parsed.details))
            continue
        event, data = parsed
        occurred = _utc(event.occurred_at, source.time_zone)
        payload = data.model_dump(mode="json", exclude_none=True)
        for name in ("booked_at", "occurred_at"):
            if name in payload:
                payload[name] = _utc(getattr(data, name), source.time_zone).isoformat()
        rows.append((index, event, occurred, payload, body_digest(raw)))
        outcomes.append(Outcome(index, event.event_id, 202))
    if not rows:
        return outcomes
    now = timezone.now()
    # One statement: atomic by itself, so no BEGIN/COMMIT round trips around it. Parameters
    # go bound and binary (Django's cursors quote them into the SQL text, which for arrays
    # of a thousand elements costs more than the insert).
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            _INSERT,
            [
                source.pk,
                now,
                [r[1].event_id for r in rows],
                [r[1].sequence for r in rows],
                [r[1].type for r in rows],
                [r[2] for r in rows],
                [_PAYLOAD.get_prep_value(r[3]) for r in rows],
                [r[4] for r in rows],
            ],
            binary=True,
        )
        inserted = {event_id for (event_id,) in cursor.fetchall()}
        skipped = [r for r in rows if r[1].event_id not in inserted]
        if skipped:
            _classify_conflicts(source, skipped, outcomes, inserted)
        if inserted:
            INBOX_DOORBELL.ring_on_commit()
    return outcomes


def _classify_conflicts(source, skipped, outcomes, inserted) -> None:
    """Rows the insert skipped: a repeat (same digest) answers as the first time did."""
    stored = dict(
        InboxEvent.objects.filter(
            source=source, event_id__in=[r[1].event_id for r in skipped]
        ).values_list("event_id", "body_digest")
    )
    first_in_request: dict[str, str] = {}
    for index, event, _occurred, _payload, digest in skipped:
        earlier = stored.get(event.event_id) or first_in_request.get(event.event_id)
        if earlier == digest:
            continue  # the same event again: 202 as before
        if earlier is None and event.event_id not in inserted:
            code, message, where = (
                "sequence_conflict",
                f"Sequence {event.sequence} is already used by another event of this source.",
                "sequence",
            )
        else:
            code, message, where = (
                "event_id_conflict",
                f"Event {event.event_id} was already received with a different body.",
                "event_id",
            )
        error = {"code": code, "message": message, "field": where}
        outcomes[index] = Outcome(index, event.event_id, 409, error, [error])
        first_in_request.setdefault(event.event_id, digest)


# ---- applying -----------------------------------------------------------------------------


class ParkedError(Exception):
    """The event cannot be applied yet (unknown customer or account): kept for an admin."""


@dataclass
class _Batch:
    """Lookups shared by the events of one claimed batch (one query each)."""

    accounts: dict  # number index -> Account
    identities: dict  # (source code, external id) -> ExternalIdentity


def _lookups(events: list[InboxEvent]) -> _Batch:
    indexes, refs = set(), set()
    for event in events:
        data = event.payload
        if "account_number" in data:
            indexes.add(crypto.blind_index(data["account_number"], purpose=ACCOUNT_NUMBER_INDEX))
        if "customer_ref" in data:
            refs.add((event.source.code, data["customer_ref"]))
    accounts = {
        a.number_index: a
        for a in Account.objects.filter(number_index__in=indexes).only(
            "pk", "customer_id", "currency", "number_index", "balance_sequence"
        )
    }
    identities = {}
    if refs:
        q = Q()
        for code, ref in refs:
            q |= Q(source=code, external_id=ref)
        identities = {(i.source, i.external_id): i for i in ExternalIdentity.objects.filter(q)}
    return _Batch(accounts, identities)


def _prefetch(events: list[InboxEvent], results: dict) -> _Batch:
    """The batch's lookups. If one event's values break them (say a NUL in a reference, in a
    row that did not come through the API), each event is looked up alone and those that
    fail are failed, so one event cannot hold up the rest."""
    try:
        with transaction.atomic():
            return _lookups(events)
    except Exception:  # noqa: S110 (each event's own lookup tells which one and why)
        pass
    batch = _Batch({}, {})
    for event in events:
        try:
            with transaction.atomic():
                own = _lookups([event])
        except Exception as exc:
            results[event.pk] = _failed(event, exc)
            continue
        batch.accounts.update(own.accounts)
        batch.identities.update(own.identities)
    return batch


def _account(batch: _Batch, data: dict) -> Account:
    index = crypto.blind_index(data["account_number"], purpose=ACCOUNT_NUMBER_INDEX)
    account = batch.accounts.get(index)
    if account is None:
        raise ParkedError("unknown_account")
    return account


def _set_balance(account: Account, event: InboxEvent, balance) -> None:
    """Only a later sequence replaces the balance: late and replayed events change nothing."""
    Account.objects.filter(pk=account.pk).filter(
        Q(balance_sequence__isnull=True) | Q(balance_sequence__lt=event.sequence)
    ).update(balance=balance, balance_as_of=event.occurred_at, balance_sequence=event.sequence)


def _transaction_row(event: InboxEvent, batch: _Batch) -> Transaction:
    data = event.payload
    account = _account(batch, data)
    counterparty = data.get("counterparty") or ""
    return Transaction(
        account_id=account.pk,
        customer_id=account.customer_id,
        booked_at=datetime.fromisoformat(data["booked_at"])
        if "booked_at" in data
        else event.occurred_at,
        amount=data["amount"],
        currency=data["currency"],
        direction=data["direction"],
        channel=data["channel"],
        kind=data["kind"],
        counterparty_masked=masking.mask_name(counterparty) if counterparty else "",
        source=event.source.code,
        external_id=data["transaction_id"],
    )


def _apply_transaction(event: InboxEvent, batch: _Batch) -> None:
    row = _transaction_row(event, batch)
    # (source, external id) is unique: the same transaction a second time is a no-op.
    Transaction.objects.bulk_create([row], ignore_conflicts=True)
    data = event.payload
    if "balance_after" in data:
        account = _account(batch, data)
        if data["currency"] != account.currency:
            raise ParkedError("currency_mismatch")
        _set_balance(account, event, data["balance_after"])


def _apply_balance(event: InboxEvent, batch: _Batch) -> None:
    data = event.payload
    account = _account(batch, data)
    if data["currency"] != account.currency:
        raise ParkedError("currency_mismatch")
    _set_balance(account, event, data["balance"])


def _identity(batch: _Batch, event: InboxEvent) -> ExternalIdentity:
    identity = batch.identities.get((event.source.code, event.payload["customer_ref"]))
    if identity is None:
        raise ParkedError("unknown_customer")
    return identity


def _apply_customer(event: InboxEvent, batch: _Batch) -> None:
    identity = _identity(batch, event)
    newer = ExternalIdentity.objects.filter(
        pk=identity.pk, last_sequence__lt=event.sequence
    ).update(last_sequence=event.sequence)
    if not newer:
        return  # a later snapshot was applied already
    data = event.payload
    customer = identity.customer
    # The audit trail names the source system and its event, not the worker's task.
    with audit_context(label=f"source:{event.source.code}", request_id=f"event:{event.event_id}"):
        customer_services.contact_update(
            actor=None,
            customer=customer,
            mobile=data.get("mobile"),
            email=data.get("email"),
            address=data.get("address"),
        )


def product_view_subject(product: str) -> str:
    """The subject of the interaction an app product view becomes, in the bank's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return (_("Viewed a product in the app: %(product)s") % {"product": product})[:200]


def _viewed_product(data: dict) -> tuple[str, str]:
    """(catalogue code, name for the subject) of an app product view: the event's
    product_code, or its `product` when that is a catalogue code; the name the app gave,
    or else the catalogue's. One indexed read."""
    given = (data.get("product") or "").strip()
    code = data.get("product_code") or ""
    candidates = [code] if code else [given] if given else []
    known = dict(Product.objects.filter(code__in=candidates).values_list("code", "name_zh"))
    if not code and given in known:
        code = given
        given = known[given]
    return code, given or known.get(code) or code


def _apply_app_activity(event: InboxEvent, batch: _Batch) -> None:
    identity = _identity(batch, event)
    data = event.payload
    code = ""
    if data["action"] == "login":
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("Signed in to the mobile app")
    else:
        code, name = _viewed_product(data)
        subject = product_view_subject(name)
    Interaction.objects.create(
        customer_id=identity.customer_id,
        channel=Interaction.Channel.APP,
        direction=Interaction.Direction.INBOUND,
        subject=subject[:200],
        occurred_at=event.occurred_at,
        product_code=code,
    )


_PRODUCT_FIELDS = (
    "name_zh", "name_en", "kind", "issuer", "risk_level", "currency", "min_amount",
    "term_days", "sale_starts", "sale_ends", "eligible_kinds", "min_tier",
    "private_placement", "status",
)  # fmt: skip


def _apply_product(event: InboxEvent, batch: _Batch) -> None:
    """Creates or replaces the product with the event's snapshot, unless a product.updated
    at least as late, by (occurred_at, sequence), was applied already: a replay or an event
    that arrived after a newer one changes nothing. The row is locked while compared."""
    schema = schemas.ProductUpdated.model_validate(
        event.payload
    )  # the payload's defaults and types
    values = {name: getattr(schema, name) for name in _PRODUCT_FIELDS}
    stamp = (event.occurred_at, event.sequence)
    with audit_context(label=f"source:{event.source.code}", request_id=f"event:{event.event_id}"):
        product = Product.objects.select_for_update().filter(code=schema.code).first()
        if product is None:
            Product.objects.create(
                code=schema.code, synced_at=stamp[0], synced_sequence=stamp[1], **values
            )
            return
        if product.synced_at is not None and stamp <= (
            product.synced_at,
            product.synced_sequence or 0,
        ):
            return  # stale: a later snapshot is in place
        for name, value in values.items():
            setattr(product, name, value)
        product.synced_at, product.synced_sequence = stamp
        product.save()


def customer_id_for(batch: _Batch, event: InboxEvent) -> int:
    """The customer an event's `customer_ref` maps to (ParkedError if none), for handlers
    that other apps register."""
    return _identity(batch, event).customer_id


# How each event type customers/ owns is applied; registered in
# bankcrm.registry.EVENT_HANDLERS by customers/apps.py, beside those of higher apps (the
# service desk's "service.request", compliance's "risk.signal"), which customers/ does not
# import.
HANDLERS = {
    "transaction.posted": _apply_transaction,
    "balance.changed": _apply_balance,
    "customer.updated": _apply_customer,
    "app.activity": _apply_app_activity,
    "product.updated": _apply_product,
}


def error_text(exc: BaseException) -> str:
    """What went wrong, without the values involved (messages quote them, and they may be
    identifiers): the exception's type and, for the database's errors, the condition, its
    SQLSTATE and the table, column or constraint named."""
    parts = [type(exc).__name__]
    cause = exc.__cause__ if isinstance(exc, DatabaseError) else exc
    if isinstance(cause, psycopg.Error):
        if type(cause).__name__ != parts[0]:
            parts.append(type(cause).__name__)
        if cause.sqlstate:
            parts.append(cause.sqlstate)
            diag = cause.diag
            parts += [n for n in (diag.table_name, diag.column_name, diag.constraint_name) if n]
        else:  # psycopg refused the value before sending it (a NUL, say)
            parts.append("value not storable")
    return " ".join(parts)[: InboxEvent._meta.get_field("error").max_length]


def _failed(event: InboxEvent, exc: Exception) -> tuple[str, str]:
    """An attempt that raised: logged with the code it went through, not the values. A value
    the database refuses (DataError) fails at once; anything else (a race, a deadlock, a bug)
    is tried again by the next batches, MAX_ATTEMPTS in all."""
    error = error_text(exc)
    logger.error(
        "inbox.apply_failed event=%s type=%s: %s\n%s",
        event.pk,
        event.event_type,
        error,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    done = isinstance(exc, DataError) or event.attempts + 1 >= MAX_ATTEMPTS
    return (InboxEvent.Status.FAILED if done else InboxEvent.Status.PENDING, error)


_MARK = """
UPDATE customers_inboxevent e
   SET status = v.status, error = v.error, attempts = e.attempts + 1, processed_at = %s
  FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, status, error)
 WHERE e.id = v.id
"""


_BALANCES = """
UPDATE customers_account a
   SET balance = v.balance, balance_as_of = v.as_of, balance_sequence = v.sequence
  FROM unnest(%s::bigint[], %s::numeric[], %s::timestamptz[], %s::bigint[])
       AS v(id, balance, as_of, sequence)
 WHERE a.id = v.id AND (a.balance_sequence IS NULL OR a.balance_sequence < v.sequence)
"""


def _bulk_transactions(events: list[InboxEvent], batch: _Batch, results: dict) -> list:
    """The transaction events of a batch in one INSERT, and the balances they carry in one
    UPDATE (each account's from its latest event); returns the events left for one-by-one
    application (other types, or all of them if the statements fail)."""
    rest, rows, balances = [], [], {}
    for event in events:
        if event.event_type != "transaction.posted":
            rest.append(event)
            continue
        try:
            row = _transaction_row(event, batch)
            data = event.payload
            if "balance_after" in data:
                account = _account(batch, data)
                if data["currency"] != account.currency:
                    raise ParkedError("currency_mismatch")
                latest = balances.get(account.pk)
                if latest is None or latest[2] < event.sequence:
                    balance = (data["balance_after"], event.occurred_at, event.sequence)
                    balances[account.pk] = balance
        except ParkedError as exc:
            results[event.pk] = (InboxEvent.Status.PARKED, str(exc))
            continue
        except Exception:
            rest.append(event)  # the one-by-one path records what is wrong with it
            continue
        rows.append((event, row))
    if rows:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                Transaction.objects.bulk_create([row for _, row in rows], ignore_conflicts=True)
                if balances:
                    amounts, as_of, sequences = zip(*balances.values(), strict=True)
                    cursor.execute(
                        _BALANCES, [list(balances), list(amounts), list(as_of), list(sequences)]
                    )
        except Exception as exc:  # one by one, so the event at fault fails alone
            logger.warning("inbox.bulk_apply_failed: %s", error_text(exc))
            rest.extend(event for event, _ in rows)
        else:
            for event, _ in rows:
                results[event.pk] = (InboxEvent.Status.APPLIED, "")
    return rest


def inbox_process(*, limit: int = 500) -> int:
    """Apply up to `limit` pending events; returns how many were claimed. Concurrent workers
    take disjoint rows (SKIP LOCKED); each event's effect commits with its status, and an
    event that raises is rolled back to its savepoint and marked, never the batch."""
    with transaction.atomic():
        events = list(
            InboxEvent.objects.pending()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("source")
            .order_by("id")[:limit]
        )
        if not events:
            return 0
        results: dict[int, tuple[str, str]] = {}
        batch = _prefetch(events, results)
        todo = [event for event in events if event.pk not in results]
        for event in _bulk_transactions(todo, batch, results):
            try:
                with transaction.atomic():
                    registry.EVENT_HANDLERS.get(event.event_type)(event, batch)
            except ParkedError as exc:
                results[event.pk] = (InboxEvent.Status.PARKED, str(exc))
            except Exception as exc:  # bad data or a bug: this event fails, the others go on
                results[event.pk] = _failed(event, exc)
            else:
                results[event.pk] = (InboxEvent.Status.APPLIED, "")
        with connection.cursor() as cursor:
            cursor.execute(
                _MARK,
                [
                    timezone.now(),
                    list(results),
                    [status for status, _ in results.values()],
                    [error for _, error in results.values()],
                ],
            )
    return len(events)


def inbox_replay(*, event_ids, actor, context: AuditContext) -> int:
    """Put parked or failed events back in the queue (after an admin fixed the mapping).
    The data-change trail records each event put back (status, attempts and error before
    and after, never the payload) with who did it."""
    waiting = InboxEvent.objects.filter(
        pk__in=event_ids, status__in=[InboxEvent.Status.PARKED, InboxEvent.Status.FAILED]
    )
    count = requeue(
        waiting, actor=actor, context=context,
        status=InboxEvent.Status.PENDING, attempts=0, error="",
    )  # fmt: skip
    if count:
        INBOX_DOORBELL.ring_on_commit()
    return count


@transaction.atomic
def source_rotate_secret(*, source: IntegrationSource, grace=timedelta(hours=24)) -> str:
    """A new signing secret; the current one stays valid for `grace` so the sender can
    switch without rejected requests. Returns the new secret (to hand over once)."""
    source.previous_secret = source.secret
    source.previous_secret_expires_at = timezone.now() + grace
    source.secret = new_secret()
    source.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return source.secret


# ---- sequence and state -------------------------------------------------------------------


def source_advance_cursor(*, source: IntegrationSource) -> int:
    """Move the source's contiguous cursor over every sequence now present; returns it."""
    with transaction.atomic():
        source = IntegrationSource.objects.select_for_update().get(pk=source.pk)
        cursor = source.contiguous_sequence
        with connection.cursor() as c:
            # The first missing number after the cursor: the end of the first run of
            # consecutive sequences (an index range scan on the unique key).
            c.execute(
                """
                SELECT coalesce(max(sequence), %s) FROM (
                  SELECT sequence, sequence - row_number() OVER (ORDER BY sequence) AS run
                    FROM customers_inboxevent WHERE source_id = %s AND sequence > %s
                ) r WHERE run = %s
                """,
                [cursor, source.pk, cursor, cursor],
            )
            (reached,) = c.fetchone()
        if reached != cursor:
            source.contiguous_sequence = reached
            source.save(update_fields=["contiguous_sequence"])
        return reached


def source_gaps(source: IntegrationSource, limit: int = 100) -> list[tuple[int, int]]:
    """Missing sequence ranges (first, last) after the cursor, oldest first."""
    with connection.cursor() as c:
        c.execute(
            """
            SELECT prev + 1, sequence - 1 FROM (
              SELECT sequence, lag(sequence, 1, %s::bigint) OVER (ORDER BY sequence) AS prev
                FROM customers_inboxevent WHERE source_id = %s AND sequence > %s
            ) s WHERE sequence > prev + 1 ORDER BY sequence LIMIT %s
            """,
            [source.contiguous_sequence, source.pk, source.contiguous_sequence, limit],
        )
        return list(c.fetchall())


def source_state(source: IntegrationSource, *, window: timedelta = timedelta(minutes=5)) -> dict:
    """Sequence position, backlog, rate and lag of a source; each figure from an index (the
    inbox holds tens of millions of rows)."""
    events = InboxEvent.objects.filter(source=source)
    last = events.order_by("-sequence").values("sequence", "received_at").first() or {}
    now = timezone.now()
    oldest_pending = (
        events.filter(status=InboxEvent.Status.PENDING)
        .order_by("id")
        .values_list("received_at", flat=True)
        .first()
    )
    gaps = source_gaps(source, limit=10_000)
    latest_error = (
        events.filter(status__in=[InboxEvent.Status.PARKED, InboxEvent.Status.FAILED])
        .order_by("-received_at")
        .values_list("error", flat=True)
        .first()
    )
    return {
        "source": source.code,
        "last_sequence": last.get("sequence", 0),
        "contiguous_sequence": source.contiguous_sequence,
        "missing": sum(b - a + 1 for a, b in gaps),
        "gaps": len(gaps),
        "pending": events.filter(status=InboxEvent.Status.PENDING).count(),
        "parked": events.filter(status=InboxEvent.Status.PARKED).count(),
        "failed": events.filter(status=InboxEvent.Status.FAILED).count(),
        "latest_error": latest_error or "",
        "last_received_at": last.get("received_at"),
        "received_per_second": events.filter(received_at__gte=now - window).count()
        / window.total_seconds(),
        # How long the oldest unapplied event has waited.
        "lag_seconds": (now - oldest_pending).total_seconds() if oldest_pending else 0.0,
    }
