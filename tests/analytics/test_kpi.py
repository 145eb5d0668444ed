"""The daily snapshot against figures worked out by hand (tests/analytics/kpi_world.py),
and a day rebuilt or backfilled twice giving the same rows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from analytics.kpi import kpi_snapshot
from analytics.models import (
    KpiBalanceDay,
    KpiCampaignDay,
    KpiCustomerDay,
    KpiQueueDay,
    KpiRun,
    KpiTierMoveDay,
)
from bankcrm.roles import Role
from tests import factories
from tests.analytics.kpi_world import D, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(branch, other_branch, rm, other_rm, marketing_manager):
    approver = factories.user(Role.MARKETING_MANAGER, branch=branch, username="approver")
    return build(branch, other_branch, rm, other_rm, marketing_manager, approver)


def balances(**where):
    return {
        (row.tier, row.kind): row
        for row in KpiBalanceDay.objects.filter(day=D, **where).order_by("tier", "kind")
    }


def table_rows():
    out = {}
    for model in (KpiBalanceDay, KpiCustomerDay, KpiTierMoveDay, KpiQueueDay, KpiCampaignDay):
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        out[model.__name__] = sorted(model.objects.values_list(*fields), key=str)
    return out


def test_balances_point_in_time_and_month_average(world):
    kpi_snapshot(D)
    rows = balances(level=0, branch=world.sh, rm=world.rm)
    current = rows[("affluent", "current")]
    assert current.balance == Decimal("10500.00")  # 10,000 less the flows after D
    assert current.balance_avg_month == Decimal("9300.00")  # (4 × 7,500 + 6 × 10,500) / 10
    assert (current.accounts, current.holders) == (1, 1)
    wealth = rows[("affluent", "wealth")]
    assert (wealth.balance, wealth.balance_avg_month) == (Decimal(50000), Decimal(15000))
    loan = rows[("affluent", "loan")]
    assert loan.balance == Decimal(200000)
    assert (loan.overdue_accounts, loan.overdue_balance, loan.overdue_90_balance) == (
        1, Decimal(200000), Decimal(0))  # fmt: skip
    assert rows[("mass", "current")].balance == Decimal(2000)

    sh = KpiBalanceDay.objects.filter(day=D, level=1, branch=world.sh)
    deposits = sh.filter(kind__in=["current", "time_deposit"]).aggregate(s=Sum("balance"))["s"]
    aum = sh.filter(kind__in=["current", "time_deposit", "wealth"]).aggregate(s=Sum("balance"))
    assert deposits == Decimal(12500)
    assert aum["s"] == Decimal(62500)
    # The closed account counts in the balance (0) but not as held.
    closed = balances(level=0, branch=world.sh, rm=world.other_rm)[("affluent", "current")]
    assert (closed.balance, closed.accounts, closed.holders) == (Decimal(0), 0, 0)
    bj = balances(level=1, branch=world.bj)[("mass", "current")]
    assert bj.balance == Decimal(5000)


def test_customers_retention_and_cross_sell(world):
    kpi_snapshot(D)
    sh = KpiCustomerDay.objects.filter(day=D, level=1, branch=world.sh).aggregate(
        customers=Sum("customers"), closed=Sum("closed"), active=Sum("active"),
        dormant=Sum("dormant"), new=Sum("new"), holders=Sum("holders"),
        products=Sum("products"), kinds=Sum("product_kinds"), before=Sum("transacting_before"),
        retained=Sum("retained"), transacting=Sum("transacting"),
    )  # fmt: skip
    assert sh == {
        "customers": 2, "closed": 1, "active": 1, "dormant": 1, "new": 0, "holders": 2,
        "products": 4, "kinds": 4, "before": 2, "retained": 1, "transacting": 1,
    }  # fmt: skip
    assert sh["products"] / sh["holders"] == 2.0  # cross-sell: products per customer
    assert sh["retained"] / sh["before"] == 0.5  # 30-day retention
    bj = KpiCustomerDay.objects.get(day=D, level=1, branch=world.bj)
    assert (bj.customers, bj.new, bj.tier) == (1, 1, "mass")
    # The RM level adds up to the branch level.
    detail = KpiCustomerDay.objects.filter(day=D, level=0, branch=world.sh)
    assert detail.aggregate(s=Sum("customers"))["s"] == 2
    assert set(detail.values_list("rm", flat=True)) == {world.rm.pk, world.other_rm.pk}


def test_tier_moves_service_and_campaigns(world):
    kpi_snapshot(D)
    move = KpiTierMoveDay.objects.get(day=D)
    assert (move.branch_id, move.rm_id, move.from_tier, move.to_tier, move.customers) == (
        world.sh.pk, world.rm.pk, "affluent", "wealth", 1)  # fmt: skip
    queue = KpiQueueDay.objects.get(day=D)
    assert (queue.opened, queue.closed, queue.sla_due, queue.sla_met) == (1, 2, 2, 1)
    assert (queue.csat_answers, queue.csat_sum, queue.queue_name) == (1, 4, "KPI 队列")
    campaign = KpiCampaignDay.objects.filter(day=D, campaign_id=world.campaign.pk)
    totals = campaign.aggregate(sent=Sum("sent"), converted=Sum("converted"), cost=Sum("cost"),
                                revenue=Sum("revenue"))  # fmt: skip
    assert totals == {"sent": 2, "converted": 1, "cost": Decimal("0.10"),
                      "revenue": Decimal(800)}  # fmt: skip
    assert set(campaign.values_list("rm", flat=True)) == {world.rm.pk}


def test_a_day_rebuilt_gives_the_same_rows(world):
    kpi_snapshot(D)
    first = table_rows()
    kpi_snapshot(D)
    assert table_rows() == first
    assert KpiRun.objects.get(day=D).runs == 2


def test_backfill_twice_is_idempotent_and_days_differ(world):
    call_command(
        "kpi_snapshot", "--from", str(D - timedelta(days=1)), "--to", str(D + timedelta(days=2))
    )
    first = table_rows()
    call_command(
        "kpi_snapshot", "--from", str(D - timedelta(days=1)), "--to", str(D + timedelta(days=2))
    )
    assert table_rows() == first
    assert (
        KpiRun.objects.filter(day__range=(D - timedelta(days=1), D + timedelta(days=2))).count()
        == 4
    )
    # 12 March: A's −1,000 is booked; F exists from 11 March.
    a_current = KpiBalanceDay.objects.get(day=D + timedelta(days=2), level=0, rm=world.rm,
                                          tier="affluent", kind="current")  # fmt: skip
    assert a_current.balance == Decimal(9500)
    e_before = KpiCustomerDay.objects.filter(day=D - timedelta(days=1), branch=world.bj)
    assert not e_before.exists()  # E was created on D
