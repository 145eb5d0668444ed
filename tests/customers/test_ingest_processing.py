"""Applying inbox events: exactly once, order-independent, parked when unmapped, gaps
detected and closed from the source's feed."""

import hashlib
import json
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from bankcrm import registry
from bankcrm.audit import SYSTEM
from customers import simulator
from customers.ingest import resync
from customers.ingest.services import (
    inbox_process,
    inbox_replay,
    inbox_store,
    product_view_subject,
    source_advance_cursor,
    source_gaps,
)
from customers.models import Account, Customer, ExternalIdentity, Interaction, Transaction
from customers.models.integration import InboxEvent, IntegrationSource
from tests import factories
from tests.concurrency import in_threads

pytestmark = pytest.mark.django_db

ACCOUNT_A, ACCOUNT_B = "6222020200000000001", "6222020200000000002"


@pytest.fixture
def source(db):
    return IntegrationSource.objects.create(code="core", name="Core", kind="core_banking")


@pytest.fixture
def book(branch, rm):
    """Two customers known to core banking, with one account each."""
    alice = factories.customer(branch=branch, rm=rm, mobile="+8613900000001")
    bob = factories.customer(branch=branch, rm=rm, mobile="+8613900000002")
    for customer, ref in ((alice, "C-ALICE"), (bob, "C-BOB")):
        ExternalIdentity.objects.create(source="core", external_id=ref, customer=customer)
    factories.account(alice, number=ACCOUNT_A, balance=Decimal("100.00"))
    factories.account(bob, number=ACCOUNT_B, balance=Decimal("200.00"))
    return alice, bob


def tx(seq, account=ACCOUNT_A, amount="10.00", balance_after=None, **data):
    body = {
        "event_id": f"e{seq}",
        "sequence": seq,
        "type": "transaction.posted",
        "occurred_at": f"2026-11-23T10:{seq % 60:02d}:00+08:00",
        "data": {
            "account_number": account,
            "transaction_id": f"T{seq}",
            "amount": amount,
            "currency": "CNY",
            "direction": "credit",
            "channel": "mobile",
            "kind": "transfer_in",
            **data,
        },
    }
    if balance_after is not None:
        body["data"]["balance_after"] = balance_after
    return body


def other(seq, type_, data):
    return {
        "event_id": f"e{seq}",
        "sequence": seq,
        "type": type_,
        "occurred_at": "2026-11-23T11:00:00+08:00",
        "data": data,
    }


def store(source, events):
    outcomes = inbox_store(source=source, events=events)
    assert all(o.accepted for o in outcomes), [o.errors for o in outcomes if not o.accepted]


def drain():
    while inbox_process(limit=7):
        pass


def test_a_transaction_event_books_the_transaction_and_the_balance(source, book):
    alice, _bob = book
    store(source, [tx(1, amount="25.50", balance_after="125.50", counterparty="张三丰")])
    drain()
    booked = Transaction.objects.get()
    assert (booked.customer, booked.amount, booked.source, booked.external_id) == (
        alice, Decimal("25.50"), "core", "T1",
    )  # fmt: skip
    assert booked.counterparty_masked != "张三丰" and booked.counterparty_masked.startswith("张")
    account = Account.objects.get(customer=alice)
    assert (account.balance, account.balance_sequence) == (Decimal("125.50"), 1)
    assert InboxEvent.objects.get().status == "applied"


def test_unknown_accounts_and_customers_are_parked_then_replayed(source, book, branch):
    store(
        source,
        [
            tx(1, account="6222999999999999999"),
            other(2, "app.activity", {"customer_ref": "C-NEW", "action": "login"}),
        ],
    )
    drain()
    parked = list(InboxEvent.objects.order_by("sequence"))
    assert [(e.status, e.error) for e in parked] == [
        ("parked", "unknown_account"), ("parked", "unknown_customer"),
    ]  # fmt: skip
    assert not Transaction.objects.exists()
    # An admin maps the customer and opens the account, then replays.
    newcomer = factories.customer(branch=branch)
    ExternalIdentity.objects.create(source="core", external_id="C-NEW", customer=newcomer)
    factories.account(newcomer, number="6222999999999999999")
    assert inbox_replay(event_ids=[e.pk for e in parked], actor=None, context=SYSTEM) == 2
    drain()
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}
    assert Transaction.objects.get().customer == newcomer
    assert Interaction.objects.get(customer=newcomer).channel == "app"


def test_an_app_product_view_records_the_products_code(source, book):
    """The product an app view was of is kept by its catalogue code (what marketing's
    product-interest journey counts by); the subject names it as the app did, or as the
    catalogue does; a `product` that is a catalogue code stands for the code."""
    alice, _bob = book
    factories.product(code="FD-CSI300", name_zh="沪深300指数基金")
    views = [
        {"product_code": "FD-CSI300", "product": "沪深300定投"},  # code and the app's name
        {"product_code": "FD-CSI300"},  # code only: the catalogue's name
        {"product": "FD-CSI300"},  # a catalogue code in `product`
        {"product_code": "NEW-1"},  # not in the catalogue (yet): kept as sent
        {"product": "热门理财"},  # a name only: no code
    ]
    store(source, [
        other(n, "app.activity", {"customer_ref": "C-ALICE", "action": "product_view", **data})
        for n, data in enumerate(views, start=1)
    ])  # fmt: skip
    drain()
    prefix = product_view_subject("")
    recorded = [
        (i.product_code, i.subject.removeprefix(prefix))
        for i in Interaction.objects.filter(customer=alice).order_by("pk")
    ]
    assert recorded == [
        ("FD-CSI300", "沪深300定投"),
        ("FD-CSI300", "沪深300指数基金"),
        ("FD-CSI300", "沪深300指数基金"),
        ("NEW-1", "NEW-1"),
        ("", "热门理财"),
    ]
    refused = inbox_store(source=source, events=[other(
        9, "app.activity",
        {"customer_ref": "C-ALICE", "action": "product_view", "product_code": "基金 1"},
    )])  # fmt: skip
    assert refused[0].status == 422  # a code is letters, digits, dots and dashes


def test_a_failing_event_is_retried_then_marked_failed(source, book, monkeypatch):
    from customers.ingest import services

    def broken(event, batch):
        raise RuntimeError("core said nonsense")

    monkeypatch.setitem(registry.EVENT_HANDLERS.by_key, "balance.changed", broken)
    store(
        source,
        [
            other(
                1,
                "balance.changed",
                {"account_number": ACCOUNT_A, "balance": "1.00", "currency": "CNY"},
            )
        ],
    )
    for _ in range(services.MAX_ATTEMPTS):
        inbox_process()
    event = InboxEvent.objects.get()
    assert (event.status, event.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert event.error == "RuntimeError"  # messages may quote the values: never kept


# ---- one bad event does not hold up the rest ---------------------------------------------


def bypassing_the_api(source, seq, type_, payload) -> InboxEvent:
    """An event stored without the API's checks (by SQL, an older version, a bug)."""
    return InboxEvent.objects.create(
        source=source,
        event_id=f"raw-{seq}",
        sequence=seq,
        event_type=type_,
        occurred_at=timezone.now(),
        payload=payload,
        body_digest="-",
    )


def test_a_poison_event_fails_alone_and_the_rest_flow_on(source, book, monkeypatch, caplog):
    """A NUL in a customer reference broke the batch's lookup query, so every run of
    process_inbox and sweep_inbox raised DataError and no event of any source was applied."""
    from customers import tasks

    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    app = IntegrationSource.objects.create(code="app", name="App", kind="app")
    ExternalIdentity.objects.create(source="app", external_id="U-BOB", customer=book[1])
    poison = bypassing_the_api(
        source, 1, "app.activity", {"customer_ref": "C-\x00ALICE-4401", "action": "login"}
    )
    store(source, [tx(2), other(3, "app.activity", {"customer_ref": "C-BOB", "action": "login"})])
    store(app, [other(1, "app.activity", {"customer_ref": "U-BOB", "action": "login"})])
    tasks.process_inbox()
    poison.refresh_from_db()
    assert (poison.status, poison.attempts) == ("failed", 1)  # refused values: at once
    assert poison.error == "DataError value not storable"
    assert InboxEvent.objects.filter(status="applied").count() == 3
    assert Transaction.objects.count() == 1

    # Another, in a transaction's text this time, met by the beat's sweep.
    bypassing_the_api(source, 4, "transaction.posted", {**tx(4)["data"], "kind": "a\x00b"})
    store(source, [tx(5)])
    tasks.sweep_inbox()
    assert dict(InboxEvent.objects.filter(source=source).values_list("sequence", "status")) == {
        1: "failed", 2: "applied", 3: "applied", 4: "failed", 5: "applied",
    }  # fmt: skip
    assert "ALICE-4401" not in caplog.text  # nor in the logs


def test_a_database_error_is_kept_without_the_values_it_quotes(source, book, monkeypatch, caplog):
    """PostgreSQL's messages quote the values (a unique violation's key, say): the inbox keeps
    the condition and the constraint, the log the code's path; neither the values."""

    def clashing(event, batch):  # maps a reference that is mapped already
        ref = event.payload["customer_ref"]
        ExternalIdentity.objects.create(source="core", external_id=ref, customer=book[0])

    monkeypatch.setitem(registry.EVENT_HANDLERS.by_key, "app.activity", clashing)
    store(
        source,
        [
            other(1, "app.activity", {"customer_ref": "C-ALICE", "action": "login"}),
            tx(2),
        ],
    )
    inbox_process()
    failed, applied = InboxEvent.objects.order_by("sequence")
    assert (failed.status, applied.status) == ("pending", "applied")  # a race may pass: again
    assert failed.error.startswith("IntegrityError UniqueViolation 23505 customers_externalid")
    assert "C-ALICE" not in failed.error
    assert "inbox.apply_failed" in caplog.text and "clashing" in caplog.text
    assert "C-ALICE" not in caplog.text


def _events():
    """A day of one source: transactions with running balances, a balance correction,
    master-data snapshots (the later one wins), app activity."""
    events, balance = [], Decimal("100.00")
    for seq in range(1, 41):
        if seq % 10 == 0:
            events.append(
                other(seq, "customer.updated", {
                    "customer_ref": "C-ALICE", "mobile": f"+86139000001{seq:02d}",
                    "email": f"alice{seq}@example.cn", "address": f"上海市{seq}号",
                })
            )  # fmt: skip
        elif seq % 7 == 0:
            events.append(other(seq, "app.activity", {"customer_ref": "C-BOB", "action": "login"}))
        elif seq == 33:
            events.append(
                other(
                    seq,
                    "balance.changed",
                    {"account_number": ACCOUNT_B, "balance": "999.99", "currency": "CNY"},
                )
            )
        else:
            balance += Decimal("10.00")
            events.append(tx(seq, balance_after=str(balance)))
    return events


def _state_checksum() -> str:
    state = {
        "tx": sorted(
            Transaction.objects.values_list("external_id", "amount", "booked_at", "customer_id")
        ),
        "balances": sorted(Account.objects.values_list("number_masked", "balance")),
        "contacts": [(c.pk, c.mobile, c.email, c.address) for c in Customer.objects.order_by("pk")],
        "app": Interaction.objects.filter(channel="app").count(),
    }
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()


def _reset(book):
    Transaction.objects.all().delete()
    Interaction.objects.all().delete()
    InboxEvent.objects.all().delete()
    Account.objects.filter(number_masked__endswith="0001").update(
        balance=Decimal("100.00"), balance_sequence=None
    )
    Account.objects.filter(number_masked__endswith="0002").update(
        balance=Decimal("200.00"), balance_sequence=None
    )
    ExternalIdentity.objects.update(last_sequence=0)
    Customer.objects.filter(pk=book[0].pk).update(email=None, address=None)


def test_replayed_and_shuffled_delivery_gives_the_in_order_state(source, book):
    events = _events()
    store(source, events)
    drain()
    in_order = _state_checksum()
    alice = Customer.objects.get(pk=book[0].pk)
    assert (alice.mobile, alice.email) == ("+8613900000140", "alice40@example.cn")
    assert Account.objects.get(number_masked__endswith="0002").balance == Decimal("999.99")

    for seed in (1, 2, 3):
        _reset(book)
        shuffled = events * 2  # every event delivered twice
        random.Random(seed).shuffle(shuffled)
        for start in range(0, len(shuffled), 9):  # in several batches, processed in between
            store(source, shuffled[start : start + 9])
            inbox_process(limit=5)
        drain()
        assert _state_checksum() == in_order, f"seed {seed}"
        assert Transaction.objects.count() == 30


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_apply_each_event_once(source, book):
    store(source, [tx(seq, amount="1.00") for seq in range(1, 401)])

    def work():
        while inbox_process(limit=20):
            pass

    errors = in_threads(work, 4)
    assert not errors
    assert Transaction.objects.count() == 400
    assert InboxEvent.objects.filter(status="applied", attempts=1).count() == 400


# ---- gaps and resync ----------------------------------------------------------------------


def feed_of(source, events) -> simulator.Feed:
    """The source's event feed on a local port, as the simulator serves it."""
    journal = simulator.Journal()
    journal.extend(events)
    return simulator.Feed(journal, source.code, source.secret)


def test_gaps_are_detected_and_resync_closes_them_from_the_cursor(source, book, monkeypatch):
    monkeypatch.setattr(resync, "PAGE", 4)
    events = [tx(seq) for seq in range(1, 21)]
    lost = {4, 5, 6, 11, 19, 20}  # the CRM was cut off; 19-20 not even followed by others
    store(source, [e for e in events if e["sequence"] not in lost])
    assert source_advance_cursor(source=source) == 3
    source.refresh_from_db()
    assert source_gaps(source) == [(4, 6), (11, 11)]

    feed = feed_of(source, events)
    try:
        source.feed_url = feed.url
        source.save(update_fields=["feed_url"])
        result = resync.resync_source(source=source)
    finally:
        feed.close()
    assert feed.requests[0] == 3  # from the stored cursor
    assert result["cursor"] == 20
    source.refresh_from_db()
    assert source_gaps(source) == []
    assert sorted(InboxEvent.objects.values_list("sequence", flat=True)) == list(range(1, 21))
    drain()
    assert Transaction.objects.count() == 20  # none lost, none twice


def test_a_feed_with_a_bad_signature_is_refused(source, book):
    feed = feed_of(source, [tx(1)])
    try:
        source.feed_url = feed.url
        source.save(update_fields=["feed_url"])
        feed.secret = "someone-else"  # checks and signs with the wrong secret
        with pytest.raises(resync.ResyncError):
            resync.resync_source(source=source)
    finally:
        feed.close()
    assert not InboxEvent.objects.exists()


def test_stale_master_data_never_overwrites_newer(source, book):
    newer = other(5, "customer.updated", {"customer_ref": "C-ALICE", "mobile": "+8613911111111"})
    older = other(3, "customer.updated", {"customer_ref": "C-ALICE", "mobile": "+8613922222222"})
    store(source, [newer])
    drain()
    store(source, [older])
    drain()
    assert Customer.objects.get(pk=book[0].pk).mobile == "+8613911111111"
    # Both are applied: the older one as a no-op.
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}
    # The audit trail says which system changed the mobile, with its event id.
    from compliance.models import DataChange

    (change,) = DataChange.objects.filter(customer_id=book[0].pk, op="U")
    assert change.actor_label == f"source:{source.code}"
    assert change.request_id == f"event:{newer['event_id']}"


def test_a_worker_looks_again_after_applying_but_not_for_an_empty_kick(source, book, monkeypatch):
    from customers import tasks

    naps = []
    monkeypatch.setattr(tasks.time, "sleep", naps.append)
    assert tasks.process_inbox() == 0
    assert naps == []  # a stale kick, or one whose events another worker took: no waiting
    store(source, [tx(1)])
    assert tasks.process_inbox() == 1
    assert naps == [tasks.IDLE_LINGER]  # then once more, for events stored meanwhile


def test_a_feed_answer_nested_too_deep_is_a_resync_error(source, monkeypatch):
    """json.loads raised RecursionError, which the sweep does not catch: the sources after
    this one in its loop were not resynced."""
    import io

    from customers.ingest import signing

    body = b"[" * 10_000 + b"]" * 10_000
    answer = io.BytesIO(body)
    answer.headers = signing.headers(source.secret, source.code, body)
    monkeypatch.setattr(resync.urllib.request, "urlopen", lambda request, timeout: answer)
    source.feed_url = "https://core.example.cn/feed"
    source.save(update_fields=["feed_url"])
    with pytest.raises(resync.ResyncError):
        resync.resync_source(source=source)
