"""Risk warnings: trouble a customer ran into (a court enforcement, an overdue loan, an
expired KYC) that the RM must see and act on, and that stops marketing when severe.

- RiskWarningKind: what can be signalled, kept in admin: names, the default severity, the
  action text the RM is shown, how long a warning stays in force without a new signal.
- RiskSignal: every signal received, from the integration API (`risk.signal`) or from the
  bank's own data (overdue loans, expired KYC), once per (source, signal id): a replay
  finds its row and changes nothing. Append-only.
- RiskWarning: at most one open warning per customer and kind (a partial unique index);
  signals open or refresh it; it ends expired (no signal within its validity) or cleared
  by a person with a reason. compliance/warnings.py holds the rules.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Severity(models.IntegerChoices):
    """Ordered, so "never lower" is a comparison and the SQL a GREATEST."""

    INFO = 1, _("Info")
    WARNING = 2, _("Warning")
    SEVERE = 3, _("Severe")


SEVERITY_CODES = {"info": Severity.INFO, "warning": Severity.WARNING, "severe": Severity.SEVERE}


class RiskWarningKind(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    default_severity = models.PositiveSmallIntegerField(
        _("default severity"), choices=Severity, default=Severity.WARNING,
        help_text=_("Used when a signal does not say how severe it is."),
    )  # fmt: skip
    action_zh = models.TextField(_("what the RM should do (Chinese)"))
    action_en = models.TextField(_("what the RM should do (English)"), blank=True)
    validity_days = models.PositiveIntegerField(
        _("valid for (days)"),
        help_text=_("A warning expires this many days after its latest signal."),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Signals of an inactive kind are not applied.")
    )

    class Meta:
        verbose_name = _("risk warning kind")
        verbose_name_plural = _("risk warning kinds")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_severity__in=Severity.values), name="riskwarningkind_severity"
            ),
            models.CheckConstraint(
                condition=Q(validity_days__gte=1), name="riskwarningkind_validity"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en

    @property
    def action(self) -> str:
        if (get_language() or "").startswith("zh"):
            return self.action_zh
        return self.action_en or self.action_zh


class RiskWarningQuerySet(models.QuerySet):
    def in_force(self, at=None):
        """Open and not past its expiry (the sweep marks those expired, maybe later)."""
        return self.filter(status=RiskWarning.Status.OPEN, expires_at__gt=at or timezone.now())

    def severe(self):
        return self.filter(severity=Severity.SEVERE)


class RiskWarning(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLEARED = "cleared", _("Cleared")
        EXPIRED = "expired", _("Expired")

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("customer"),
    )  # fmt: skip
    kind = models.ForeignKey(
        RiskWarningKind, on_delete=models.PROTECT, related_name="warnings", verbose_name=_("kind")
    )
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity)
    # The integration source's code, or "internal" for the bank's own data.
    source = models.CharField(_("source"), max_length=30)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    first_seen = models.DateTimeField(_("first signalled"))
    last_seen = models.DateTimeField(_("last signalled"))
    expires_at = models.DateTimeField(_("expires at"))
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.OPEN)
    opened_at = models.DateTimeField(_("opened at"), db_default=Now())
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("cleared by"),
    )  # fmt: skip
    cleared_reason = models.TextField(_("reason"), blank=True)
    # When it stopped being open: cleared by a person, or marked expired by the sweep.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_signal_key = models.CharField(_("last signal"), max_length=200, blank=True)

    objects = RiskWarningQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk warning")
        verbose_name_plural = _("risk warnings")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=Q(status="open"),
                name="riskwarning_one_open",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="riskwarning_severity"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True, cleared_by__isnull=True)
                | Q(status="expired", closed_at__isnull=False, cleared_by__isnull=True)
                | (
                    Q(status="cleared", closed_at__isnull=False, cleared_by__isnull=False)
                    & ~Q(cleared_reason="")
                ),
                name="riskwarning_closed",
            ),
            models.CheckConstraint(
                condition=Q(first_seen__lte=models.F("last_seen")), name="riskwarning_seen"
            ),
        ]
        indexes = [
            # has_severe_warning and its SQL form (the suitability engine, marketing's
            # set-based check): an index-only probe per customer.
            models.Index(
                fields=["customer"],
                include=["expires_at"],
                condition=Q(status="open", severity=Severity.SEVERE),
                name="riskwarning_severe_open",
            ),
            # The sweep: open warnings by expiry.
            models.Index(
                fields=["expires_at"], condition=Q(status="open"), name="riskwarning_expiry"
            ),
            # Compliance's list, newest first, and a customer's history.
            models.Index(fields=["-opened_at", "-id"], name="riskwarning_recent"),
            models.Index(fields=["customer", "-opened_at"], name="riskwarning_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.customer_id}"

    @property
    def is_severe(self) -> bool:
        return self.severity == Severity.SEVERE


class RiskSignal(models.Model):
    """One signal as received; the ledger that makes signals replay-safe (unique per source
    and the source's signal id) and the warning's evidence trail. Append-only."""

    class Outcome(models.TextChoices):
        OPENED = "opened", _("Opened a warning")
        REFRESHED = "refreshed", _("Refreshed the warning")
        STALE = "stale", _("Older than the warning's end: ignored")
        LAPSED = "lapsed", _("Already past its validity: ignored")
        INACTIVE = "inactive", _("Kind not active: ignored")

    source = models.CharField(_("source"), max_length=30)
    signal_id = models.CharField(_("signal id"), max_length=100)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("customer"),
    )  # fmt: skip
    kind = models.ForeignKey(
        RiskWarningKind, on_delete=models.PROTECT, related_name="+", verbose_name=_("kind")
    )
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity)
    reported_by = models.CharField(_("reported by"), max_length=100, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), db_default=Now())
    warning = models.ForeignKey(
        RiskWarning, on_delete=models.PROTECT, null=True, blank=True, related_name="signals",
        verbose_name=_("warning"),
    )  # fmt: skip
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome)

    class Meta:
        verbose_name = _("risk signal")
        verbose_name_plural = _("risk signals")
        constraints = [
            models.UniqueConstraint(fields=["source", "signal_id"], name="risksignal_once"),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="risksignal_severity"
            ),
        ]
        indexes = [models.Index(fields=["warning", "-occurred_at"], name="risksignal_warning")]

    def __str__(self) -> str:
        return f"{self.source}:{self.signal_id}"
