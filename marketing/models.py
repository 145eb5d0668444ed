"""Segments, campaigns, the deliveries that carry them, and lifecycle journeys.

- A Segment is a tree of conditions (marketing/segments.py) evaluated over the customers
  its owner may see (dynamic), or a kept list of members (static: by hand or from a CSV of
  CIFs; snapshot: a dynamic segment's members frozen at a time).
- A Campaign goes draft → pending approval → approved → sending → done (or cancelled); a
  second person approves it (approved_by ≠ created_by, a check constraint). It has one
  CampaignStep per channel with a CampaignMessage per language (and per A/B variant), and
  Variants that split its audience, the control group among them.
- A Delivery is one (campaign, step, customer, channel), unique, written set-based when
  the campaign is launched (marketing/audience.py), before anything is sent: the customers
  left out keep a row with their reason, the others are sent through the core outbox with
  the row's idempotency key (marketing/sending.py). `next_attempt_at` is the outbox's lease
  while a worker holds the row and the quiet-hours hold before it is sent.
- A Journey is a rule that fires once per customer and occurrence (JourneyFiring, unique)
  and sends through the same checks and deliveries.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm.models import Branch
from customers.models import Customer, Product, ProductDocument


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    APP = "app", _("App push")
    CALL = "call", _("RM call task")


# The consent channel (customers.Consent.Channel) each marketing channel needs.
CONSENT_CHANNEL = {"sms": "sms", "email": "email", "app": "app", "call": "phone"}
# Channels that wait out the quiet hours (no SMS or calls at night).
QUIET_CHANNELS = ("sms", "call")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class SegmentQuerySet(models.QuerySet):
    def live(self):
        return self.filter(archived=False)


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (evaluated when used)")
        STATIC = "static", _("Static list")
        SNAPSHOT = "snapshot", _("Snapshot (frozen)")

    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=300, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind, default=Kind.DYNAMIC)
    # {"op": "and"|"or"|"not", "children": [...]} | {"field", "op", "value", "days"?}
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    # A snapshot: the dynamic segment it froze, and when.
    source = models.ForeignKey(
        "self", verbose_name=_("frozen from"), on_delete=models.SET_NULL, null=True,
        blank=True, related_name="snapshots",
    )  # fmt: skip
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    last_count = models.PositiveIntegerField(_("last count"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    count_ms = models.PositiveIntegerField(_("count took (ms)"), null=True, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="segment_owner_idx"),
            models.Index(fields=["branch", "-created_at"], name="segment_branch_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="snapshot", frozen_at__isnull=False) | ~Q(kind="snapshot"),
                name="segment_snapshot_frozen",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_members(self) -> bool:
        """Static lists and snapshots keep their members; dynamic ones are evaluated."""
        return self.kind != self.Kind.DYNAMIC


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.customer_id}"


class ProhibitedPhrase(models.Model):
    """Promises a bank may not make in marketing (保本, 稳赚, 无风险 …), kept by compliance in
    admin; a campaign whose text contains an active one cannot be submitted or approved."""

    phrase = models.CharField(_("phrase"), max_length=60, unique=True)
    reason = models.CharField(_("why"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("prohibited phrase")
        verbose_name_plural = _("prohibited phrases")
        ordering = ["phrase"]

    def __str__(self) -> str:
        return self.phrase

    @classmethod
    def active(cls) -> list[str]:
        return list(cls.objects.filter(is_active=True).values_list("phrase", flat=True))

    @staticmethod
    def found_in(text: str, phrases: list[str]) -> list[str]:
        """Which of the phrases the text contains (spaces and case ignored)."""
        flat = "".join(text.split()).casefold()
        return [p for p in phrases if "".join(p.split()).casefold() in flat]


class FrequencyCap(models.Model):
    """How many marketing messages one customer may be sent across all campaigns and
    journeys in a window; the active row counts (none active: 2 in 7 days)."""

    max_messages = models.PositiveSmallIntegerField(_("at most (messages)"), default=2)
    window_days = models.PositiveSmallIntegerField(
        _("per (days)"), default=7, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    DEFAULT = (2, 7)

    class Meta:
        verbose_name = _("frequency cap")
        verbose_name_plural = _("frequency caps")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_frequency_cap"
            ),
            models.CheckConstraint(condition=Q(window_days__gte=1), name="cap_window_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.max_messages} / {self.window_days}d"

    @classmethod
    def current(cls) -> tuple[int, int]:
        row = cls.objects.filter(is_active=True).values_list("max_messages", "window_days")
        return row.first() or cls.DEFAULT


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        SENDING = "sending", _("Sending")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    class Goal(models.TextChoices):
        NONE = "", _("None")
        ACCOUNT_OPENED = "account_opened", _("An account opened")
        PRODUCT_BOUGHT = "product_bought", _("A product bought")

    name = models.CharField(_("name"), max_length=120)
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.PROTECT, related_name="campaigns"
    )
    channels = ArrayField(
        models.CharField(max_length=8, choices=Channel), verbose_name=_("channels"), default=list
    )
    # The catalogue product the campaign sells (optional). campaign_save copies its name and
    # rating into product_name / product_risk: the campaign's own record of what it sold,
    # as it was then, whatever the catalogue says later. The risk disclosure attached is
    # the product's current risk_disclosure document, recorded at approval and at launch.
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    product_name = models.CharField(_("product"), max_length=100, blank=True)
    product_risk = models.CharField(
        _("product risk"), max_length=2, blank=True, default="",
        choices=[(f"R{n}", f"R{n}") for n in range(1, 6)],
    )  # fmt: skip
    risk_disclosure_document = models.ForeignKey(
        ProductDocument, verbose_name=_("risk disclosure"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    starts_at = models.DateTimeField(_("send from"), null=True, blank=True)
    goal = models.CharField(_("conversion goal"), max_length=20, choices=Goal, blank=True,
                            default="")  # fmt: skip
    goal_account_kind = models.CharField(_("account type converted"), max_length=16, blank=True)
    goal_days = models.PositiveSmallIntegerField(_("within (days)"), default=30)
    revenue_per_conversion = models.DecimalField(
        _("revenue per conversion"), max_digits=12, decimal_places=2, default=0
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    control_percent = models.PositiveSmallIntegerField(
        _("control group (%)"), default=0, validators=[MaxValueValidator(50)]
    )
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    audience_count = models.PositiveIntegerField(_("audience"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="campaign_creator_idx"),
            models.Index(fields=["branch", "-created_at"], name="campaign_branch_idx"),
            models.Index(fields=["status"], name="campaign_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="campaign_approved_by_another",
            ),
            models.CheckConstraint(
                condition=Q(control_percent__lte=50), name="campaign_control_at_most_half"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class CampaignStep(models.Model):
    """One channel of a campaign, with its cost per message and budget."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="steps"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel)
    cost_per_message = models.DecimalField(
        _("cost per message"), max_digits=8, decimal_places=4, default=0
    )
    budget = models.DecimalField(
        _("budget"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("campaign step")
        verbose_name_plural = _("campaign steps")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "channel"], name="campaign_step_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.get_channel_display()}"


class Variant(models.Model):
    """A share of a campaign's audience (A/B split); the control group gets nothing and is
    measured against. Shares are whole percentages of those not held out."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="variants"
    )
    code = models.CharField(_("variant"), max_length=8)
    weight = models.PositiveSmallIntegerField(
        _("share (%)"), default=100, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="variant_unique"),
            models.CheckConstraint(condition=Q(weight__range=(1, 100)), name="variant_weight"),
        ]

    def __str__(self) -> str:
        return self.code


class CampaignMessage(models.Model):
    """The text of a step in one language (for one variant, or for all)."""

    step = models.ForeignKey(
        CampaignStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="messages"
    )
    variant = models.ForeignKey(
        Variant, verbose_name=_("variant"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="messages",
    )  # fmt: skip
    language = models.CharField(
        _("language"), max_length=8, choices=Language, default=Language.ZH_HANS
    )
    subject = models.CharField(_("subject"), max_length=150, blank=True)
    body = models.TextField(_("text"))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["step", "variant", "language"],
                nulls_distinct=False,
                name="campaign_message_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.step} · {self.get_language_display()}"


class Journey(models.Model):
    """A lifecycle rule in admin: whom it reaches each day, by what channel, saying what."""

    class Trigger(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday")
        MATURITY = "maturity", _("Time deposit or wealth product maturing")
        KYC_EXPIRY = "kyc_expiry", _("KYC expiring")
        RISK_EXPIRY = "risk_expiry", _("Risk assessment expiring")
        DORMANT = "dormant", _("Dormant customer reactivation")
        INSURANCE_RENEWAL = "renewal", _("Insurance policy due for renewal")
        PRODUCT_INTEREST = (
            "product_interest",
            _("Viewed the same product in the app three times in a week"),
        )

    name = models.CharField(_("name"), max_length=120)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger)
    days_ahead = models.PositiveSmallIntegerField(
        _("days ahead (or idle, for dormancy)"),
        default=7,
        help_text=_("Insurance renewals are usually announced 90 days ahead."),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel, default=Channel.SMS)
    subject = models.CharField(_("subject"), max_length=150, blank=True)
    body = models.TextField(_("text"))
    body_en = models.TextField(_("text (English)"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JourneyFiring(models.Model):
    """A journey reached a customer for one occurrence (a year's birthday, one maturity):
    unique, so a sweep run twice, or two at once, fires it once."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="firings")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    occurrence = models.CharField(_("occurrence"), max_length=60)
    fired_at = models.DateTimeField(_("fired at"), default=timezone.now)

    class Meta:
        verbose_name = _("journey firing")
        verbose_name_plural = _("journey firings")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer", "occurrence"], name="journey_firing_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}:{self.customer_id}:{self.occurrence}"


class LeftOut(models.TextChoices):
    NO_CONSENT = "no_consent", _("No marketing consent for the channel")
    OPTED_OUT = "opted_out", _("Opted out")
    QUIET_HOURS = "quiet_hours", _("Quiet hours")  # not left out: held (reported as such)
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
    UNSUITABLE = "unsuitable", _("Product not suitable")
    RISK_WARNING = "risk_warning", _("Severe risk warning")
    NO_ADDRESS = "no_address", _("No address for the channel")
    NO_RM = "no_rm", _("No relationship manager to call")
    INACTIVE = "inactive", _("Customer closed or not yet active")
    CANCELLED = "cancelled", _("Campaign cancelled")


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        LEFT_OUT = "left_out", _("Left out")
        CONTROL = "control", _("Control group")

    class Receipt(models.TextChoices):
        """What the gateway reported after the send (`message.receipt` through the
        integration API, marketing/receipts.py); blank until it says."""

        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="deliveries",
    )  # fmt: skip
    step = models.ForeignKey(
        CampaignStep, verbose_name=_("step"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    firing = models.OneToOneField(
        JourneyFiring, verbose_name=_("journey firing"), on_delete=models.CASCADE, null=True,
        blank=True, related_name="delivery",
    )  # fmt: skip
    variant = models.ForeignKey(
        Variant, verbose_name=_("variant"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="deliveries",
    )  # fmt: skip
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    left_out_reason = models.CharField(
        _("left out because"), max_length=16, choices=LeftOut, blank=True, default=""
    )
    held = models.BooleanField(_("held for quiet hours"), default=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Due time; while a worker holds the row, the end of its lease (bankcrm.outbox).
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    opted_out_at = models.DateTimeField(_("opted out"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    # Database defaults: marketing/audience.py writes rows by INSERT … SELECT.
    receipt = models.CharField(
        _("receipt"), max_length=12, choices=Receipt, blank=True, default="", db_default=""
    )
    receipt_at = models.DateTimeField(_("receipt time"), null=True, blank=True)
    receipt_detail = models.CharField(
        _("gateway's detail"), max_length=100, blank=True, default="", db_default=""
    )

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_due_idx", condition=Q(status="pending")
            ),
            models.Index(fields=["campaign", "status"], name="delivery_campaign_idx"),
            # The frequency cap: a customer's messages in the window, sent or on their way.
            models.Index(
                fields=["customer", "created_at"],
                name="delivery_cap_idx",
                condition=Q(status__in=["pending", "sent"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "step", "customer", "channel"],
                name="delivery_once_per_campaign_step",
            ),
            models.CheckConstraint(
                condition=Q(campaign__isnull=False, step__isnull=False, firing__isnull=True)
                | Q(campaign__isnull=True, step__isnull=True, firing__isnull=False),
                name="delivery_campaign_or_journey",
            ),
            models.CheckConstraint(
                condition=~Q(status="left_out") | ~Q(left_out_reason=""),
                name="delivery_left_out_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step or self.firing_id} · {self.get_channel_display()}"
