"""Real browser: the KPI dashboard (issue 21). A branch manager filters by a tier, clicks the
tier's bar in the chart and lands on the customer list behind it, which holds only the
branch's customers of that tier; screenshots of the branch manager's, an RM's and head
office's dashboards in zh-Hans, over six months of snapshots so the charts have a history."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from analytics.kpi import kpi_snapshot
from analytics.models import CustomerValue
from bankcrm.roles import Role
from customers.models import Account
from tests import factories
from tests.analytics.helpers import at, transaction
from tests.browser.test_login_flows import next_unused_code, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def month_ends(months: int) -> list[date]:
    """The last day of each of the `months` months before this one, oldest first, and
    yesterday (the snapshot days the dashboard reads)."""
    days, first = [], timezone.localdate().replace(day=1)
    for _ in range(months):
        last = first - timedelta(days=1)
        days.append(last)
        first = last.replace(day=1)
    return [*reversed(days), timezone.localdate() - timedelta(days=1)]


def book(branch, rm, other_rm, other_branch, bj_rm) -> dict:
    """Customers of each tier in the branch (and two private ones in another branch that
    the drill-down must not show), each with a current account growing month by month, a
    wealth product for the private and affluent ones, and a loan for some."""
    today = timezone.localdate()
    opened = today - timedelta(days=240)
    people = [
        (branch, rm, "private", "钱私行"), (branch, other_rm, "private", "孙私行"),
        (branch, rm, "affluent", "赵富裕"), (branch, rm, "affluent", "李富裕"),
        (branch, other_rm, "affluent", "周富裕"),
        *((branch, rm if n % 2 else other_rm, "mass", f"大众{n}") for n in range(6)),
        (other_branch, bj_rm, "private", "北京私行甲"),
        (other_branch, bj_rm, "private", "北京私行乙"),
        (other_branch, bj_rm, "mass", "北京大众"),
    ]  # fmt: skip
    scale = {"private": 2_000_000, "affluent": 300_000, "mass": 20_000}
    made = {}
    for n, (where, owner, tier, name) in enumerate(people):
        c = factories.customer(branch=where, rm=owner, tier=tier, name=name)
        c.created_at = at(opened)
        c.save(update_fields=["created_at"])
        base = Decimal(scale[tier] + n * 1_000)
        current = factories.account(c, balance=base, opened_on=opened)
        # Monthly salary credits: the balance at each month end is lower the further back.
        for months_back in range(7):
            transaction(current, at(today - timedelta(days=30 * months_back + 3)),
                        base / 20, direction="credit")  # fmt: skip
        if tier != "mass":
            factories.account(c, kind=Account.Kind.WEALTH, balance=base * 2, opened_on=opened,
                              risk_level="R2")  # fmt: skip
        if n % 3 == 0:
            factories.account(c, kind=Account.Kind.LOAN, balance=base / 2, principal=base,
                              opened_on=opened, overdue_days=35 if n == 3 else 0)  # fmt: skip
        CustomerValue.objects.create(
            customer=c, computed_on=today, aum=base * 3, stickiness=0.15 + (n % 4) * 0.2,
            risk_factor=0.8, value_score=base * 3, tier={"private": "private",
            "affluent": "wealth", "mass": "mass"}[tier], tier_since=today - timedelta(days=40),
            previous_tier="", margin_per_year=base / 100, churn_probability=0.3 + (n % 5) * 0.12,
            clv=base / 10,
        )  # fmt: skip
        made[name] = c
    return made


@pytest.fixture
def dashboards(branch, other_branch, rm, other_rm):
    bj_rm = factories.user(Role.RELATIONSHIP_MANAGER, branch=other_branch, username="bjrm")
    made = book(branch, rm, other_rm, other_branch, bj_rm)
    for day in month_ends(6):
        kpi_snapshot(day)
    return made


def new_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def open_dashboard(page):
    page.emulate_media(reduced_motion="reduce")  # charts drawn at once: screenshots as seen
    page.goto("/analytics/dashboard/")
    wait_for_charts(page)


def wait_for_charts(page):
    page.wait_for_selector("[data-testid=kpi-deposits]")
    # Chart.js draws after DOMContentLoaded: wait for every canvas to have its chart.
    page.wait_for_function(
        "[...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => window.Chart && Chart.getChart(c))"
    )


def test_branch_manager_filters_by_tier_and_drills_into_the_bar(
    page, screenshot, dashboards, branch_manager
):
    sign_in(page, "bm")
    page.wait_for_selector("[data-testid=home-title]")
    open_dashboard(page)
    assert page.inner_text("h1") == "支行经营看板"
    tiers = page.locator("[data-testid=tier-table] tbody tr")
    assert tiers.count() == 3
    assert page.input_value("#id_months") == "12"  # the period the figures cover
    # The chart's last point is the day the cards show, drawn at its height (no animation
    # half way: the screenshot is taken with reduced motion, which the charts honour).
    aum = page.locator("canvas[data-chart=trend]").evaluate(
        "(c) => Chart.getChart(c).getDatasetMeta(2).data.at(-1).y"
    )
    top = page.locator("canvas[data-chart=trend]").evaluate(
        "(c) => Chart.getChart(c).scales.y.getPixelForValue(14895000)"
    )
    assert abs(aum - top) < 1
    assert "¥14,895,000" in page.inner_text("[data-testid=kpi-aum]")
    assert page.locator("th", has_text="原层级").count() == 1  # a tier, not a date
    screenshot(page, "dashboard-branch-manager-zh-hans")

    page.select_option("#id_tier", "private")
    page.click("[data-testid=dashboard-filters] button[type=submit]")
    page.wait_for_url("**tier=private**")
    wait_for_charts(page)
    assert tiers.count() == 1
    assert tiers.first.locator("td").first.inner_text() == "私人银行"

    # Click the private tier's bar itself (Chart.js's onClick follows the bar's link).
    canvas = page.locator("canvas[data-chart=tiers]")
    x, y = canvas.evaluate(
        """(canvas) => {
            // The bar's final geometry in the canvas (the chart may still be animating).
            const bar = Chart.getChart(canvas).getDatasetMeta(0).data[0]
                .getProps(["x", "y", "base"], true);
            return [bar.x, (bar.y + bar.base) / 2];
        }"""
    )
    canvas.click(position={"x": x, "y": y})
    page.wait_for_url("**/customers/?tier=private")
    rows = page.locator("[data-testid=customer-table] tbody tr td:nth-child(2) a")
    rows.first.wait_for()
    # The branch's two private customers, whoever their RM; not the other branch's.
    assert sorted(rows.all_inner_texts()) == ["孙私行", "钱私行"]
    screenshot(page, "dashboard-drill-down-private-customers")


def test_rm_and_head_office_dashboards(
    browser, live_server, screenshot, dashboards, rm, admin_user, branch
):
    page = new_page(browser, live_server)
    sign_in(page, "rm")
    page.wait_for_selector("[data-testid=home-title]")
    open_dashboard(page)
    assert page.inner_text("h1") == "我的客户"
    # The RM's book only: 钱私行 and 赵富裕, 李富裕 and three 大众 are theirs.
    customers = page.inner_text("[data-testid=kpi-customers]")
    assert customers.split("\n")[1].strip() == "6"
    screenshot(page, "dashboard-rm-zh-hans")
    page.context.close()

    TOTPDevice.objects.create(user=admin_user, name="authenticator", confirmed=True)
    page = new_page(browser, live_server)
    sign_in(page, "admin")
    page.wait_for_selector("input[name=token]")
    page.fill("input[name=token]", next_unused_code(admin_user))
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=home-title]")
    open_dashboard(page)
    assert page.inner_text("h1") == "总行经营看板"
    assert page.locator("[data-testid=branch-table] tbody tr").count() == 2
    assert page.locator("[data-testid=churn-list]").count() == 0  # no always-empty lists
    assert page.locator("[data-testid=trend-table] tbody tr", has_text="-").count() >= 6
    screenshot(page, "dashboard-head-office-zh-hans")
    page.context.close()
