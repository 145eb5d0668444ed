"""Tickets from the app and web channels through the integration API."""

import json

import pytest

from customers.ingest import signing
from customers.ingest.services import inbox_process
from customers.models import ExternalIdentity
from customers.models.integration import InboxEvent, IntegrationSource
from service.models import Notification, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def app_source(db):
    return IntegrationSource.objects.create(code="app", name="手机银行", kind="app")


def request_event(seq, request_id="REQ-1", ref="U-1", **data):
    return {
        "event_id": f"app-{seq}",
        "sequence": seq,
        "type": "service.request",
        "occurred_at": "2026-11-23T10:00:00+08:00",
        "data": {
            "customer_ref": ref,
            "request_id": request_id,
            "channel": "app",
            "category": "card_fraud",
            "subject": "我的卡被盗刷了",
            "description": "凌晨有三笔境外消费",
            **data,
        },
    }


def push(client, source, event):
    body = json.dumps(event).encode()
    return client.post(
        "/api/v1/events",
        body,
        content_type="application/json",
        headers=signing.headers(source.secret, source.code, body),
    )


def test_an_app_request_opens_one_routed_ticket(client, app_source, desk, customer):
    ExternalIdentity.objects.create(source="app", external_id="U-1", customer=customer)
    assert push(client, app_source, request_event(1)).status_code == 202
    # The app sends the same request again under a new event id (a retry on its side).
    assert push(client, app_source, request_event(2)).status_code == 202
    while inbox_process():
        pass
    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.channel, ticket.external_ref) == (customer, "app", "REQ-1")
    assert (ticket.priority, ticket.queue) == ("P1", desk["fraud"])
    assert ticket.created_by is None and ticket.description == "凌晨有三笔境外消费"
    assert Notification.objects.filter(ticket=ticket).count() == 1  # the confirmation
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}


def test_a_request_from_an_unknown_customer_is_parked_not_lost(client, app_source, desk):
    push(client, app_source, request_event(1, ref="U-404"))
    inbox_process()
    event = InboxEvent.objects.get()
    assert event.status == "parked" and event.error == "unknown_customer"
    assert not Ticket.objects.exists()


def test_a_request_with_an_unknown_category_is_refused_with_the_field(client, app_source):
    response = push(client, app_source, request_event(1, category="lottery"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "data.category"


def test_the_api_categories_are_the_desks_categories():
    from typing import get_args

    from customers.ingest.schemas import ServiceRequested
    from service.models import Category

    annotation = ServiceRequested.model_fields["category"].annotation
    assert set(get_args(annotation)) == set(Category.values)
