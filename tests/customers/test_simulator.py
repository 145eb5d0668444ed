"""The core-banking simulator against a running bankcrm: duplicate and reordered delivery,
an outage closed by resync from its feed, and the Berka replay."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from customers import simulator
from customers.ingest import resync
from customers.ingest.services import inbox_process
from customers.models import ExternalIdentity, Transaction
from customers.models.integration import InboxEvent, IntegrationSource
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "simulator-test-secret"


@pytest.fixture
def core(db):
    return IntegrationSource.objects.create(
        code="core", name="Core", kind="core_banking", secret=SECRET
    )


@pytest.fixture
def bank(branch, rm):
    """Ten customers as the demo seeds them: core-banking ref and first current account."""
    for i in range(10):
        customer = factories.customer(branch=branch, rm=rm)
        ExternalIdentity.objects.create(
            source="core", external_id=simulator.core_customer_ref(i), customer=customer
        )
        factories.account(customer, number=simulator.current_account_number(i))


def drain() -> None:
    while inbox_process():
        pass


def exact(journal: simulator.Journal) -> None:
    """The inbox holds each produced event once, and each transaction is booked once."""
    produced = journal.after(0, 100_000)
    stored = list(InboxEvent.objects.values_list("sequence", flat=True))
    assert sorted(stored) == [e["sequence"] for e in produced]
    drain()
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}
    posted = sorted(
        e["data"]["transaction_id"] for e in produced if e["type"] == "transaction.posted"
    )
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == posted


def test_the_command_delivers_with_duplicates_and_reordering(core, bank, live_server, tmp_path):
    out = io.StringIO()
    call_command(
        "simulate_core_banking", url=live_server.url, count=120, rate=0, duplicates=0.5,
        reorder=30, threads=4, customers=10, journal=str(tmp_path / "j.sqlite3"), stdout=out,
    )  # fmt: skip
    journal = simulator.Journal(tmp_path / "j.sqlite3")
    assert journal.count() == 120
    output = out.getvalue()
    assert "produced 120" in output and "rejected 0" in output, output
    exact(journal)


def test_an_outage_is_closed_by_resync_from_the_simulators_feed(core, bank, live_server):
    journal = simulator.Journal()
    stats = simulator.run(
        simulator.Plan(rate=200, seconds=1.5, threads=4, outage_at=0.4, outage_for=0.6),
        journal=journal, events=iter(simulator.Generator(10).next, None),
        base_url=live_server.url, source="core", secret=SECRET,
    )  # fmt: skip
    assert stats.failed > 0, "the outage lost nothing"
    assert InboxEvent.objects.count() == journal.count() - stats.failed
    feed = simulator.Feed(journal, "core", SECRET)
    try:
        IntegrationSource.objects.filter(pk=core.pk).update(feed_url=feed.url)
        core.refresh_from_db()
        result = resync.resync_source(source=core)
    finally:
        feed.close()
    assert result["cursor"] == journal.count()
    exact(journal)


BERKA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "berka"


@pytest.mark.skipif(not (BERKA / "trans.asc").exists(), reason="no Berka dataset")
def test_berka_transactions_map_to_the_berka_accounts():
    events = simulator.berka_events(BERKA)
    first = [next(events) for _ in range(50)]
    assert all(e[1]["account_number"].startswith("6230") and e[1]["currency"] == "CZK"
               for e in first)  # fmt: skip
    assert first[0][2] <= first[-1][2]  # in booking order
