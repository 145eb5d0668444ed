"""Outbound events: published in the changing transaction by every path, delivered signed
to each subscriber at least once with back-off, given up on and retried from admin."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone

from compliance.models import DataChange
from customers import services
from customers.ingest import outbound, signing
from customers.models import Customer, ExternalIdentity
from customers.models.integration import OutboundDelivery, OutboundEvent, Subscriber
from customers.tasks import dispatch_outbound, publish_kyc_expiries
from tests import factories
from tests.concurrency import in_threads

pytestmark = pytest.mark.django_db


class Receiver:
    """A subscriber's endpoint: answers the queued statuses in turn (then 200), keeps what
    it was sent, and checks our signature with its secret."""

    def __init__(self, secret: str, statuses=()):
        self.secret, self.statuses, self.received = secret, list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signing.verify(
                    [receiver.secret], outbound.SENDER,
                    self.headers[signing.TIMESTAMP_HEADER], body,
                    self.headers[signing.SIGNATURE_HEADER],
                )  # fmt: skip
                receiver.received.append((self.headers[outbound.EVENT_ID_HEADER], body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver("receiver-secret")
    yield r
    r.close()


@pytest.fixture
def marketing(receiver):
    return Subscriber.objects.create(
        code="marketing", name="Marketing platform", url=receiver.url, secret=receiver.secret,
        event_types=["customer.tier_changed", "consent.withdrawn", "customer.kyc_expired"],
    )  # fmt: skip


@pytest.fixture
def customer(branch, rm):
    c = factories.customer(branch=branch, rm=rm, tier=Customer.Tier.MASS)
    ExternalIdentity.objects.create(source="core", external_id="C-1", customer=c)
    return c


def deliver_due(shift=timedelta(0)):
    """Run the dispatcher as beat would, `shift` later than now."""
    OutboundDelivery.objects.filter(status="pending").update(
        next_attempt_at=timezone.now() - shift if shift else timezone.now()
    )
    return outbound.outbound_dispatch()


def test_a_tier_change_by_any_path_is_published_and_delivered_signed(marketing, customer, receiver):
    Subscriber.objects.create(code="cards", name="Cards", url=receiver.url,
                              event_types=["consent.withdrawn"])  # fmt: skip
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.AFFLUENT)  # a bulk path
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.AFFLUENT)  # no change
    event = OutboundEvent.objects.get()
    assert event.event_type == "customer.tier_changed"
    assert event.payload == {
        "customer": {"cif": customer.cif, "external_ids": {"core": "C-1"}},
        "previous_tier": "mass",
        "tier": "affluent",
    }
    # Only the subscriber of this type gets a delivery.
    assert list(event.deliveries.values_list("subscriber__code", flat=True)) == ["marketing"]

    assert dispatch_outbound() == 1
    ((event_id, body),) = receiver.received
    sent = json.loads(body)
    assert event_id == sent["event_id"] == str(event.event_id)
    assert sent["type"] == "customer.tier_changed" and sent["data"]["tier"] == "affluent"
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_nothing_is_published_for_a_change_rolled_back(marketing, customer):
    with pytest.raises(RuntimeError), transaction.atomic():
        customer.tier = Customer.Tier.PRIVATE
        customer.save()
        raise RuntimeError
    assert not OutboundEvent.objects.exists()


def test_consent_withdrawals_are_published_and_grants_are_not(marketing, customer):
    for granted in (True, False):
        services.consent_record(actor=None, customer=customer, purpose="marketing",
                                channel="sms", granted=granted, source="branch")  # fmt: skip
    event = OutboundEvent.objects.get()
    assert event.event_type == "consent.withdrawn"
    assert event.payload["purpose"] == "marketing" and event.payload["channel"] == "sms"
    assert event.payload["customer"]["cif"] == customer.cif


def test_a_kyc_expiry_is_published_once_however_often_the_sweep_runs(marketing, customer):
    Customer.objects.filter(pk=customer.pk).update(
        kyc_expires_on=timezone.localdate() - timedelta(days=1)
    )
    assert publish_kyc_expiries() == 1
    assert publish_kyc_expiries() == 0
    event = OutboundEvent.objects.get()
    assert event.payload["kyc_expired_on"] == str(timezone.localdate() - timedelta(days=1))


def test_failures_are_retried_with_back_off_until_delivered(marketing, customer, receiver):
    receiver.statuses = [500, 503]
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.PRIVATE)
    delivery = OutboundDelivery.objects.get()

    assert outbound.outbound_dispatch() == {"delivered": 0, "retry": 1, "dead": 0}
    delivery.refresh_from_db()
    first_wait = delivery.next_attempt_at - timezone.now()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    assert timedelta(seconds=20) < first_wait < timedelta(seconds=40)
    assert outbound.outbound_dispatch() == {"delivered": 0, "retry": 0, "dead": 0}  # not due

    assert deliver_due()["retry"] == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - timezone.now() > first_wait  # backs off further
    assert deliver_due()["delivered"] == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    # The same event id each time: the receiver drops the repeats it already has.
    assert {event_id for event_id, _ in receiver.received} == {str(delivery.event.event_id)}
    assert len(receiver.received) == 3


def test_a_redirect_is_not_a_delivery(marketing, customer, receiver):
    receiver.statuses = [302]
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.PRIVATE)
    assert outbound.outbound_dispatch()["retry"] == 1
    assert OutboundDelivery.objects.get().last_status_code == 302


def test_an_unreachable_subscriber_is_given_up_on_then_retried_from_admin(
    marketing, customer, receiver, client, login, admin_user
):
    receiver.close()  # nobody listens
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.PRIVATE)
    for _ in range(outbound.MAX_ATTEMPTS):
        deliver_due()
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", outbound.MAX_ATTEMPTS)
    assert "ConnectionRefused" in delivery.last_error or "URLError" in delivery.last_error

    back = Receiver(receiver.secret)
    try:
        Subscriber.objects.filter(pk=marketing.pk).update(url=back.url)
        login(admin_user)
        response = client.post(
            "/admin/customers/outbounddelivery/",
            {"action": "retry", "_selected_action": [delivery.pk]},
        )
        assert response.status_code == 302
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        audit = DataChange.objects.get(
            table_name="customers_outbounddelivery", actor_id=admin_user.pk
        )
        assert audit.changes["status"] == ["dead", "pending"]
        status = client.get("/admin/customers/integrationsource/status/").content.decode()
        assert 'data-testid="outbound-status"' in status and "Marketing platform" in status
        assert outbound.outbound_state()[0][1]["pending"] == 1
        assert outbound.outbound_dispatch()["delivered"] == 1
    finally:
        back.close()
    assert len(back.received) == 1
    ((_subscriber, state),) = outbound.outbound_state()
    assert state == {"pending": 0, "oldest_pending": None, "dead": 0, "delivered_last_hour": 1}


def test_a_dispatcher_that_dies_mid_send_leaves_the_delivery_to_be_sent_again(
    marketing, customer, receiver, monkeypatch
):
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.PRIVATE)

    def crash(delivery, key):
        outbound._send(delivery, key)  # the receiver got it, but we never heard back
        raise SystemExit("worker killed")

    monkeypatch.setattr(outbound.DELIVERIES, "send", crash)
    with pytest.raises(SystemExit):
        outbound.outbound_dispatch()
    monkeypatch.setattr(outbound.DELIVERIES, "send", outbound._send)
    # Claimed under a lease: nobody sends it again until the lease runs out ...
    assert outbound.outbound_dispatch() == {"delivered": 0, "retry": 0, "dead": 0}
    # ... then it is sent again, under the same event id (at least once).
    assert deliver_due()["delivered"] == 1
    assert [e for e, _ in receiver.received] == [str(OutboundEvent.objects.get().event_id)] * 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_never_send_a_delivery_twice(marketing, branch, rm, receiver):
    people = [factories.customer(branch=branch, rm=rm) for _ in range(30)]
    Customer.objects.filter(pk__in=[p.pk for p in people]).update(tier=Customer.Tier.PRIVATE)
    assert OutboundDelivery.objects.count() == 30

    def work():
        while sum(outbound.outbound_dispatch(limit=3).values()):
            pass

    assert in_threads(work, 4) == []
    assert OutboundDelivery.objects.filter(status="delivered").count() == 30
    assert len(receiver.received) == 30


def test_a_rotated_subscriber_secret_signs_from_then_on_and_is_never_audited(
    marketing, customer, receiver
):
    old = marketing.secret
    new = outbound.subscriber_rotate_secret(subscriber=marketing)
    assert new != old
    receiver.secret = new  # the receiver checks with the new one
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.PRIVATE)
    assert outbound.outbound_dispatch()["delivered"] == 1
    entries = DataChange.objects.filter(table_name="customers_subscriber", row_pk=str(marketing.pk))
    assert entries.filter(op="U", changes__secret=["***", "***"]).exists()
    assert all(old not in str(e.changes) and new not in str(e.changes) for e in entries)


def test_a_dispatcher_stops_sending_when_its_claim_runs_out(
    marketing, customer, receiver, monkeypatch
):
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.PRIVATE)
    # A lease no longer than one send's timeout: nothing may be sent under it.
    monkeypatch.setattr(outbound.DELIVERIES, "lease", timedelta(seconds=outbound.TIMEOUT))
    assert outbound.outbound_dispatch() == {"delivered": 0, "retry": 0, "dead": 0}
    assert receiver.received == []
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)  # claimed again later
