"""Daily KPI snapshots and report definitions (imported by analytics.models).

The snapshot tables hold one row per day and group, written by analytics.kpi in one
transaction per day (delete the day, insert it again), so a day can be rebuilt any number
of times and the dashboards only ever sum a few thousand rows:

- KpiBalanceDay: day × branch × RM × tier × product type (Account.kind): the balance at the
  end of the day, the month-to-date daily average, accounts, holders, overdue loans;
- KpiCustomerDay: day × branch × RM × tier: customers by lifecycle, new ones, products
  held, and the transacting customers of 30 days before that still transact (retention);
- KpiTierMoveDay: day × branch × RM × from tier × to tier (analytics value tiers);
- KpiQueueDay: day × queue × branch: tickets opened and closed, SLA met, CSAT;
- KpiCampaignDay: day × campaign × channel × branch × RM: sent, converted, cost, revenue.

Balance and customer rows come at two levels: DETAIL (one row per branch and RM) and
BRANCH (the same figures summed over the RMs), so a head-office or branch page reads a few
hundred rows a day and an RM's page their own. Branch, RM and tier are the customer's at
the time the day was snapshotted (analytics.kpi says what a backfill can and cannot know).
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm.fields import EncryptedField
from bankcrm.models import Branch
from bankcrm.roles import Role


class Level(models.IntegerChoices):
    DETAIL = 0, _("Branch and relationship manager")
    BRANCH = 1, _("Branch")


class _Snapshot(models.Model):
    day = models.DateField(_("day"))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} #{self.pk}"


def _day_group(*fields, name):
    return models.UniqueConstraint(fields=["day", *fields], name=name, nulls_distinct=False)


class KpiBalanceDay(_Snapshot):
    level = models.PositiveSmallIntegerField(_("level"), choices=Level)
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    tier = models.CharField(_("tier"), max_length=12)
    kind = models.CharField(_("product type"), max_length=16)
    balance = models.DecimalField(_("balance"), max_digits=20, decimal_places=2)
    # Σ over the days of the month to `day` of the end-of-day balance ÷ those days.
    balance_avg_month = models.DecimalField(
        _("daily average this month"), max_digits=20, decimal_places=2
    )
    accounts = models.PositiveIntegerField(_("accounts"))
    holders = models.PositiveIntegerField(_("customers holding"))
    overdue_accounts = models.PositiveIntegerField(_("overdue loans"), default=0)
    overdue_balance = models.DecimalField(
        _("overdue balance"), max_digits=20, decimal_places=2, default=0
    )
    overdue_90_balance = models.DecimalField(
        _("balance 90+ days overdue"), max_digits=20, decimal_places=2, default=0
    )

    class Meta:
        verbose_name = _("daily balances")
        verbose_name_plural = _("daily balances")
        constraints = [_day_group("level", "branch", "rm", "tier", "kind", name="kpi_balance_day")]
        indexes = [
            models.Index(fields=["level", "day", "branch"], name="kpi_balance_level_idx"),
            models.Index(
                fields=["rm", "day"], name="kpi_balance_rm_idx", condition=Q(level=Level.DETAIL)
            ),
        ]


class KpiCustomerDay(_Snapshot):
    level = models.PositiveSmallIntegerField(_("level"), choices=Level)
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    tier = models.CharField(_("tier"), max_length=12)
    customers = models.PositiveIntegerField(_("customers"))  # not closed
    new = models.PositiveIntegerField(_("new customers"))
    prospect = models.PositiveIntegerField(_("prospects"))
    active = models.PositiveIntegerField(_("active"))
    dormant = models.PositiveIntegerField(_("dormant"))
    closed = models.PositiveIntegerField(_("closed"))
    holders = models.PositiveIntegerField(_("customers holding a product"))
    products = models.PositiveIntegerField(_("products held"))
    product_kinds = models.PositiveIntegerField(_("kinds of product held"))
    transacting = models.PositiveIntegerField(_("transacting (90 days)"))
    # Transacting 30 days before, and of those still transacting: 30-day retention.
    transacting_before = models.PositiveIntegerField(_("transacting 30 days before"))
    retained = models.PositiveIntegerField(_("still transacting"))

    class Meta:
        verbose_name = _("daily customers")
        verbose_name_plural = _("daily customers")
        constraints = [_day_group("level", "branch", "rm", "tier", name="kpi_customer_day")]
        indexes = [
            models.Index(fields=["level", "day", "branch"], name="kpi_customer_level_idx"),
            models.Index(
                fields=["rm", "day"], name="kpi_customer_rm_idx", condition=Q(level=Level.DETAIL)
            ),
        ]


class KpiTierMoveDay(_Snapshot):
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    from_tier = models.CharField(_("from tier"), max_length=20)
    to_tier = models.CharField(_("to tier"), max_length=20)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("daily tier changes")
        verbose_name_plural = _("daily tier changes")
        constraints = [_day_group("branch", "rm", "from_tier", "to_tier", name="kpi_tier_move_day")]
        indexes = [models.Index(fields=["day", "branch"], name="kpi_tier_move_idx")]


class KpiQueueDay(_Snapshot):
    queue_id = models.BigIntegerField(_("queue"))  # service.Queue (a lower app: by id)
    queue_name = models.CharField(_("queue"), max_length=100)
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    opened = models.PositiveIntegerField(_("tickets opened"))
    closed = models.PositiveIntegerField(_("tickets resolved"))
    sla_due = models.PositiveIntegerField(_("resolved with a resolution target"))
    sla_met = models.PositiveIntegerField(_("resolved within the target"))
    csat_answers = models.PositiveIntegerField(_("survey answers"))
    csat_sum = models.PositiveIntegerField(_("sum of survey scores"))

    class Meta:
        verbose_name = _("daily service figures")
        verbose_name_plural = _("daily service figures")
        constraints = [_day_group("queue_id", "branch", name="kpi_queue_day")]
        indexes = [models.Index(fields=["day", "branch"], name="kpi_queue_day_idx")]


class KpiCampaignDay(_Snapshot):
    campaign_id = models.BigIntegerField(_("campaign"))  # marketing.Campaign, by id
    campaign_name = models.CharField(_("campaign"), max_length=120)
    channel = models.CharField(_("channel"), max_length=8)
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    sent = models.PositiveIntegerField(_("sent"))
    converted = models.PositiveIntegerField(_("converted"))
    cost = models.DecimalField(_("cost"), max_digits=18, decimal_places=2)
    revenue = models.DecimalField(_("revenue"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("daily campaign figures")
        verbose_name_plural = _("daily campaign figures")
        constraints = [
            _day_group("campaign_id", "channel", "branch", "rm", name="kpi_campaign_day")
        ]
        indexes = [
            models.Index(fields=["day", "branch"], name="kpi_campaign_day_idx"),
            models.Index(fields=["rm", "day"], name="kpi_campaign_rm_idx"),
        ]


class KpiWatchList(models.Model):
    """The branch managers' watch lists, ranked when the newest day is snapshotted: per
    branch and customer tier ('' for every tier), the customers with the highest churn risk
    and the high-value ones with the lowest stickiness (analytics.CustomerValue, itself
    nightly), the first WATCH_RANKS of each. A dashboard reads a branch's few rows and checks
    each customer through customers.access, instead of ranking the branch's customers among
    everyone's values on every click."""

    class Kind(models.TextChoices):
        CHURN = "churn", _("Highest churn risk")
        STICKY = "sticky", _("High value, low stickiness")

    computed_on = models.DateField(_("computed on"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    tier = models.CharField(_("tier"), max_length=12, blank=True)
    kind = models.CharField(_("list"), max_length=6, choices=Kind)
    rank = models.PositiveSmallIntegerField(_("rank"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("watch list entry")
        verbose_name_plural = _("watch list entries")
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "tier", "kind", "rank"], name="kpi_watch_rank"
            )
        ]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.tier} {self.kind} #{self.rank}"


class KpiRun(models.Model):
    """The last snapshot of a day: when, how long, how many rows (the bench reads it), and
    whether it was a whole rebuild or brought today's rows up to date from the changes."""

    class Mode(models.TextChoices):
        FULL = "full", _("Rebuilt")
        CHANGES = "changes", _("Changes applied")

    day = models.DateField(_("day"), unique=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    seconds = models.FloatField(_("seconds"), default=0)
    rows = models.JSONField(_("rows"), default=dict)
    runs = models.PositiveIntegerField(_("times run"), default=0)
    # (Database defaults too: bench/dashboards.py writes history rows in SQL.)
    mode = models.CharField(
        _("last run"), max_length=8, choices=Mode, default=Mode.FULL, db_default=Mode.FULL
    )
    # KpiChange rows the last run took (it recomputed what they touched).
    changes = models.PositiveIntegerField(_("changes applied"), default=0, db_default=0)
    # The change queue holds every change since this day's last run: its next run may apply
    # them instead of rebuilding. One day at most (the queue's reader: analytics.kpi).
    tracked = models.BooleanField(_("follows the changes"), default=False, db_default=False)

    class Meta:
        verbose_name = _("snapshot run")
        verbose_name_plural = _("snapshot runs")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)


class KpiChange(models.Model):
    """A change to the data today's snapshot is made of, written by database triggers
    (analytics/sql/analytics_kpi_*_changed.sql, installed on customers, accounts,
    transactions, tickets, surveys, deliveries, value rows and the settings they are read
    with) in the writer's own transaction, whatever wrote it: the ORM, `update()`, COPY,
    the inbox's batches. The next run of today takes the rows it can see (DELETE …
    RETURNING) and recomputes only what they touch (analytics.kpi), so a change committed
    during a run waits for the next one instead of being skipped.

    `book`: the balance and customer rows of a customer's branch, RM and tier, as it is now
    (`customer_id`) and, when the customer itself changed, as it was (`branch_id`, `rm_id`,
    `tier`). The others are redone whole (a few rows a day): `queues` the day's service
    figures, `campaigns` its campaign figures, `moves` its tier moves, `values` the tier
    moves and the watch lists (value rows or their settings changed, or a customer's branch
    or tier)."""

    class Part(models.TextChoices):
        BOOK = "book", _("Balances and customers")
        QUEUES = "queues", _("Service")
        CAMPAIGNS = "campaigns", _("Campaigns")
        MOVES = "moves", _("Tier moves")
        VALUES = "values", _("Tier moves and watch lists")

    part = models.CharField(_("part"), max_length=10, choices=Part)
    # Ids, not foreign keys: a deleted customer's change must outlive it, and triggers on
    # the busiest tables should not take more locks than their own.
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True)
    branch_id = models.BigIntegerField(_("branch before"), null=True, blank=True)
    rm_id = models.BigIntegerField(_("relationship manager before"), null=True, blank=True)
    tier = models.CharField(_("tier before"), max_length=12, blank=True, db_default="")

    class Meta:
        verbose_name = _("KPI change")
        verbose_name_plural = _("KPI changes")
        indexes = [
            # The trigger's "a row of this part already waits?" (the parts redone whole):
            # a few rows, however many customers' changes the queue holds.
            models.Index(
                fields=["part"], name="kpichange_whole_idx", condition=models.Q(customer_id=None)
            )
        ]

    def __str__(self) -> str:
        return f"{self.part} {self.customer_id or ''}"


# ---- reports ------------------------------------------------------------------------------


class ReportDefinition(models.Model):
    """A report an administrator sets up: which dashboard, which filters, which format, how
    often, and which roles receive (and alone may download) it."""

    class Dashboard(models.TextChoices):
        BOOK = "book", _("Deposits, loans and AUM")
        SERVICE = "service", _("Service: SLA and satisfaction")
        CAMPAIGNS = "campaigns", _("Campaign return")
        DATA_USAGE = "data_usage", _("Customer-data usage (audit trail)")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel"
        PDF = "pdf", "PDF"

    class Schedule(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly (Mondays)")
        MONTHLY = "monthly", _("Monthly (on the 1st)")
        ON_DEMAND = "on_demand", _("On demand only")

    name = models.CharField(_("name"), max_length=120)
    dashboard = models.CharField(_("dashboard"), max_length=12, choices=Dashboard)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", help_text=_("Empty: every branch."),
    )  # fmt: skip
    tier = models.CharField(_("tier"), max_length=12, blank=True, help_text=_("Empty: every tier."))
    months = models.PositiveSmallIntegerField(_("months covered"), default=12)
    format = models.CharField(_("format"), max_length=4, choices=Format, default=Format.XLSX)
    schedule = models.CharField(
        _("schedule"), max_length=10, choices=Schedule, default=Schedule.MONTHLY
    )
    recipient_roles = ArrayField(
        models.CharField(max_length=30, choices=Role.choices), verbose_name=_("recipient roles"),
        help_text=_("Only these roles may download the report (within their branch)."),
    )  # fmt: skip
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("report definition")
        verbose_name_plural = _("report definitions")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(months__gte=1, months__lte=36), name="report_months_range"
            ),
            models.CheckConstraint(condition=~Q(recipient_roles=[]), name="report_has_recipients"),
        ]

    def __str__(self) -> str:
        return self.name


class ReportRun(models.Model):
    """One generated report. The file is kept encrypted in the row (no local files: every
    web process serves it); `period` names what it covers and, with the definition, is
    unique, so beat firing twice makes one run."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Generating")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    definition = models.ForeignKey(
        ReportDefinition, verbose_name=_("report"), on_delete=models.CASCADE, related_name="runs"
    )
    period = models.CharField(_("period"), max_length=40)
    as_of = models.DateField(_("figures as of"))
    status = models.CharField(_("status"), max_length=8, choices=Status, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    # The file, base64 inside the encrypted token (bankcrm.crypto, versioned keys).
    content = EncryptedField(_("content"), null=True, blank=True)
    failure = models.CharField(_("failure"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("report run")
        verbose_name_plural = _("report runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "period"], name="report_run_once"),
            # "Generate now" twice makes one run (analytics.reports.report_request).
            models.UniqueConstraint(
                fields=["definition"],
                name="report_run_one_on_demand",
                condition=Q(requested_by__isnull=False, status__in=["pending", "running"]),
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="report_run_status_idx")]

    def __str__(self) -> str:
        return f"{self.definition} {self.period}"
