"""Delivery receipts from a message gateway: `message.receipt` events through the real
ingest path (signed, stored, applied by the inbox worker), counted on the campaign page;
replays and older receipts change nothing; an unknown key is parked, not lost."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from customers.ingest import signing
from customers.ingest.services import inbox_process
from customers.models.integration import InboxEvent, IntegrationSource
from marketing import selectors, sending
from marketing.models import Delivery
from tests import factories
from tests.marketing.conftest import consent, segment, tree
from tests.marketing.test_campaigns import NOON, approved, launch, make_campaign

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def gateway(db):
    return IntegrationSource.objects.create(code="smsgw", name="短信网关", kind="payments")


@pytest.fixture
def sent(branch, rm, marketing_manager):
    """A campaign of the RM's to two customers, both sent through the file provider."""
    for n in range(2):
        consent(factories.customer(branch=branch, rm=rm, cif=f"RCPT{n}"))
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(rm, segment(rm, tree())), marketing_manager)
        launch(campaign, rm)
        assert sending.dispatch_all()["sent"] == 2
    return campaign, list(
        Delivery.objects.filter(campaign=campaign).order_by("pk").values_list(
            "idempotency_key", flat=True)
    )  # fmt: skip


def receipt(seq, key, status="delivered", *, at=NOON + timedelta(minutes=1), detail=""):
    return {
        "event_id": f"gw-{seq}", "sequence": seq, "type": "message.receipt",
        "occurred_at": at.isoformat(), "data": {"key": key, "status": status, "detail": detail},
    }  # fmt: skip


def push(client, source, *events):
    body = json.dumps({"events": list(events)}).encode()
    response = client.post(
        "/api/v1/events/batch", body, content_type="application/json",
        headers=signing.headers(source.secret, source.code, body),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["rejected"] == 0, response.json()
    while inbox_process():
        pass


def states(campaign):
    return list(
        Delivery.objects.filter(campaign=campaign).order_by("pk")
        .values_list("status", "receipt", "receipt_detail")
    )  # fmt: skip


def test_receipts_are_recorded_and_counted_on_the_campaign_page(client, gateway, sent, rm):
    campaign, (first, second) = sent
    assert selectors.progress(campaign).delivered == 0  # sent is not delivered
    push(client, gateway, receipt(1, first), receipt(2, second, "undelivered", detail="UNDELIV"))
    assert states(campaign) == [
        ("sent", "delivered", ""), ("sent", "undelivered", "UNDELIV"),
    ]  # fmt: skip
    figures = selectors.progress(campaign)
    assert (figures.by_status["sent"], figures.delivered, figures.undelivered) == (2, 1, 1)
    client.force_login(rm)
    page = client.get(reverse("marketing:campaign-progress", args=[campaign.pk]), **HTMX)
    html = page.content.decode()
    assert 'data-testid="delivered-count">1<' in html
    assert 'data-testid="undelivered-count">1<' in html


def test_a_replay_or_an_older_receipt_changes_nothing_a_newer_one_does(client, gateway, sent):
    campaign, (first, _second) = sent
    push(client, gateway, receipt(1, first, "undelivered", detail="BUSY"))
    push(client, gateway, receipt(1, first, "undelivered", detail="BUSY"))  # the same again
    push(client, gateway, receipt(2, first, "delivered", at=NOON))  # older than the first
    assert states(campaign)[0] == ("sent", "undelivered", "BUSY")
    push(client, gateway, receipt(3, first, "delivered", at=NOON + timedelta(minutes=5)))
    assert states(campaign)[0] == ("sent", "delivered", "")
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}


def test_a_receipt_before_the_row_is_settled_stands(client, gateway, branch, rm,
                                                    marketing_manager):  # fmt: skip
    """A fast gateway answers before the sending worker has marked its row sent."""
    consent(factories.customer(branch=branch, rm=rm, cif="FAST"))
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(rm, segment(rm, tree())), marketing_manager)
        launch(campaign, rm)
    key = Delivery.objects.get(campaign=campaign).idempotency_key
    push(client, gateway, receipt(1, key))
    with time_machine.travel(NOON, tick=False):
        assert sending.dispatch_all()["sent"] == 1
    assert states(campaign) == [("sent", "delivered", "")]


def test_an_unknown_key_is_parked_and_a_bad_status_refused(client, gateway, sent):
    push(client, gateway, receipt(1, "mkt:c999:s999:999"))
    assert InboxEvent.objects.get().status == "parked"
    assert InboxEvent.objects.get().error == "unknown_message"
    body = json.dumps({"events": [receipt(2, sent[1][0], "read")]}).encode()
    response = client.post(
        "/api/v1/events/batch", body, content_type="application/json",
        headers=signing.headers(gateway.secret, gateway.code, body),
    )  # fmt: skip
    assert response.json()["rejected"] == 1
    assert states(sent[0])[0][1] == ""
