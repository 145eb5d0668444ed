"""Delivery receipts: what a message gateway reports after a send.

A gateway posts `message.receipt` events through the integration API (signed, stored once in
the inbox, applied by its worker; customers/ingest/schemas.py MessageReceipt), naming the
message by the idempotency key it was sent with. Applying one is a single conditional
UPDATE: the receipt stands unless a newer one (by the event's time) is already recorded, so
a replay or a late, older receipt changes nothing, and two workers applying receipts of one
message at once leave the newest. A receipt may arrive before the worker that sent the
message has settled its row (a fast gateway): it is recorded all the same, and the row's
settling does not touch it. A key the CRM never sent parks the event for an admin.

The campaign page counts delivered and not delivered among the sent (marketing/selectors.py).
"""

from django.db.models import Q

from customers.ingest.services import ParkedError
from marketing.models import Delivery


def receipt_record(*, key: str, status: str, at, detail: str = "") -> bool:
    """Record a receipt; False when a newer one stands (or the message is unknown)."""
    return bool(
        Delivery.objects.filter(
            idempotency_key=key, status__in=[Delivery.Status.PENDING, Delivery.Status.SENT]
        )
        .filter(Q(receipt_at__isnull=True) | Q(receipt_at__lt=at))
        .update(receipt=status, receipt_at=at, receipt_detail=detail)
    )


def apply_message_receipt(event, batch) -> None:
    """The inbox worker's handler of `message.receipt` (bankcrm.registry.EVENT_HANDLERS)."""
    data = event.payload
    if receipt_record(key=data["key"], status=data["status"], at=event.occurred_at,
                      detail=data.get("detail", "")):  # fmt: skip
        return
    if not Delivery.objects.filter(idempotency_key=data["key"]).exists():
        raise ParkedError("unknown_message")
