"""The KPI dashboard: each role sees its scope's figures from the snapshots (hand-computed
in kpi_world.py), drill-down links keep the customer list scoped, and the page costs the
same number of queries whatever the period or the data."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.access import DashboardScope
from analytics.dashboards import FIGURES, Filters, book_dashboard
from analytics.kpi import kpi_backfill, kpi_snapshot
from analytics.models import CustomerValue, KpiWatchList
from bankcrm.roles import Role
from customers.models import Account
from tests import factories
from tests.analytics.kpi_world import D, build

pytestmark = pytest.mark.django_db
URL = reverse("analytics:dashboard")


@pytest.fixture
def world(branch, other_branch, rm, other_rm, marketing_manager):
    approver = factories.user(Role.MARKETING_MANAGER, branch=branch, username="approver")
    w = build(branch, other_branch, rm, other_rm, marketing_manager, approver)
    kpi_snapshot(D)
    return w


def chart(response, name):
    html = response.content.decode()
    start = html.index('<script id="dashboard-data" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)[name]


def test_book_figures_per_scope(world, branch_manager, admin_user):
    sh = book_dashboard(branch_manager, DashboardScope(branch_id=world.sh.pk), Filters())
    assert sh.as_of == D
    assert sh.growth["deposits"]["value"] == Decimal(12500)
    assert sh.growth["aum"]["value"] == Decimal(62500)
    assert sh.growth["loans"]["value"] == Decimal(200000)
    assert sh.growth["aum_avg"]["value"] == Decimal(9300 + 15000 + 2000)
    assert sh.points[-1].retention == 0.5 and sh.points[-1].cross_sell == 2.0
    assert sh.overdue == {"loans": 1, "balance": Decimal(200000), "npl": Decimal(0),
                          "total": Decimal(200000)}  # fmt: skip
    assert (sh.moves_up, sh.moves_down) == (1, 0)
    assert [(s["opened"], s["closed"], s["sla"], s["csat"]) for s in sh.service] == [
        (1, 2, 0.5, 4.0)]  # fmt: skip
    assert [(c["sent"], c["converted"], c["roi"]) for c in sh.campaigns] == [
        (2, 1, (Decimal(800) - Decimal("0.10")) / Decimal("0.10"))]  # fmt: skip
    bank = book_dashboard(admin_user, DashboardScope(), Filters())
    assert bank.growth["deposits"]["value"] == Decimal(17500)
    assert {r["name"]: r["deposits"] for r in bank.by_branch} == {
        world.sh.name: Decimal(12500), world.bj.name: Decimal(5000)}  # fmt: skip
    mine = book_dashboard(world.other_rm, DashboardScope(rm_id=world.other_rm.pk), Filters())
    assert mine.growth["deposits"]["value"] == 0 and mine.campaigns == []
    affluent = book_dashboard(admin_user, DashboardScope(), Filters(tier="affluent"))
    assert affluent.growth["deposits"]["value"] == Decimal(10500)


def test_kept_figures_follow_each_snapshot_run_and_hold_no_customer(world, branch_manager, rm):
    scope = DashboardScope(branch_id=world.sh.pk)
    before = book_dashboard(branch_manager, scope, Filters())
    assert before.growth["deposits"]["value"] == Decimal(12500)
    assert before.churn_risk  # read per user...
    kept = [book for _expires, book in FIGURES._values.values()]
    assert kept and not any(book.churn_risk or book.low_stickiness for book in kept)  # ...not kept
    Account.objects.filter(customer=world.b).update(balance=Decimal("4000.00"))
    kpi_snapshot(D)  # the day rebuilt: a new run, so new figures at once in every process
    after = book_dashboard(branch_manager, scope, Filters())
    assert after.growth["deposits"]["value"] == Decimal(14500)
    # What a caller changes on its book does not reach the next reader.
    after.by_tier[0]["link"] = "/elsewhere/"
    again = book_dashboard(rm, scope, Filters())
    assert "link" not in again.by_tier[0]


def test_a_branch_reads_the_watch_lists_ranked_with_its_newest_snapshot(world, branch_manager):
    scope = DashboardScope(branch_id=world.sh.pk)
    assert set(KpiWatchList.objects.values_list("branch", "tier", "kind", "customer")) == {
        (world.sh.pk, tier, kind, world.a.pk)
        for tier in ("", "affluent")
        for kind in ("churn", "sticky")
    }  # A only: churn 0.45 (from 0.3), and wealth with stickiness 0.2 (below 0.35)
    assert [v.customer for v in book_dashboard(branch_manager, scope, Filters()).churn_risk] == [
        world.a]  # fmt: skip
    CustomerValue.objects.create(
        customer=world.b, computed_on=D + timedelta(days=1), aum=Decimal(2000), stickiness=0.5,
        risk_factor=1, value_score=Decimal(2000), tier="mass", tier_since=D, previous_tier="",
        margin_per_year=Decimal(10), churn_probability=0.9, clv=Decimal(100),
    )  # fmt: skip
    kpi_snapshot(D - timedelta(days=3))  # an older day: the newest lists stay
    assert not KpiWatchList.objects.filter(customer=world.b).exists()
    kpi_snapshot(D)
    book = book_dashboard(branch_manager, scope, Filters())
    assert [v.customer for v in book.churn_risk] == [world.b, world.a]
    mass = book_dashboard(branch_manager, scope, Filters(tier="mass"))
    assert [v.customer for v in mass.churn_risk] == [world.b]
    # Still checked through customers.access: another branch's manager sees none of them.
    bj = book_dashboard(world.bj_manager, scope, Filters())
    assert bj.churn_risk == []


def test_growth_month_on_month_and_year_on_year(world, branch_manager):
    # A month earlier (10 February): A's current account held 7,500 (the 3,000 of 5 March not
    # yet in), B's 2,000. A year earlier: A's 7,400 (nor the 100 of 20 January), B's 2,100
    # (the −100 of 20 November not yet out): 9,500 both times.
    kpi_backfill(D - timedelta(days=28), D - timedelta(days=28))
    kpi_snapshot(D.replace(year=2024))
    book = book_dashboard(branch_manager, DashboardScope(branch_id=world.sh.pk), Filters())
    assert [p.label for p in book.points][-1] == "2025-03"
    assert book.growth["deposits"]["mom"] == pytest.approx(12500 / 9500 - 1)
    assert book.growth["deposits"]["yoy"] == pytest.approx(12500 / 9500 - 1)
    assert book.growth["aum"]["yoy"] == pytest.approx(62500 / 9500 - 1)


@pytest.mark.parametrize(
    ("who", "status"),
    [("branch_manager", 200), ("rm", 200), ("admin_user", 200), ("marketing_manager", 200),
     ("compliance_officer", 403), ("agent", 403), ("product_manager", 403)],
)  # fmt: skip
def test_who_has_a_dashboard(world, client, login, request, who, status):
    login(request.getfixturevalue(who))
    assert client.get(URL).status_code == status


def test_the_period_select_shows_the_period_the_figures_cover(world, client, login, rm):
    login(rm)
    html = client.get(URL).content.decode()
    assert '<option value="12" selected>' in html  # the default, not the first choice
    html = client.get(URL, {"months": 6}).content.decode()
    assert '<option value="6" selected>' in html and '<option value="12" selected>' not in html


def test_a_branch_manager_cannot_look_at_another_branch(world, client, login, branch_manager):
    login(branch_manager)
    response = client.get(URL, {"branch": world.bj.pk})
    assert chart(response, "trend")["series"][0]["data"][-1] == 12500.0  # SH's, not BJ's
    assert "branches" not in json.loads(
        response.content.decode().split('type="application/json">', 1)[1].split("</script>")[0]
    )
    login(world.bj_manager)
    response = client.get(URL)
    assert chart(response, "trend")["series"][0]["data"][-1] == 5000.0


def test_drill_down_lands_on_the_scoped_customer_list(world, client, login, branch_manager):
    login(branch_manager)
    response = client.get(URL, {"tier": "affluent"})
    tiers = chart(response, "tiers")
    assert len(tiers["links"]) == 1  # the tier filter leaves one bar
    link = tiers["links"][0]
    assert link == reverse("customers:list") + "?tier=affluent"
    lifecycle = chart(response, "lifecycle")
    assert reverse("customers:list") + "?lifecycle=dormant&tier=affluent" in lifecycle["links"]
    listed = client.get(link).content.decode()
    assert world.a.cif in listed and world.c.cif in listed  # SH's affluent customers
    assert world.b.cif not in listed and world.e.cif not in listed
    # The same link followed by BJ's manager lists none of SH's customers.
    login(world.bj_manager)
    listed = client.get(link).content.decode()
    assert world.a.cif not in listed and world.c.cif not in listed


def test_head_office_gets_branch_bars_that_narrow_the_dashboard(world, client, login,
                                                                admin_user):  # fmt: skip
    login(admin_user)
    response = client.get(URL)
    branches = chart(response, "branches")
    assert set(branches["labels"]) == {world.sh.name, world.bj.name}
    narrowed = client.get(branches["links"][branches["labels"].index(world.bj.name)])
    assert chart(narrowed, "trend")["series"][0]["data"][-1] == 5000.0
    # No drill-down into customers for head office: it has no customer list.
    assert chart(response, "tiers")["links"] == ["", ""]


def test_watch_lists_only_show_visible_customers(world, client, login, rm, other_rm):
    login(rm)
    html = client.get(URL).content.decode()
    assert world.a.cif in html  # churn 0.45 ≥ 0.3, the RM's customer
    login(other_rm)
    assert world.a.cif not in client.get(URL).content.decode()


def test_query_count_is_the_same_whatever_the_period_and_data(
    world, client, login, branch_manager, django_assert_max_num_queries
):
    login(branch_manager)
    with django_assert_max_num_queries(30) as short:
        client.get(URL, {"months": 3})
    kpi_backfill(D - timedelta(days=40), D - timedelta(days=1))
    with django_assert_max_num_queries(30) as long:
        client.get(URL, {"months": 24, "tier": "mass"})
    assert len(long.captured_queries) == len(short.captured_queries)
