"""Models and their scores, value tiers and lifetime values.

A ModelVersion is one trained model with everything a model auditor asks for: the features
and how they were encoded, the training window, the row counts, the held-out metrics of
LightGBM and of the logistic-regression baseline trained beside it, who trained it and who
activated it. The model itself is in the row (LightGBM's text format and the baseline's
coefficients), so every worker scores with the same one. At most one version of a name is
active (a partial unique index); activation is by a second person (a check constraint) and
refused for a model that does worse than its baseline (analytics.services).

CustomerScore keeps each day's score with the version that made it and its top three
reasons; CustomerValue is each customer's value tier and lifetime value as of the last
nightly run (analytics.value documents the formulas; TierThreshold, ProductMargin and
ValuePolicy are their settings, edited in the admin).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from analytics.text_models import (  # noqa: F401 - the text models live beside, one app
    FeedbackFollowUp,
    NeedPhrase,
    TextSentiment,
)
from customers.models import Account, Customer


class ModelVersionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=ModelVersion.Status.ACTIVE)


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINED = "trained", _("Trained")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    class Source(models.TextChoices):
        CRM = "crm", _("The CRM's own history")
        CSV = "csv", _("A labelled file")

    name = models.SlugField(_("model"), max_length=60)
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.TRAINED)
    source = models.CharField(_("trained on"), max_length=4, choices=Source)
    source_detail = models.CharField(_("data"), max_length=200, blank=True)
    label = models.CharField(_("label"), max_length=120)
    # [{"name", "kind": "numeric"|"categorical", "categories": [...], "label"}] in model order.
    features = models.JSONField(_("features"))
    dropped = models.JSONField(_("columns left out"), default=dict, blank=True)
    holdout = models.CharField(_("hold-out"), max_length=120)
    window_start = models.DateField(_("training window from"), null=True, blank=True)
    window_end = models.DateField(_("training window to"), null=True, blank=True)
    rows_train = models.PositiveIntegerField(_("training rows"))
    rows_test = models.PositiveIntegerField(_("held-out rows"))
    positives_train = models.PositiveIntegerField(_("positives in training"))
    positives_test = models.PositiveIntegerField(_("held-out positives"))
    # {"roc_auc", "pr_auc", "brier", "calibration": [[mean predicted, observed, rows], ...]}
    metrics = models.JSONField(_("metrics"))
    baseline_metrics = models.JSONField(_("baseline metrics"))
    params = models.JSONField(_("training parameters"), default=dict)
    model_text = models.TextField(_("LightGBM model"), editable=False)
    # {"columns": [...], "mean": [...], "scale": [...], "coef": [...], "intercept": x}
    baseline = models.JSONField(_("baseline model"), editable=False)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("trained by"), on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    trained_at = models.DateTimeField(_("trained at"), default=timezone.now)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("activated by"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(status="active"), name="model_one_active"
            ),
            # Model risk management: the one who trained a model does not put it to work.
            models.CheckConstraint(
                condition=Q(activated_by__isnull=True) | ~Q(activated_by=F("trained_by")),
                name="model_activated_by_second_person",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(activated_by__isnull=False),
                name="model_active_has_activator",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(name)s version %(version)d") % {
            "name": self.name,
            "version": self.version,
        }

    @property
    def beats_baseline(self) -> bool:
        """LightGBM's held-out ROC AUC is at least the baseline's (the activation rule)."""
        return self.metrics.get("roc_auc", 0) >= self.baseline_metrics.get("roc_auc", 0)


class CustomerScore(models.Model):
    """One customer's score by one model version on one day; rewritten, never duplicated,
    when the day's run is repeated."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, verbose_name=_("model version"), on_delete=models.PROTECT, related_name="+"
    )
    # The version's name, copied so "the latest churn score of this customer" is one index
    # probe whichever version made it.
    model_name = models.SlugField(_("model"), max_length=60)
    score = models.FloatField(_("score"))
    # [{"feature", "value", "contribution"}], the three largest contributions towards the
    # score, rendered in the reader's language by analytics.reasons.
    reasons = models.JSONField(_("reasons"), default=list)
    scored_on = models.DateField(_("scored on"))
    scored_at = models.DateTimeField(_("scored at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "scored_on", "customer"], name="customer_score_daily"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=1), name="customer_score_probability"
            ),
        ]
        indexes = [
            models.Index(
                "customer", "model_name", F("scored_on").desc(), name="customer_score_latest_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_name} {self.customer_id}: {self.score:.3f}"


class TierThreshold(models.Model):
    """A value tier: customers whose value score (analytics.value) reaches `min_value` and
    no higher tier's. `customer_tier` is what the customer record shows and publishes
    (Customer.Tier: the same four levels by default; a bank with more value tiers than
    customer tiers maps several to one)."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60)
    min_value = models.DecimalField(_("from value score (CNY)"), max_digits=18, decimal_places=2)
    customer_tier = models.CharField(
        _("tier on the customer record"), max_length=12, choices=Customer.Tier
    )

    class Meta:
        verbose_name = _("value tier threshold")
        verbose_name_plural = _("value tier thresholds")
        ordering = ["-min_value"]
        constraints = [
            models.UniqueConstraint(fields=["min_value"], name="tier_threshold_unique_value"),
            models.CheckConstraint(condition=Q(min_value__gte=0), name="tier_threshold_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class ProductMargin(models.Model):
    """What a product kind earns the bank a year: a margin on its balance (deposit spread,
    loan margin, wealth fee) plus a fixed fee per account."""

    kind = models.CharField(_("product type"), max_length=16, choices=Account.Kind, unique=True)
    margin_percent = models.DecimalField(
        _("yearly margin (percent of balance)"), max_digits=6, decimal_places=3, default=0
    )
    fee_per_year = models.DecimalField(
        _("yearly fee per account (CNY)"), max_digits=12, decimal_places=2, default=0
    )

    class Meta:
        verbose_name = _("product margin")
        verbose_name_plural = _("product margins")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()


class ValuePolicy(models.Model):
    """The weights of the value score and the lifetime value (one row)."""

    stickiness_weight = models.DecimalField(
        _("stickiness weight"), max_digits=4, decimal_places=2, default=0.4,
        help_text=_(
            "How far stickiness moves the value score: 0.4 moves it up to 20 percent either way."
        ),
    )  # fmt: skip
    weight_products = models.DecimalField(
        _("weight: kinds of product"), max_digits=4, decimal_places=2, default=0.35
    )
    weight_tenure = models.DecimalField(_("weight: tenure"), max_digits=4, decimal_places=2,
                                        default=0.15)  # fmt: skip
    weight_salary = models.DecimalField(
        _("weight: salary credit"), max_digits=4, decimal_places=2, default=0.25
    )
    weight_autopay = models.DecimalField(
        _("weight: automatic payments"), max_digits=4, decimal_places=2, default=0.1
    )
    weight_digital = models.DecimalField(
        _("weight: digital activity"), max_digits=4, decimal_places=2, default=0.15
    )
    overdue_30_factor = models.DecimalField(
        _("factor for a loan 30+ days overdue"), max_digits=4, decimal_places=2, default=0.8
    )
    overdue_90_factor = models.DecimalField(
        _("factor for a loan 90+ days overdue"), max_digits=4, decimal_places=2, default=0.5
    )
    discount_rate = models.DecimalField(
        _("yearly discount rate"), max_digits=4, decimal_places=3, default=0.08
    )
    horizon_years = models.PositiveSmallIntegerField(_("lifetime horizon (years)"), default=10)
    default_churn = models.DecimalField(
        _("6-month churn probability without a model"), max_digits=4, decimal_places=3,
        default=0.1,
    )  # fmt: skip
    high_value_tier = models.SlugField(
        _("high value from tier"), max_length=20, default="wealth",
        help_text=_("Customers in this tier or above count as high value on the RM's list."),
    )  # fmt: skip
    high_churn = models.DecimalField(
        _("high churn risk from"), max_digits=4, decimal_places=3, default=0.3
    )
    low_stickiness = models.DecimalField(
        _("low stickiness below"), max_digits=4, decimal_places=3, default=0.35
    )

    class Meta:
        verbose_name = _("value policy")
        verbose_name_plural = _("value policy")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="value_policy_one_row")]

    def __str__(self) -> str:
        return str(_("Value policy"))

    @classmethod
    def current(cls) -> "ValuePolicy":
        return cls.objects.get_or_create(pk=1)[0]


class CustomerValueQuerySet(models.QuerySet):
    def at_risk(self, policy: "ValuePolicy"):
        """Low stickiness or a high churn probability, as the policy sets them."""
        return self.filter(
            Q(stickiness__lt=policy.low_stickiness) | Q(churn_probability__gte=policy.high_churn)
        )


class CustomerValue(models.Model):
    """A customer's value tier and lifetime value as of the last nightly run."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, primary_key=True,
        related_name="+",
    )  # fmt: skip
    computed_on = models.DateField(_("computed on"))
    aum = models.DecimalField(_("average daily assets (3 months)"), max_digits=18, decimal_places=2)
    stickiness = models.FloatField(_("stickiness"))
    risk_factor = models.FloatField(_("risk factor"))
    value_score = models.DecimalField(_("value score"), max_digits=18, decimal_places=2)
    tier = models.SlugField(_("value tier"), max_length=20)
    tier_since = models.DateField(_("in this tier since"))
    previous_tier = models.SlugField(_("previous tier"), max_length=20, blank=True)
    # {"kinds", "tenure_years", "salary", "autopay", "digital", "overdue_days"}
    components = models.JSONField(_("components"), default=dict)
    margin_per_year = models.DecimalField(_("yearly margin"), max_digits=18, decimal_places=2)
    churn_probability = models.FloatField(_("churn probability (6 months)"))
    churn_from_model = models.BooleanField(_("churn from a model"), default=False)
    clv = models.DecimalField(_("lifetime value"), max_digits=18, decimal_places=2)

    objects = CustomerValueQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer value")
        verbose_name_plural = _("customer values")
        indexes = [models.Index(fields=["tier", "-clv"], name="customer_value_tier_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.tier}"


class NightlyRun(models.Model):
    """One day's scoring run: claimed by a conditional update, so a second run of the same
    day (beat firing twice, a retried task) does nothing."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    day = models.DateField(_("day"), unique=True)
    status = models.CharField(_("status"), max_length=8, choices=Status, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    scores = models.PositiveIntegerField(_("scores"), default=0)
    tier_changes = models.PositiveIntegerField(_("tier changes"), default=0)
    timings = models.JSONField(_("timings (s)"), default=dict)
    failure = models.CharField(_("failure"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("nightly run")
        verbose_name_plural = _("nightly runs")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} {self.status}"


# KPI snapshots and reports (issue 21): their own module, here so Django finds them.
from analytics.kpi_models import (  # noqa: E402, F401
    KpiBalanceDay,
    KpiCampaignDay,
    KpiChange,
    KpiCustomerDay,
    KpiQueueDay,
    KpiRun,
    KpiTierMoveDay,
    KpiWatchList,
    ReportDefinition,
    ReportRun,
)
