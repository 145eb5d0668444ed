"""Tickets from the integration API: `service.request` events from the app and web site."""

from customers.ingest.services import customer_id_for
from customers.models import Customer
from service.models import Ticket
from service.services import ticket_open


def apply_service_request(event, batch) -> None:
    """Opens the ticket once: a request id already seen on its channel is a no-op (the
    unique constraint on channel + reference holds it even if this check races)."""
    data = event.payload
    if Ticket.objects.filter(channel=data["channel"], external_ref=data["request_id"]).exists():
        return
    customer = Customer.objects.get(pk=customer_id_for(batch, event))
    ticket_open(
        actor=None,
        customer=customer,
        subject=data["subject"],
        description=data.get("description", ""),
        channel=data["channel"],
        category=data["category"],
        external_ref=data["request_id"],
    )
