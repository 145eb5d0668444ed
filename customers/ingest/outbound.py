"""Publishing changes to subscribed systems through a transactional outbox.

Events are written in the transaction that makes the change, so a change is never published
without happening nor happens without being published: database triggers (migration 0010)
catch every path that changes a customer's value tier or records a consent withdrawal,
admin and bulk `update()` included; KYC expiries, which happen by the calendar, are
published by outbound_kyc_expired() from beat. Each event gets one delivery row per
subscriber of its type.

outbound_dispatch() sends due deliveries through the core outbox (bankcrm/outbox.py): it
claims them with SKIP LOCKED under a lease and commits before sending, so concurrent
dispatchers never send the same delivery at once, and a dispatcher that dies mid-send leaves
it to be sent again when the lease runs out. Delivery is therefore at least once; the
`X-Bankcrm-Event-Id` header (and `event_id` in the body) lets receivers drop repeats. A
failure is retried with exponential back-off, and the MAX_ATTEMPTS-th attempt marks the
delivery dead for an admin to look at and retry.
"""

import json
import logging
import urllib.error
import urllib.request
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from bankcrm.audit import AuditContext
from bankcrm.outbox import Outbox, SendError
from customers.ingest import signing
from customers.models.integration import OutboundDelivery, OutboundEvent, Subscriber, new_secret

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


def _send(delivery: OutboundDelivery, key: str) -> dict:
    """POST the event to the subscriber, `key` (the event id) in EVENT_ID_HEADER; a 2xx
    answer is a delivery, anything else (a redirect too) a failure."""
    subscriber = delivery.subscriber
    if not subscriber.url.startswith(("https://", "http://")):
        raise SendError("delivery URL is not http(s)", last_status_code=None)
    body = _body(delivery.event)
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: key,
        **signing.headers(subscriber.secret, SENDER, body),
    }
    request = urllib.request.Request(subscriber.url, body, headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code}", last_status_code=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}", last_status_code=None) from exc
    if not 200 <= status < 300:
        raise SendError(f"HTTP {status}", last_status_code=status)
    return {"last_status_code": status}


DELIVERIES = Outbox(
    name="outbound",
    model=OutboundDelivery,
    send=_send,
    key=lambda delivery: str(delivery.event.event_id),
    done=OutboundDelivery.Status.DELIVERED,
    given_up=OutboundDelivery.Status.DEAD,
    max_attempts=MAX_ATTEMPTS,
    lease=LEASE,
    send_timeout=timedelta(seconds=TIMEOUT),
    done_at="delivered_at",
    related=("event", "subscriber"),
)


def outbound_dispatch(*, limit: int = 100) -> dict:
    """Send what is due (one claimed batch); returns counts by outcome."""
    return DELIVERIES.dispatch(limit=limit)


def subscriber_rotate_secret(*, subscriber: Subscriber) -> str:
    """A new signing secret for the subscriber, in force at once (the receiver must switch
    with it); returns it, to be handed over once. The change is audited (without it)."""
    subscriber.secret = new_secret()
    subscriber.save(update_fields=["secret"])
    return subscriber.secret


def outbound_retry(*, delivery_ids, actor, context: AuditContext) -> int:
    """An admin sends given-up (dead) deliveries again now, with a fresh count; the
    data-change trail records each one put back, with who did it."""
    return DELIVERIES.requeue(delivery_ids, actor=actor, context=context)


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
