"""Named reads the marketing pages share."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Account
from marketing import stats
from marketing.models import Campaign, CampaignStep, Delivery, LeftOut


@dataclass
class GroupResult:
    label: str
    size: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.size if self.size else 0.0


@dataclass
class CampaignFigures:
    by_status: dict
    left_out: list  # [(reason label, count)]
    left_out_by_reason: list  # [(reason, reason label, count)], most first
    total: int
    opted_out: int
    cost: Decimal
    revenue: Decimal
    delivered: int = 0  # receipts from the gateway (marketing/receipts.py)
    undelivered: int = 0
    groups: list = field(default_factory=list)  # GroupResult per variant, then control
    test: stats.ChiSquared | None = None
    min_sample: int | None = None
    uplifts: dict = field(default_factory=dict)

    @property
    def done(self) -> int:
        return sum(v for k, v in self.by_status.items() if k != Delivery.Status.PENDING)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def roi(self) -> Decimal | None:
        return (self.revenue - self.cost) / self.cost if self.cost else None

    @property
    def converted(self) -> int:
        return sum(g.converted for g in self.groups if g.label != "control")

    def outcomes(self) -> list[tuple[str, str, int]]:
        """(key, label, count) of what became of the messages, in the order the results
        chart and its table show them: sent (and of those, what the gateway's receipts say:
        delivered, not delivered), failed, waiting, control group, each reason left out,
        then opted out and converted among those reached."""
        status = self.by_status
        rows = [
            ("sent", _("Sent"), status.get(Delivery.Status.SENT, 0)),
            ("delivered", _("Delivered"), self.delivered),
            ("undelivered", _("Not delivered"), self.undelivered),
            ("failed", _("Failed"), status.get(Delivery.Status.FAILED, 0)),
            ("pending", _("Waiting"), status.get(Delivery.Status.PENDING, 0)),
            ("control", _("Control group"), status.get(Delivery.Status.CONTROL, 0)),
        ]
        rows += [(f"left_out:{reason}", label, n) for reason, label, n in self.left_out_by_reason]
        rows += [("opted_out", _("Opted out"), self.opted_out),
                 ("converted", _("Converted"), self.converted)]  # fmt: skip
        return rows

    def chart(self) -> dict:
        """The results chart's data (analytics' chart format, static/js/dashboards.js): the
        outcomes as bars, and cost beside revenue; labels in the reader's language."""
        outcomes = self.outcomes()
        return {
            "outcomes": {
                "type": "bar",
                "labels": [str(label) for _key, label, _n in outcomes],
                "series": [{"label": str(_("Messages")), "data": [n for *_rest, n in outcomes]}],
            },
            "money": {
                "type": "bar",
                "labels": [str(_("Cost")), str(_("Revenue"))],
                "series": [{"label": "CNY", "data": [float(self.cost), float(self.revenue)]}],
            },
        }


def _conversion(campaign: Campaign):
    """An account opened by the customer within the goal's window after the launch."""
    if not campaign.goal or not campaign.launched_at:
        return None
    start = timezone.localtime(campaign.launched_at).date()
    accounts = Account.objects.filter(
        customer=OuterRef("customer"), opened_on__gte=start,
        opened_on__lte=start + timezone.timedelta(days=campaign.goal_days),
    )  # fmt: skip
    if campaign.goal_account_kind:
        accounts = accounts.filter(kind=campaign.goal_account_kind)
    elif campaign.goal == Campaign.Goal.PRODUCT_BOUGHT:
        accounts = accounts.filter(kind=Account.Kind.WEALTH)
    return Q(Exists(accounts))


def progress(campaign: Campaign) -> CampaignFigures:
    """Counts by status, by reason left out and by the gateway's receipt (two grouped
    queries): the progress bar."""
    rows = (
        Delivery.objects.filter(campaign=campaign).order_by()
        .values_list("status", "left_out_reason", "receipt").annotate(n=Count("pk"))
    )  # fmt: skip
    by_status: dict[str, int] = {}
    reasons: dict[str, int] = {}
    receipts: dict[str, int] = {}
    for status, reason, receipt, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        if reason:
            reasons[reason] = reasons.get(reason, 0) + n
        if receipt:
            receipts[receipt] = receipts.get(receipt, 0) + n
    opted = Delivery.objects.filter(campaign=campaign, opted_out_at__isnull=False).count()
    by_reason = [(r, LeftOut(r).label, n)
                 for r, n in sorted(reasons.items(), key=lambda i: (-i[1], i[0]))]  # fmt: skip
    return CampaignFigures(
        by_status=by_status, left_out=[(label, n) for _r, label, n in by_reason],
        left_out_by_reason=by_reason, total=sum(by_status.values()), opted_out=opted,
        cost=Decimal(0), revenue=Decimal(0),
        delivered=receipts.get(Delivery.Receipt.DELIVERED, 0),
        undelivered=receipts.get(Delivery.Receipt.UNDELIVERED, 0),
    )  # fmt: skip


def campaign_figures(campaign: Campaign) -> CampaignFigures:
    """Progress, cost, conversions per variant and control, the chi-squared test across
    the groups, the minimum sample and each variant's uplift over control."""
    figures = progress(campaign)
    sent_cost = (
        Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT).order_by()
        .values("step").annotate(n=Count("pk")).values_list("step", "n")
    )  # fmt: skip
    prices = dict(
        CampaignStep.objects.filter(campaign=campaign).values_list("pk", "cost_per_message")
    )
    figures.cost = sum((prices.get(step, 0) * n for step, n in sent_cost), Decimal(0))
    converted = _conversion(campaign)
    reached = Delivery.objects.filter(
        campaign=campaign, status__in=[Delivery.Status.SENT, Delivery.Status.CONTROL]
    ).order_by()
    if converted is not None:
        groups = reached.values("variant__code", "status").annotate(
            size=Count("customer", distinct=True),
            conv=Count("customer", distinct=True, filter=converted),
        )
        results = {}
        for row in groups:
            label = (
                "control"
                if row["status"] == Delivery.Status.CONTROL
                else row["variant__code"] or "A"
            )
            result = results.setdefault(label, GroupResult(label, 0, 0))
            result.size += row["size"]
            result.converted += row["conv"]
        figures.groups = sorted(results.values(), key=lambda g: (g.label == "control", g.label))
        figures.test = stats.chi_squared([(g.converted, g.size) for g in figures.groups])
        control = results.get("control")
        variants = [g for g in figures.groups if g.label != "control"]
        for g in variants:
            if control:
                figures.uplifts[g.label] = stats.uplift(g.rate, control.rate)
        rates = sorted(g.rate for g in figures.groups)
        if len(rates) >= 2:
            figures.min_sample = stats.minimum_sample(rates[0], rates[-1])
        figures.revenue = campaign.revenue_per_conversion * figures.converted
    return figures
