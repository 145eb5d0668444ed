"""Today's snapshot from the changes since its last run (analytics.kpi.kpi_refresh): after
any change the rows are those of a whole rebuild of the same day, only the touched slices
are rewritten, and a run with nothing to apply writes nothing. The changes are made the way
the integration and the services write them (ORM saves, `update()`), which the database
triggers see alike."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import kpi
from analytics.kpi import kpi_refresh, kpi_snapshot
from analytics.models import (
    CustomerValue,
    KpiBalanceDay,
    KpiCampaignDay,
    KpiChange,
    KpiCustomerDay,
    KpiQueueDay,
    KpiRun,
    KpiTierMoveDay,
    KpiWatchList,
    ValuePolicy,
)
from bankcrm.roles import Role
from customers.models import Account, Customer
from marketing.models import Delivery
from service.models import Survey, Ticket
from tests import factories
from tests.analytics.helpers import transaction
from tests.analytics.kpi_world import D, at, build

pytestmark = pytest.mark.django_db

SNAPSHOTS = (KpiBalanceDay, KpiCustomerDay, KpiTierMoveDay, KpiQueueDay, KpiCampaignDay)


@pytest.fixture(autouse=True)
def slices_whatever_their_share(monkeypatch):
    """In a bank of five customers any change touches more than a third of them, past which
    a refresh rebuilds (REBUILD_SHARE): these tests are about applying the changes."""
    monkeypatch.setattr(kpi, "REBUILD_SHARE", 1.0)


@pytest.fixture
def world(branch, other_branch, rm, other_rm, marketing_manager):
    approver = factories.user(Role.MARKETING_MANAGER, branch=branch, username="approver")
    return build(branch, other_branch, rm, other_rm, marketing_manager, approver)


def figures() -> dict:
    """Every snapshot row of every table, all columns but the id, and the watch lists."""
    out = {}
    for model in (*SNAPSHOTS, KpiWatchList):
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        out[model.__name__] = sorted(model.objects.values_list(*fields), key=str)
    return out


def row_ids() -> dict:
    return {model.__name__: set(model.objects.values_list("id", flat=True)) for model in SNAPSHOTS}


def rebuilt() -> dict:
    kpi_snapshot(D)
    return figures()


def test_a_transaction_an_account_and_a_closed_customer_give_the_rebuilds_rows(world):
    first = kpi_refresh(D)
    assert (first.mode, first.tracked) == (KpiRun.Mode.FULL, True)
    before = figures()
    c_rows = KpiBalanceDay.objects.filter(branch=world.sh, rm=world.other_rm)
    untouched = set(c_rows.values_list("id", flat=True))

    b_current = Account.objects.get(customer=world.b)
    transaction(b_current, at(D, 14), 300, direction="credit", adjust_balance=True)
    factories.account(world.e, kind=Account.Kind.TIME_DEPOSIT, balance=Decimal("8000.00"),
                      opened_on=D)  # fmt: skip
    world.a.lifecycle = Customer.Lifecycle.CLOSED
    world.a.save()

    run = kpi_refresh(D)
    assert run.mode == KpiRun.Mode.CHANGES
    assert run.changes >= 3
    # B's and A's slice (SH, rm: affluent and mass), E's (BJ, bj_rm, mass): not C's.
    assert run.rows["slices"] == 3
    after = figures()
    assert after != before
    assert set(c_rows.values_list("id", flat=True)) == untouched  # C's rows not rewritten
    assert after == rebuilt()
    b_row = KpiCustomerDay.objects.get(day=D, level=0, rm=world.rm, tier="mass")
    assert (b_row.transacting, b_row.retained) == (1, 1)  # B transacts again on D
    assert not KpiChange.objects.exists()


def _move_to_another_rm(world):
    Customer.objects.filter(pk=world.a.pk).update(primary_rm=world.other_rm)


def _move_to_another_branch(world):
    Customer.objects.filter(pk=world.b.pk).update(branch=world.bj, primary_rm=world.bj_rm)


def _new_tier(world):
    world.b.tier = Customer.Tier.AFFLUENT
    world.b.save()


def _balance_only(world):
    # What a balance.changed event from core banking does: no transaction, no trail entry.
    Account.objects.filter(customer=world.e).update(balance=Decimal("6500.00"))


def _loan_overdue(world):
    Account.objects.filter(customer=world.a, kind=Account.Kind.LOAN).update(overdue_days=95)


def _account_closed(world):
    Account.objects.filter(customer=world.b).update(status=Account.Status.CLOSED)


def _new_customer(world):
    c = factories.customer(branch=world.bj, rm=world.bj_rm, name="庚", tier="mass")
    Customer.objects.filter(pk=c.pk).update(created_at=at(D, 11))
    factories.account(c, balance=Decimal("700.00"), opened_on=D)


def _ticket_opened_and_answered(world):
    ticket = factories.ticket(world.e, queue=world.queue, created_at=at(D, 13),
                              resolved_at=at(D, 14), resolve_due_at=at(D, 13),
                              status=Ticket.Status.RESOLVED)  # fmt: skip
    Survey.objects.create(ticket=ticket, token_hash="e" * 64, score=2, answered_at=at(D, 15),
                          expires_at=at(D + timedelta(days=7)))  # fmt: skip


def _queue_renamed(world):
    world.queue.name = "KPI 队列二"
    world.queue.save()


def _delivery_converted(world):
    Delivery.objects.filter(customer=world.b).update(converted_at=at(D, 17))


def _revenue_per_conversion(world):
    world.campaign.revenue_per_conversion = Decimal(1000)
    world.campaign.save()


def _value_changed(world):
    CustomerValue.objects.create(
        customer=world.b, computed_on=D + timedelta(days=1), aum=Decimal(2000), stickiness=0.1,
        risk_factor=1.0, value_score=Decimal(2000), tier="affluent",
        tier_since=D + timedelta(days=1), previous_tier="mass", margin_per_year=Decimal(10),
        churn_probability=0.9, clv=Decimal(100),
    )  # fmt: skip


def _policy_changed(world):
    policy = ValuePolicy.current()
    policy.high_churn = Decimal("0.5")  # A (0.45) leaves the churn list
    policy.save()


@pytest.mark.parametrize(
    "change",
    [_move_to_another_rm, _move_to_another_branch, _new_tier, _balance_only, _loan_overdue,
     _account_closed, _new_customer, _ticket_opened_and_answered, _queue_renamed,
     _delivery_converted, _revenue_per_conversion, _value_changed, _policy_changed],
    ids=lambda change: change.__name__.strip("_"),
)  # fmt: skip
def test_each_kind_of_change_gives_the_rebuilds_rows(world, change):
    kpi_refresh(D)
    before = figures()
    change(world)
    run = kpi_refresh(D)
    assert run.mode == KpiRun.Mode.CHANGES
    after = figures()
    assert after != before, "the change should move a figure (else this proves nothing)"
    assert after == rebuilt()


def test_a_move_recomputes_the_slice_left(world):
    """A moves from rm to other_rm: rm's affluent rows must lose A, though A is not there
    any more for the run to find (the customer trigger records where A was)."""
    kpi_refresh(D)
    _move_to_another_rm(world)
    run = kpi_refresh(D)
    assert not KpiBalanceDay.objects.filter(day=D, level=0, rm=world.rm, tier="affluent").exists()
    # Filed by RM: the campaign figures and tier moves; the watch lists are by branch.
    assert {"campaigns", "tier_moves"} <= set(run.rows) and "watch_lists" not in run.rows
    assert KpiBalanceDay.objects.get(day=D, level=0, rm=world.other_rm, tier="affluent",
                                     kind="wealth").balance == Decimal(50000)  # fmt: skip


def test_a_part_redone_whole_waits_in_one_row_however_many_statements(world):
    """A campaign's sending settles a delivery a statement: the first queues 'campaigns',
    the rest find it waiting (customers' changes keep a row each, as they must)."""
    kpi_refresh(D)
    deliveries = list(Delivery.objects.order_by("pk"))
    assert len(deliveries) >= 2
    for delivery in deliveries:
        Delivery.objects.filter(pk=delivery.pk).update(status="failed")
    assert list(KpiChange.objects.values_list("part", flat=True)) == ["campaigns"]
    figures_before = figures()
    kpi_refresh(D)
    assert not KpiChange.objects.exists() and figures() != figures_before
    assert figures() == rebuilt()


def test_nothing_changed_nothing_written(world):
    kpi_refresh(D)
    run = KpiRun.objects.get(day=D)
    ids, rows = row_ids(), figures()
    # Changes that move no figure: a name, a ticket's assignee, a delivery's attempts.
    Customer.objects.filter(pk=world.a.pk).update(name="甲乙")
    Ticket.objects.filter(customer=world.a).update(priority="P1")
    Delivery.objects.update(attempts=2)
    assert not KpiChange.objects.exists()
    with CaptureQueriesContext(connection) as queries:
        again = kpi_refresh(D)
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []  # the taking of the (empty) queue is a CTE: WITH … DELETE
    assert row_ids() == ids and figures() == rows
    again.refresh_from_db()
    assert (again.runs, again.finished_at, again.mode) == (run.runs, run.finished_at, run.mode)


def test_a_day_followed_only_from_its_own_full_run(world):
    """A rebuild that did not take the queue (a backfill) does not start following; taking
    the queue for another day stops this one's following (its changes went there)."""
    kpi_snapshot(D)
    assert not KpiRun.objects.get(day=D).tracked
    assert kpi_refresh(D).mode == KpiRun.Mode.FULL
    assert kpi_refresh(D + timedelta(days=1)).mode == KpiRun.Mode.FULL
    assert not KpiRun.objects.get(day=D).tracked
    _balance_only(world)
    assert kpi_refresh(D).mode == KpiRun.Mode.FULL
    assert figures() == rebuilt()


def test_changes_touching_much_of_the_bank_are_applied_by_a_rebuild(world, monkeypatch):
    monkeypatch.setattr(kpi, "REBUILD_SHARE", 1 / 3)  # (five customers: 1/5 is one)
    kpi_refresh(D)
    _loan_overdue(world)  # A's slice: 1 of SH and BJ's 4 customers at D
    assert kpi_refresh(D).mode == KpiRun.Mode.CHANGES
    _account_closed(world)  # B's
    _balance_only(world)  # and E's: 2 of 4
    run = kpi_refresh(D)
    assert (run.mode, run.changes) == (KpiRun.Mode.FULL, 2)
    assert "slices" not in run.rows
    assert figures() == rebuilt()


def test_beat_follows_today_and_rebuilds_yesterday(world):
    from django.utils import timezone

    from analytics import tasks

    today = timezone.localdate()
    tasks.kpi_snapshot_yesterday()
    runs = {run.day: run for run in KpiRun.objects.filter(day__gte=today - timedelta(days=1))}
    assert runs[today].tracked and not runs[today - timedelta(days=1)].tracked
    _balance_only(world)
    tasks.kpi_snapshot_today()
    assert KpiRun.objects.get(day=today).mode == KpiRun.Mode.CHANGES


def test_every_table_the_snapshot_reads_tells_it_of_its_changes():
    """A table added to the snapshot's SQL without a trigger feeding KpiChange would leave
    today's rows behind until the night (the value settings are read in Python)."""
    import re

    statements = " ".join(v for v in vars(kpi).values() if isinstance(v, str))
    read = set(re.findall(r"\b((?:customers|service|marketing|analytics)_[a-z]+)\b", statements))
    read = {t for t in read if not t.startswith("analytics_kpi")}
    read |= {"analytics_valuepolicy", "analytics_tierthreshold"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname LIKE 'analytics_kpi_%%'"
        )
        watched = {name for (name,) in cursor.fetchall()}
    assert "customers_transaction" in read and "marketing_campaignstep" in read
    assert read - watched == set()
