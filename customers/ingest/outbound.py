"""Publishing changes to subscribed systems through a transactional outbox.

Events are written in the transaction that makes the change, so a change is never published
without happening nor happens without being published: database triggers (migration 0010)
catch every path that changes a customer's value tier or records a consent withdrawal,
admin and bulk `update()` included; KYC expiries, which happen by the calendar, are
published by outbound_kyc_expired() from beat. Each event gets one delivery row per
subscriber of its type.

outbound_dispatch() sends due deliveries: it claims them with SKIP LOCKED and a lease
(moving their next attempt LEASE ahead) and commits before sending, so concurrent
dispatchers never send the same delivery at once, and a dispatcher that dies mid-send leaves
it to be sent again when the lease runs out. Delivery is therefore at least once; the
`X-Bankcrm-Event-Id` header (and `event_id` in the body) lets receivers drop repeats. A
failure is retried with exponential back-off, and after MAX_ATTEMPTS the delivery is marked
dead for an admin to look at and retry.
"""

import json
import logging
import urllib.error
import urllib.request
from copy import copy
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from bankcrm.audit import log_bulk_changes
from bankcrm.outbox import backoff
from customers.ingest import signing
from customers.ingest.models import OutboundDelivery, OutboundEvent, Subscriber, new_secret

logger = logging.getLogger(__name__)

SENDER = "bankcrm"  # the source name in outbound signatures
EVENT_ID_HEADER = "X-Bankcrm-Event-Id"
LEASE = timedelta(minutes=2)
TIMEOUT = 10  # seconds per delivery attempt
MAX_ATTEMPTS = 12
KYC_LOOKBACK_DAYS = 7  # a beat outage up to this long is caught up


def outbound_kyc_expired(*, today: date | None = None) -> int:
    """Publish `customer.kyc_expired` for customers whose KYC expired in the last days;
    once per customer and expiry date however often it runs. Returns how many were new."""
    today = today or timezone.localdate()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE customers_outbound_publish(
                       'customer.kyc_expired', c.id,
                       jsonb_build_object('customer', customers_outbound_customer(c.id),
                                          'kyc_expired_on', c.kyc_expires_on),
                       'kyc:' || c.id || ':' || c.kyc_expires_on))
              FROM customers_customer c
             WHERE c.kyc_expires_on >= %s AND c.kyc_expires_on < %s
               AND c.lifecycle <> 'closed'
            """,
            [today - timedelta(days=KYC_LOOKBACK_DAYS), today],
        )
        (published,) = cursor.fetchone()
    return published


def _body(event: OutboundEvent) -> bytes:
    return json.dumps(
        {
            "event_id": str(event.event_id),
            "type": event.event_type,
            "occurred_at": event.created_at.isoformat(),
            "data": event.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would follow it with a GET."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _send(delivery: OutboundDelivery) -> tuple[int | None, str]:
    """POST the event to the subscriber; (HTTP status or None, error text)."""
    subscriber = delivery.subscriber
    if not subscriber.url.startswith(("https://", "http://")):
        return None, "delivery URL is not http(s)"
    body = _body(delivery.event)
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(delivery.event.event_id),
        **signing.headers(subscriber.secret, SENDER, body),
    }
    request = urllib.request.Request(subscriber.url, body, headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:200]


def _claim(limit: int) -> list[OutboundDelivery]:
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboundDelivery.objects.filter(
                status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=now
            )
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "subscriber")
            .order_by("next_attempt_at")[:limit]
        )
        OutboundDelivery.objects.filter(pk__in=[d.pk for d in due]).update(
            next_attempt_at=now + LEASE
        )
    return due


def outbound_dispatch(*, limit: int = 100) -> dict:
    """Send what is due (one claimed batch); returns counts by outcome."""
    counts = {"delivered": 0, "retry": 0, "dead": 0}
    # Send only while the claim holds: once a slow subscriber has used it up, what is left
    # goes back to be claimed again rather than risk being sent by two dispatchers at once.
    deadline = timezone.now() + LEASE - timedelta(seconds=TIMEOUT)
    for delivery in _claim(limit):
        if timezone.now() > deadline:
            break
        status, error = _send(delivery)
        now = timezone.now()
        attempts = delivery.attempts + 1
        changes = {"attempts": attempts, "last_status_code": status, "last_error": error}
        if status is not None and 200 <= status < 300:
            changes.update(status=OutboundDelivery.Status.DELIVERED, delivered_at=now,
                           last_error="")  # fmt: skip
            outcome = "delivered"
        elif attempts >= MAX_ATTEMPTS:
            changes["status"] = OutboundDelivery.Status.DEAD
            outcome = "dead"
            logger.error("outbound.dead", extra={"delivery": delivery.pk, "error": error})
        else:
            changes["next_attempt_at"] = now + backoff(attempts)
            outcome = "retry"
        # Only our own claim is finished: an admin's retry or another claim is not undone.
        OutboundDelivery.objects.filter(
            pk=delivery.pk, status=OutboundDelivery.Status.PENDING, attempts=delivery.attempts
        ).update(**changes)
        counts[outcome] += 1
    return counts


def subscriber_rotate_secret(*, subscriber: Subscriber) -> str:
    """A new signing secret for the subscriber, in force at once (the receiver must switch
    with it); returns it, to be handed over once. The change is audited (without it)."""
    subscriber.secret = new_secret()
    subscriber.save(update_fields=["secret"])
    return subscriber.secret


@transaction.atomic
def outbound_retry(*, delivery_ids, actor=None, remote_addr=None) -> int:
    """An admin sends dead (or waiting) deliveries again now, with a fresh count; an audit
    row for each."""
    now = timezone.now()
    chosen = OutboundDelivery.objects.filter(
        pk__in=delivery_ids,
        status__in=[OutboundDelivery.Status.DEAD, OutboundDelivery.Status.PENDING],
    ).select_for_update()
    before = list(chosen.only("pk", "event_id", "subscriber_id", "status", "attempts",
                              "next_attempt_at"))  # fmt: skip
    count = chosen.filter(pk__in=[d.pk for d in before]).update(
        status=OutboundDelivery.Status.PENDING, attempts=0, next_attempt_at=now
    )
    after = [copy(d) for d in before]
    for delivery in after:
        delivery.status, delivery.attempts = OutboundDelivery.Status.PENDING, 0
        delivery.next_attempt_at = now
    log_bulk_changes(zip(before, after, strict=True), actor=actor, remote_addr=remote_addr)
    return count


def outbound_state() -> list[tuple[Subscriber, dict]]:
    """Per subscriber: deliveries waiting (and the oldest), given up, delivered in the last
    hour; one query."""
    hour_ago = timezone.now() - timedelta(hours=1)
    pending = Q(deliveries__status=OutboundDelivery.Status.PENDING)
    subscribers = Subscriber.objects.annotate(
        pending=Count("deliveries", filter=pending),
        oldest_pending=Min("deliveries__event__created_at", filter=pending),
        dead=Count("deliveries", filter=Q(deliveries__status=OutboundDelivery.Status.DEAD)),
        delivered_last_hour=Count("deliveries", filter=Q(deliveries__delivered_at__gte=hour_ago)),
    ).order_by("code")
    return [
        (
            s,
            {
                "pending": s.pending,
                "oldest_pending": s.oldest_pending,
                "dead": s.dead,
                "delivered_last_hour": s.delivered_last_hour,
            },
        )
        for s in subscribers
    ]
