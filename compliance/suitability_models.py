"""The suitability rules (versioned), the record of every check that blocked and of every
allowed sale, and the sales with their evidence (compliance.suitability is the engine,
compliance.sales the services; docs/compliance.md, "Suitability").

- SuitabilityRuleSet: one version of the rules. Rows are never changed or removed (a
  trigger refuses it): editing in admin adds the next version. The version in force at a
  moment is the highest whose `effective_from` has come, so exactly one is in force and what
  was in force for any past check can be read back. In the data-change trail (each new
  version with who made it).
- SuitabilityCheck: evidence, append-only like the consent history (a trigger refuses
  UPDATE and DELETE): who, customer, product, rule version, purpose, verdict, code and the
  reasons as shown (in Chinese, the bank's language). A set-based check over many customers
  (marketing) is one summary row per product, purpose and run, with the counts.
- Sale: a sale recorded with the evidence the regulator asks for, `recorded` until core
  banking confirms it (`sale.confirmed`, matched by `reference`) and it links to the
  holding. In the data-change trail.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Account, Customer, Product, ProductKind, RiskProfile

# The regulator's defaults: C1 → R1 … C5 → R5; version 1 is seeded with them (migration).
DEFAULT_MATRIX = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
DEFAULT_RECORDING_KINDS = [ProductKind.WEALTH, ProductKind.FUND, ProductKind.INSURANCE]
RULE_DEFAULTS = {
    "matrix": DEFAULT_MATRIX,
    "cooling_off_hours": 24,
    "special_care_age": 65,
    "wealth_hard_block": True,
    "recording_min_risk": 4,
    "recording_kinds": [str(k) for k in DEFAULT_RECORDING_KINDS],
}


class Purpose(models.TextChoices):
    SALE = "sale", _("Sale")
    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service")


class SuitabilityRuleSetQuerySet(models.QuerySet):
    def in_force(self, at=None):
        """The version in force at `at` (now): the highest whose effective_from has come."""
        return self.filter(effective_from__lte=at or timezone.now()).order_by("-version").first()


class SuitabilityRuleSet(models.Model):
    version = models.PositiveIntegerField(_("version"), unique=True)
    # Risk tolerance C1–C5 ("1"–"5") → the highest product risk R1–R5 it admits.
    matrix = models.JSONField(
        _("tolerance → highest product risk"),
        help_text=_('C-level to highest R-level, e.g. {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}.'),
    )
    cooling_off_hours = models.PositiveIntegerField(
        _("cooling-off for private placements (hours)"), default=24
    )
    special_care_age = models.PositiveSmallIntegerField(_("special care from age"), default=65)
    wealth_hard_block = models.BooleanField(
        _("wealth products above tolerance are a hard block"),
        default=True,
        help_text=_("If set, a wealth product above the customer's tolerance cannot be sold "
                    "even if the customer insists."),
    )  # fmt: skip
    recording_min_risk = models.PositiveSmallIntegerField(
        _("dual recording from product risk"),
        default=4,
        help_text=_("Products of the kinds below at or above this risk level (1–5; 6: never) "
                    "need dual audio-video recording."),
    )  # fmt: skip
    recording_kinds = ArrayField(
        models.CharField(max_length=20, choices=ProductKind),
        verbose_name=_("dual recording for product types"),
        default=list,
        blank=True,
    )
    effective_from = models.DateTimeField(_("in force from"), default=timezone.now)
    note = models.CharField(_("why this version"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), db_default=Now())

    objects = SuitabilityRuleSetQuerySet.as_manager()

    class Meta:
        verbose_name = _("suitability rule set")
        verbose_name_plural = _("suitability rule sets")
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="ruleset_version"),
            models.CheckConstraint(
                condition=Q(matrix__has_keys=list(DEFAULT_MATRIX)), name="ruleset_matrix_levels"
            ),
            models.CheckConstraint(
                condition=Q(special_care_age__gte=50, special_care_age__lte=100),
                name="ruleset_special_care_age",
            ),
            models.CheckConstraint(
                condition=Q(recording_min_risk__gte=1, recording_min_risk__lte=6),
                name="ruleset_recording_min_risk",
            ),
        ]

    def __str__(self) -> str:
        return _("Rules version %(version)d") % {"version": self.version}

    def max_risk(self, level: int) -> int:
        return int(self.matrix[str(level)])

    def levels_admitting(self, product_risk: int) -> list[int]:
        """The tolerance levels whose highest product risk is at least `product_risk`."""
        return [level for level in range(1, 6) if self.max_risk(level) >= product_risk]


class SuitabilityCheck(models.Model):
    """One suitability check that blocked, or that allowed a sale (Sale.check), or one run
    of the set-based form for a product (customer empty, the counts filled)."""

    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("by"),
    )  # fmt: skip
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("customer"),
    )  # fmt: skip
    # The customer's branch at the time (the screen's branch filter without a join).
    branch = models.ForeignKey(
        "bankcrm.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("branch"),
    )  # fmt: skip
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    ruleset = models.ForeignKey(
        SuitabilityRuleSet, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("rules version"),
    )  # fmt: skip
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose)
    allowed = models.BooleanField(_("allowed"))
    code = models.CharField(_("code"), max_length=40)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    requirements = models.JSONField(_("requirements"), default=dict, blank=True)
    # Set-based runs only: how many customers were checked and how many may be offered.
    customers_checked = models.PositiveIntegerField(null=True, blank=True)
    customers_allowed = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("suitability check")
        verbose_name_plural = _("suitability checks")
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(customers_checked__isnull=False),
                name="suitabilitycheck_customer_or_run",
            ),
        ]
        indexes = [
            models.Index(fields=["-at", "-id"], name="suitcheck_recent_idx"),
            models.Index(fields=["product", "-at"], name="suitcheck_product_idx"),
            models.Index(fields=["branch", "-at"], name="suitcheck_branch_idx"),
            models.Index(fields=["actor", "-at"], name="suitcheck_actor_idx"),
            models.Index(fields=["customer", "-at"], name="suitcheck_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.at:%Y-%m-%d %H:%M}"


class Sale(models.Model):
    class Status(models.TextChoices):
        RECORDED = "recorded", _("Recorded")
        CONFIRMED = "confirmed", _("Confirmed by core banking")

    class Channel(models.TextChoices):
        BRANCH = "branch", _("At the branch")
        VISIT = "visit", _("Visit to the customer")
        VIDEO = "video", _("Remote video")

    class Confirmation(models.TextChoices):
        SIGNATURE = "signature", _("Signature on paper")
        OTP = "otp", _("One-time password (SMS)")

    reference = models.CharField(_("sale reference"), max_length=32, unique=True)
    suitability_check = models.OneToOneField(
        SuitabilityCheck, on_delete=models.PROTECT, related_name="sale",
        verbose_name=_("suitability check"),
    )  # fmt: skip
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    branch = models.ForeignKey(
        "bankcrm.Branch", on_delete=models.PROTECT, related_name="+", verbose_name=_("branch")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("recorded by"),
    )  # fmt: skip
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.RECORDED)
    # The evidence: what the customer's assessment said, what the product was, what the
    # customer was shown and how they confirmed it.
    risk_profile = models.ForeignKey(
        RiskProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("risk assessment"),
    )  # fmt: skip
    questionnaire_version = models.PositiveIntegerField(
        _("questionnaire version"), null=True, blank=True
    )
    customer_risk_level = models.PositiveSmallIntegerField(
        _("risk tolerance"), null=True, blank=True
    )
    risk_score = models.PositiveIntegerField(_("score"), null=True, blank=True)
    lowest_category = models.BooleanField(_("lowest risk category"), default=False)
    special_care = models.BooleanField(_("special care"), default=False)
    product_risk_level = models.PositiveSmallIntegerField(_("product risk"))
    warning_text = models.TextField(_("warning shown"))
    confirmation_method = models.CharField(
        _("customer confirmed by"), max_length=10, choices=Confirmation
    )
    confirmation_ref = models.CharField(_("confirmation reference"), max_length=64)
    mismatch_confirmed = models.BooleanField(
        _("customer insisted on a product above tolerance"), default=False
    )
    recording_required = models.BooleanField(_("dual recording required"), default=False)
    recording_ref = models.CharField(_("recording reference"), max_length=64, blank=True)
    recording_sha256 = models.CharField(_("recording SHA-256"), max_length=64, blank=True)
    cooling_off_ends = models.DateTimeField(_("cooling-off ends"), null=True, blank=True)
    # Set by core banking's sale.confirmed.
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    holding = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("holding"),
    )  # fmt: skip
    confirmation_event = models.CharField(_("confirmed by event"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="sale_amount_positive"),
            models.CheckConstraint(
                condition=Q(recording_sha256="") | Q(recording_sha256__regex=r"^[0-9a-f]{64}$"),
                name="sale_recording_sha256",
            ),
            models.CheckConstraint(
                condition=Q(recording_required=False)
                | (~Q(recording_ref="") & ~Q(recording_sha256="")),
                name="sale_recording_when_required",
            ),
            models.CheckConstraint(condition=~Q(confirmation_ref=""), name="sale_confirmation"),
            models.CheckConstraint(
                condition=Q(status="recorded", holding__isnull=True, confirmed_at__isnull=True)
                | Q(status="confirmed", holding__isnull=False, confirmed_at__isnull=False),
                name="sale_confirmed_has_holding",
            ),
            models.UniqueConstraint(
                fields=["holding"], condition=Q(holding__isnull=False), name="sale_one_per_holding"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-recorded_at"], name="sale_customer_idx"),
        ]

    def __str__(self) -> str:
        return self.reference
