"""What the dashboards show, read from the daily snapshots (analytics.kpi) only: nothing is
recomputed per click, and a page costs the same number of queries whatever the period.

Time series are one point per month: the last snapshot day of each month (the latest day
for the current month), so a year is 13 points of a few hundred rows each. Growth month
on month compares the latest point with the one before; year on year with the point twelve
months earlier (None when the snapshots do not go back that far). Deposits are current
accounts and time deposits, loans are loans (cards are shown apart), AUM is deposits and
wealth products, all in CNY.

A scope (analytics.access.DashboardScope) decides whose rows are summed: the branch level
of the whole bank or one branch, or the detail rows of one RM.
"""

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from analytics import value
from analytics.access import DashboardScope
from analytics.kpi import ASSET_KINDS, DEPOSIT_KINDS
from analytics.kpi_models import (
    KpiBalanceDay,
    KpiCampaignDay,
    KpiCustomerDay,
    KpiQueueDay,
    KpiRun,
    KpiTierMoveDay,
    KpiWatchList,
    Level,
)
from analytics.models import CustomerValue
from bankcrm.cache import TTLCache
from customers.access import customers_for_user
from customers.models import Customer, Interaction

PERIODS = (3, 6, 12, 24)
LIST_SIZE = 10


@dataclass(frozen=True)
class Filters:
    months: int = 12
    branch_id: int | None = None
    tier: str = ""


@dataclass
class Point:
    day: date
    deposits: Decimal = Decimal(0)
    loans: Decimal = Decimal(0)
    cards: Decimal = Decimal(0)
    aum: Decimal = Decimal(0)
    aum_avg: Decimal = Decimal(0)  # the month's daily average (to the day for this month)
    customers: int = 0
    holders: int = 0
    products: int = 0
    transacting_before: int = 0
    retained: int = 0
    new: int = 0

    @property
    def label(self) -> str:
        return self.day.strftime("%Y-%m")

    @property
    def cross_sell(self) -> float | None:
        return self.products / self.holders if self.holders else None

    @property
    def retention(self) -> float | None:
        return self.retained / self.transacting_before if self.transacting_before else None


def growth(now, then) -> float | None:
    if then is None or not then:
        return None
    return float(now) / float(then) - 1


@dataclass
class Book:
    as_of: date | None
    points: list[Point] = field(default_factory=list)  # oldest first, the period's only
    growth: dict = field(default_factory=dict)  # measure -> {"mom": x, "yoy": y}
    by_branch: list[dict] = field(default_factory=list)
    by_tier: list[dict] = field(default_factory=list)
    lifecycle: dict = field(default_factory=dict)
    overdue: dict = field(default_factory=dict)
    tier_moves: list[dict] = field(default_factory=list)
    moves_up: int = 0
    moves_down: int = 0
    service: list[dict] = field(default_factory=list)
    campaigns: list[dict] = field(default_factory=list)
    churn_risk: list = field(default_factory=list)
    low_stickiness: list = field(default_factory=list)
    follow_ups: dict | None = None


def _scoped(qs, scope: DashboardScope, filters: Filters, *, levels=True, tier=True):
    """Rows of `qs` (a snapshot table) in the scope and filters."""
    if scope.rm_id is not None:
        qs = qs.filter(rm_id=scope.rm_id)
        if levels:
            qs = qs.filter(level=Level.DETAIL)
    else:
        if levels:
            qs = qs.filter(level=Level.BRANCH)
        branch = scope.branch_id or filters.branch_id
        if branch:
            qs = qs.filter(branch_id=branch)
    if tier and filters.tier:
        qs = qs.filter(tier=filters.tier)
    return qs


def month_ends(as_of: date, months: int) -> list[date]:
    """The last snapshot day of each of the `months` + 12 months to `as_of` (one query)."""
    start = (as_of.replace(day=1) - timedelta(days=31 * (months + 12))).replace(day=1)
    rows = (
        KpiRun.objects.filter(day__gte=start, day__lte=as_of)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(last=Max("day"))
        .values_list("last", flat=True)
    )
    return sorted(rows)


# The figures change only when a snapshot run ends (nightly, hourly for today, a backfill),
# so each process keeps them per scope and filters under the runs' latest day and end: a new
# run is a new key in every process at once, and an hour bounds what a forgotten key costs.
# Customer lists are never kept: they are read per user, through customers.access, each time.
FIGURES: TTLCache[Book] = TTLCache(seconds=3600, max_entries=500)


def book_dashboard(user, scope: DashboardScope, filters: Filters) -> Book:
    runs = KpiRun.objects.filter(day__lte=timezone.localdate()).aggregate(
        day=Max("day"), ended=Max("finished_at")
    )
    key = (scope, filters, runs["day"], runs["ended"])
    book = copy.deepcopy(FIGURES.get(key, lambda: _figures(scope, filters, runs["day"])))
    if user is None or book.as_of is None:  # a report: figures only, no customer's name
        return book
    _watch_lists(book, user, scope, filters)
    if scope.rm_id is not None:
        book.follow_ups = _follow_ups(user)
    return book


def _figures(scope: DashboardScope, filters: Filters, as_of: date | None) -> Book:
    """Everything the snapshots say for a scope and filters (no customer's name)."""
    book = Book(as_of=as_of)
    if as_of is None:
        return book
    days = month_ends(as_of, filters.months)
    first_day = (as_of.replace(day=1) - timedelta(days=31 * (filters.months - 1))).replace(day=1)
    points = {d: Point(d) for d in days}

    # Balances at each month end, by product type (and the latest day by branch and tier).
    balances = (
        _scoped(KpiBalanceDay.objects, scope, filters)
        .filter(day__in=days)
        .values("day", "kind")
        .annotate(balance=Sum("balance"), avg=Sum("balance_avg_month"))
    )
    for row in balances:
        p = points[row["day"]]
        if row["kind"] in DEPOSIT_KINDS:
            p.deposits += row["balance"]
        if row["kind"] in ASSET_KINDS:
            p.aum += row["balance"]
            p.aum_avg += row["avg"]
        if row["kind"] == "loan":
            p.loans += row["balance"]
        if row["kind"] == "card":
            p.cards += row["balance"]

    customers = (
        _scoped(KpiCustomerDay.objects, scope, filters)
        .filter(day__in=days)
        .values("day")
        .annotate(
            customers=Sum("customers"),
            holders=Sum("holders"),
            products=Sum("products"),
            before=Sum("transacting_before"),
            retained=Sum("retained"),
        )
    )
    for row in customers:
        p = points[row["day"]]
        p.customers, p.holders, p.products = row["customers"], row["holders"], row["products"]
        p.transacting_before, p.retained = row["before"], row["retained"]
    new = (
        _scoped(KpiCustomerDay.objects, scope, filters)
        .filter(day__gte=days[0].replace(day=1), day__lte=as_of, new__gt=0)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(n=Sum("new"))
    )
    new_by_month = {row["month"]: row["n"] for row in new}
    ordered = [points[d] for d in days]
    for p in ordered:
        p.new = new_by_month.get(p.day.replace(day=1), 0)
    latest = ordered[-1]
    by_month = {(p.day.year, p.day.month): p for p in ordered}
    prev = by_month.get(_months_back(as_of, 1))
    year = by_month.get(_months_back(as_of, 12))
    for measure in ("deposits", "loans", "aum", "aum_avg", "customers"):
        now = getattr(latest, measure)
        book.growth[measure] = {
            "value": now,
            "mom": growth(now, getattr(prev, measure) if prev else None),
            "yoy": growth(now, getattr(year, measure) if year else None),
        }
    book.points = [p for p in ordered if p.day >= first_day]

    # The latest day: by branch and by tier, lifecycle counts, overdue loans (one query each).
    split = (
        _scoped(KpiBalanceDay.objects, scope, filters)
        .filter(day=as_of)
        .values("branch_id", "branch__name", "tier", "kind")
        .annotate(
            balance=Sum("balance"),
            overdue_n=Sum("overdue_accounts"),
            overdue=Sum("overdue_balance"),
            npl=Sum("overdue_90_balance"),
        )
    )
    branches: dict = defaultdict(lambda: defaultdict(Decimal))
    tiers: dict = defaultdict(lambda: defaultdict(Decimal))
    overdue = defaultdict(Decimal)
    for row in split:
        for target in (branches[(row["branch_id"], row["branch__name"])], tiers[row["tier"]]):
            if row["kind"] in DEPOSIT_KINDS:
                target["deposits"] += row["balance"]
            if row["kind"] in ASSET_KINDS:
                target["aum"] += row["balance"]
            if row["kind"] == "loan":
                target["loans"] += row["balance"]
        if row["kind"] == "loan":
            overdue["loans"] += row["overdue_n"]
            overdue["balance"] += row["overdue"]
            overdue["npl"] += row["npl"]
            overdue["total"] += row["balance"]
    book.overdue = dict(overdue)
    book.by_branch = sorted(
        (
            {"id": k[0], "name": k[1], "deposits": 0, "aum": 0, "loans": 0, **v}
            for k, v in branches.items()
        ),
        key=lambda r: -r["aum"],
    )
    counts = (
        _scoped(KpiCustomerDay.objects, scope, filters)
        .filter(day=as_of)
        .values("tier")
        .annotate(
            customers=Sum("customers"),
            prospect=Sum("prospect"),
            active=Sum("active"),
            dormant=Sum("dormant"),
            closed=Sum("closed"),
        )
    )
    lifecycle = defaultdict(int)
    tier_counts = {}
    for row in counts:
        tier_counts[row["tier"]] = row["customers"]
        for key in ("prospect", "active", "dormant", "closed"):
            lifecycle[key] += row[key]
    book.lifecycle = dict(lifecycle)
    book.by_tier = [
        {
            "tier": t,
            "customers": tier_counts.get(t, 0),
            "deposits": 0,
            "aum": 0,
            "loans": 0,
            **tiers.get(t, {}),
        }
        for t in sorted(set(tiers) | set(tier_counts), key=_tier_rank)
    ]

    # The period's tier moves (analytics value tiers), up or down by the tiers' order.
    moves = (
        _scoped(KpiTierMoveDay.objects, scope, filters, levels=False, tier=False)
        .filter(day__gte=first_day, day__lte=as_of)
        .values("from_tier", "to_tier")
        .annotate(n=Sum("customers"))
        .order_by("-n")
    )
    rank = {t.code: i for i, t in enumerate(value.tiers())}
    for row in moves:
        up = rank.get(row["to_tier"], 0) > rank.get(row["from_tier"], 0)
        book.tier_moves.append({**row, "up": up})
        if up:
            book.moves_up += row["n"]
        else:
            book.moves_down += row["n"]

    if scope.rm_id is None:
        service = (
            _scoped(KpiQueueDay.objects, scope, filters, levels=False, tier=False)
            .filter(day__gte=first_day, day__lte=as_of)
            .values("queue_id", "queue_name")
            .annotate(
                opened=Sum("opened"),
                closed=Sum("closed"),
                due=Sum("sla_due"),
                met=Sum("sla_met"),
                answers=Sum("csat_answers"),
                score=Sum("csat_sum"),
            )
            .order_by("queue_name")
        )
        book.service = [
            {**row, "sla": row["met"] / row["due"] if row["due"] else None,
             "csat": row["score"] / row["answers"] if row["answers"] else None}
            for row in service
        ]  # fmt: skip
    campaigns = (
        _scoped(KpiCampaignDay.objects, scope, filters, levels=False, tier=False)
        .filter(day__gte=first_day, day__lte=as_of)
        .values("campaign_id", "campaign_name")
        .annotate(
            n_sent=Sum("sent"),
            n_converted=Sum("converted"),
            n_cost=Sum("cost"),
            n_revenue=Sum("revenue"),
            calls=Sum("sent", filter=Q(channel="call")),
            call_conversions=Sum("converted", filter=Q(channel="call")),
        )
        .order_by("-n_revenue", "campaign_id")[:20]
    )
    for row in campaigns:
        sent, converted, cost, revenue = (row.pop(f"n_{k}") for k in
                                          ("sent", "converted", "cost", "revenue"))  # fmt: skip
        book.campaigns.append({
            **row, "sent": sent, "converted": converted, "cost": cost, "revenue": revenue,
            "roi": (revenue - cost) / cost if cost else None,
            "rate": converted / sent if sent else None,
        })  # fmt: skip
    return book


def _months_back(day: date, n: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - n
    return index // 12, index % 12 + 1


def _tier_rank(tier: str) -> int:
    order = tuple(Customer.Tier.values)  # lowest first
    return order.index(tier) if tier in order else len(order)


def _watch_lists(book: Book, user, scope: DashboardScope, filters: Filters) -> None:
    """Churn risk and high value with low stickiness: the nightly CustomerValue rows of the
    customers the user may see (customers.access), never anyone else's."""
    policy = value.policy()
    codes = [t.code for t in value.tiers()]
    high = codes[codes.index(policy.high_value_tier) :] if policy.high_value_tier in codes else []
    visible = customers_for_user(user)
    if scope.branch_id or filters.branch_id:
        visible = visible.filter(branch_id=scope.branch_id or filters.branch_id)
    if filters.tier:
        visible = visible.filter(tier=filters.tier)
    if scope.branch_id:
        # A branch's customers ranked among a million values cost a scan of them all per
        # click: a branch manager reads the lists ranked with the newest snapshot instead,
        # each customer still checked against what the user may see (and its figures now).
        ranked = KpiWatchList.objects.filter(branch_id=scope.branch_id, tier=filters.tier)
        visible = visible.filter(pk__in=ranked.values("customer_id"))
    rows = CustomerValue.objects.filter(customer__in=visible.values("pk")).select_related(
        "customer"
    ).only("customer__name", "customer__cif", "tier", "clv", "stickiness", "churn_probability",
           "aum")  # fmt: skip
    book.churn_risk = list(
        rows.filter(churn_probability__gte=policy.high_churn).order_by("-churn_probability")[
            :LIST_SIZE
        ]
    )
    book.low_stickiness = list(
        rows.filter(tier__in=high, stickiness__lt=policy.low_stickiness).order_by("-clv")[
            :LIST_SIZE
        ]
    )


def _follow_ups(user) -> dict:
    """The RM's follow-ups not done: due by today, and later (one query)."""
    today = timezone.localdate()
    return Interaction.objects.filter(
        customer__in=customers_for_user(user).values("pk"), follow_up_done=False,
        follow_up_on__isnull=False,
    ).aggregate(
        due=Count("pk", filter=Q(follow_up_on__lte=today)),
        later=Count("pk", filter=Q(follow_up_on__gt=today)),
    )  # fmt: skip
