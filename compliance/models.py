from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bankcrm.models import AccessLog
from bankcrm.roles import Role


class DataChange(models.Model):
    """One change to audited data (the tables of compliance/audited.py), written by a
    database trigger whatever the path: forms, admin, imports,
    `queryset.update()`, bulk loads. Identifier columns appear only as their masked copies
    (encrypted columns and blind indexes show "***" when they changed). Hash-chained and
    append-only like the other audit tables (migration 0002)."""

    class Op(models.TextChoices):
        INSERT = "I", _("Created")
        UPDATE = "U", _("Changed")
        DELETE = "D", _("Deleted")

    at = models.DateTimeField(_("when"), db_default=Now())
    table_name = models.CharField(_("table"), max_length=63)
    row_pk = models.CharField(_("row"), max_length=40)
    op = models.CharField(_("operation"), max_length=1, choices=Op)
    changes = models.JSONField(_("changes"))
    customer_id = models.BigIntegerField(_("customer id"), null=True, blank=True)
    actor_id = models.BigIntegerField(_("user id"), null=True, blank=True)
    actor_label = models.CharField(_("by"), max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("data change")
        verbose_name_plural = _("data changes")
        indexes = [
            # Each filter of the audit screens gives a page's ids straight off its index.
            models.Index(fields=["customer_id", "-at", "-id"], name="datachange_customer_page"),
            models.Index(fields=["actor_id", "-at", "-id"], name="datachange_actor_page"),
            models.Index(fields=["table_name", "-at", "-id"], name="datachange_table_page"),
            models.Index(fields=["-at", "-id"], name="datachange_recent_idx"),
            models.Index(fields=["ip_address", "-at", "-id"], name="datachange_ip_page"),
            # Changes are nearly all updates: creations and deletions by their own index.
            models.Index(
                fields=["op", "-at", "-id"], condition=~Q(op="U"), name="datachange_rare_op_page"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table_name}:{self.row_pk} {self.op}"


class AccessRule(models.Model):
    """An access-anomaly rule, kept in admin: when one user's sensitive reads in a sliding
    window pass the threshold, an alert is raised for compliance, and the account may be
    frozen at once. Checked after every logged read (compliance.anomalies)."""

    class Measure(models.TextChoices):
        CUSTOMERS = "customers", _("Distinct customers read")
        EXPORTED_ROWS = "exported_rows", _("Rows exported")
        LOOKUPS = "lookups", _("Searches by identifier (found or not)")
        REFUSALS = "refusals", _("Refused accesses")

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    measure = models.CharField(
        _("what is counted"), max_length=20, choices=Measure, default=Measure.CUSTOMERS
    )
    actions = ArrayField(
        models.CharField(max_length=10, choices=AccessLog.Action.choices),
        verbose_name=_("reads counted"),
        default=list,
        blank=True,
        help_text=_("Views, reveals, searches… (distinct customers only; empty: all kinds)."),
    )
    min_tier = models.CharField(
        _("only customers of tier"),
        max_length=12,
        choices=[("", _("any tier")), ("affluent", _("affluent and above")),
                 ("wealth", _("wealth or private banking")), ("private", _("private banking"))],
        blank=True,
        help_text=_("High-value customers only (distinct customers only)."),
    )  # fmt: skip
    threshold = models.PositiveIntegerField(
        _("allowed"), help_text=_("An alert is raised when the count goes above this.")
    )
    window_minutes = models.PositiveIntegerField(_("within (minutes)"))
    roles = ArrayField(
        models.CharField(max_length=30, choices=Role.choices),
        verbose_name=_("applies to roles"),
        default=list,
        blank=True,
        help_text=_("Empty: every role."),
    )
    freeze_account = models.BooleanField(
        _("freeze the account"),
        default=False,
        help_text=_("Freeze the account and end its sessions when the alert is raised."),
    )

    class Meta:
        verbose_name = _("access anomaly rule")
        verbose_name_plural = _("access anomaly rules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gt=0), name="accessrule_threshold"),
            models.CheckConstraint(
                condition=Q(window_minutes__gte=1, window_minutes__lte=7 * 24 * 60),
                name="accessrule_window",
            ),
            models.CheckConstraint(
                condition=Q(measure="customers") | Q(min_tier="", actions=[]),
                name="accessrule_customer_filters",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AccessAlertQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=AccessAlert.Status.OPEN)


class AccessAlert(models.Model):
    """One user passing one rule: open until a compliance officer reviews it. At most one
    open alert per rule and user (a unique constraint), however many reads follow."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Legitimate")
        CONFIRMED = "confirmed", _("Misuse confirmed")

    rule = models.ForeignKey(
        AccessRule, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("rule")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("user"),
    )  # fmt: skip
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.OPEN)
    raised_at = models.DateTimeField(_("raised at"), db_default=Now())
    window_start = models.DateTimeField(_("window from"))
    count = models.PositiveIntegerField(_("count"))
    threshold = models.PositiveIntegerField(_("allowed"))
    froze_account = models.BooleanField(_("froze the account"), default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("reviewed by"),
    )  # fmt: skip
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review"), blank=True)

    objects = AccessAlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("access alert")
        verbose_name_plural = _("access alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "user"], condition=Q(status="open"), name="accessalert_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status="open", reviewed_at__isnull=True)
                | (~Q(status="open") & Q(reviewed_at__isnull=False, reviewed_by__isnull=False)),
                name="accessalert_reviewed",
            ),
        ]
        indexes = [
            models.Index(
                fields=["-raised_at"], condition=Q(status="open"), name="accessalert_open_idx"
            ),
            models.Index(fields=["user", "-raised_at"], name="accessalert_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.user}"


class ChainLink(models.Model):
    """One audit row's link in its table's hash chain, written by the database when the
    row's transaction commits (migration 0004): row_hash = sha256(prev_hash || the row's
    canonical JSON), prev_hash the link before's row_hash. Append-only; read by
    compliance.chain to verify, never written by the application."""

    pk = models.CompositePrimaryKey("table_name", "seq")
    table_name = models.CharField(max_length=63)
    seq = models.BigIntegerField()
    row_id = models.BigIntegerField()
    prev_hash = models.BinaryField()
    row_hash = models.BinaryField()

    class Meta:
        verbose_name = _("audit chain link")
        verbose_name_plural = _("audit chain links")
        constraints = [
            models.UniqueConstraint(fields=["table_name", "row_id"], name="chainlink_row"),
            models.CheckConstraint(condition=Q(seq__gt=0), name="chainlink_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.table_name} #{self.seq}"


class RecentRead(models.Model):
    """When a user last read a customer, by kind of read: what the access-anomaly rules
    count, so a rule's check costs the distinct customers a user read (a few dozen), not
    every read in the window (thousands for a scraper). Kept by compliance.anomalies after
    each logged read, derived from the access log and pruned after the longest window a
    rule may have (7 days); the access log stays the record. The customer's value tier is
    kept as it was at the last read, so a high-value rule reads no customer rows."""

    pk = models.CompositePrimaryKey("user_id", "customer_id", "action")
    user_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=AccessLog.Action.choices)
    last_at = models.DateTimeField()
    tier = models.CharField(max_length=12, blank=True)

    class Meta:
        verbose_name = _("recent read")
        verbose_name_plural = _("recent reads")

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} {self.customer_id} @ {self.last_at:%Y-%m-%d %H:%M}"


# Risk warnings live in their own module (one subject, one file); imported here so Django
# finds them as the app's models.
# The suitability rules, checks and sales likewise (issue 18).
from compliance.suitability_models import (  # noqa: E402
    Purpose,
    Sale,
    SuitabilityCheck,
    SuitabilityRuleSet,
)
from compliance.warning_models import (  # noqa: E402
    RiskSignal,
    RiskWarning,
    RiskWarningKind,
    Severity,
)

__all__ = [
    "AccessAlert", "AccessRule", "ChainLink", "DataChange", "Purpose", "RecentRead",
    "RiskSignal", "RiskWarning", "RiskWarningKind", "Sale", "Severity", "SuitabilityCheck",
    "SuitabilityRuleSet",
]  # fmt: skip
