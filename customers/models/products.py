"""The product catalogue: what the bank sells and what customers hold (Account.product).

A Product carries what the suitability rules read: its risk level R1–R5 (an integer, so a
rule is `product.risk_level <= customer's tolerance`, C1–C5, in Python or SQL), who may buy
it (customer kinds, a minimum value tier), whether it is a private placement (私募) and when
it is on sale (status ON_SALE and today inside [sale_starts, sale_ends], both inclusive and
optional). Its documents (product description, risk disclosure) are versioned: a new file
is a new row with the next version number, rows are never changed or removed (a trigger
refuses it), and the current document of a kind is the one with the highest version.

Master data may come from core banking as `product.updated` events: `synced_at` and
`synced_sequence` are the (time, sequence) of the last event applied, and an event that is
not later than them (a replay, or one that arrived out of order) changes nothing.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ProductKind(models.TextChoices):
    CURRENT_DEPOSIT = "current_deposit", _("Current deposit")
    TIME_DEPOSIT = "time_deposit", _("Time deposit")
    STRUCTURED_DEPOSIT = "structured_deposit", _("Structured deposit")
    WEALTH = "wealth", _("Wealth management product")
    FUND = "fund", _("Fund")
    INSURANCE = "insurance", _("Insurance")
    BOND = "bond", _("Bond")
    PRECIOUS_METAL = "precious_metal", _("Precious metal")
    LOAN = "loan", _("Loan")
    CREDIT_CARD = "credit_card", _("Credit card")


class ProductRisk(models.IntegerChoices):
    """The product's risk rating; compared with the customer's tolerance (RiskTolerance)."""

    R1 = 1, _("R1 low risk")
    R2 = 2, _("R2 medium-low risk")
    R3 = 3, _("R3 medium risk")
    R4 = 4, _("R4 medium-high risk")
    R5 = 5, _("R5 high risk")


class ProductEligibility(models.TextChoices):
    """Which kinds of customer (Customer.Kind) may buy the product."""

    INDIVIDUAL = "individual", _("Individuals")
    CORPORATE = "corporate", _("Corporates")
    BOTH = "both", _("Individuals and corporates")


# Customer.Tier values and labels from lowest to highest (a test holds them equal; this
# module does not import customers.models): a product's minimum tier admits its own and
# those after it (eligible_tiers).
TIER_CHOICES = [
    ("mass", _("Mass")), ("affluent", _("Affluent")), ("wealth", _("Wealth")),
    ("private", _("Private banking")),
]  # fmt: skip
TIER_ORDER = tuple(value for value, _label in TIER_CHOICES)


def eligible_tiers(min_tier: str) -> list[str]:
    """The customer tiers a product with `min_tier` admits (for `tier = ANY(...)` in SQL)."""
    return list(TIER_ORDER[TIER_ORDER.index(min_tier) :])


class ProductQuerySet(models.QuerySet):
    def on_sale(self, on=None):
        """On sale on the local date `on` (today): status ON_SALE and inside the window."""
        day = on or timezone.localdate()
        return self.filter(
            Q(sale_starts__isnull=True) | Q(sale_starts__lte=day),
            Q(sale_ends__isnull=True) | Q(sale_ends__gte=day),
            status=Product.Status.ON_SALE,
        )


class Product(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ON_SALE = "on_sale", _("On sale")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    Kind = ProductKind
    Risk = ProductRisk
    Eligibility = ProductEligibility

    code = models.CharField(_("product code"), max_length=32, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=150, blank=True)
    kind = models.CharField(_("product type"), max_length=20, choices=ProductKind)
    issuer = models.CharField(_("issuer"), max_length=100, blank=True)
    risk_level = models.PositiveSmallIntegerField(_("risk level"), choices=ProductRisk)
    currency = models.CharField(_("currency"), max_length=3, default=settings.DEFAULT_CURRENCY)
    min_amount = models.DecimalField(
        _("minimum amount"), max_digits=18, decimal_places=2, default=0
    )
    term_days = models.PositiveIntegerField(_("term (days)"), null=True, blank=True)
    sale_starts = models.DateField(_("on sale from"), null=True, blank=True)
    sale_ends = models.DateField(_("on sale until"), null=True, blank=True)
    eligible_kinds = models.CharField(
        _("who may buy"), max_length=12, choices=ProductEligibility,
        default=ProductEligibility.BOTH,
    )  # fmt: skip
    min_tier = models.CharField(
        _("minimum customer tier"), max_length=12, choices=TIER_CHOICES,
        default="mass",
    )  # fmt: skip
    private_placement = models.BooleanField(_("private placement"), default=False)
    status = models.CharField(_("status"), max_length=12, choices=Status, default=Status.DRAFT)
    # The last product.updated event applied: (occurred_at, sequence); older ones are stale.
    synced_at = models.DateTimeField(_("last synchronised"), null=True, blank=True)
    synced_sequence = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="product_code_not_blank"),
            models.CheckConstraint(
                condition=Q(risk_level__gte=1, risk_level__lte=5), name="product_risk_range"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__gte=0), name="product_min_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(sale_starts__isnull=True)
                | Q(sale_ends__isnull=True)
                | Q(sale_ends__gte=models.F("sale_starts")),
                name="product_sale_window_order",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="product_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(eligible_kinds__in=ProductEligibility.values),
                name="product_eligible_kinds_valid",
            ),
            models.CheckConstraint(
                condition=Q(min_tier__in=TIER_ORDER), name="product_min_tier_valid"
            ),
        ]
        indexes = [
            # The list's filters, each in code order (the list's order).
            models.Index(fields=["kind", "code"], name="product_kind_idx"),
            models.Index(fields=["risk_level", "code"], name="product_risk_idx"),
            models.Index(
                fields=["sale_ends", "sale_starts"],
                condition=Q(status="on_sale"),
                name="product_on_sale_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        """The name in the active language (the Chinese one when there is no English)."""
        language = translation.get_language() or settings.LANGUAGE_CODE
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh

    def is_on_sale(self, on=None) -> bool:
        day = on or timezone.localdate()
        return (
            self.status == self.Status.ON_SALE
            and (self.sale_starts is None or self.sale_starts <= day)
            and (self.sale_ends is None or self.sale_ends >= day)
        )

    def admits_kind(self, customer_kind: str) -> bool:
        return self.eligible_kinds in (ProductEligibility.BOTH, customer_kind)

    def admits_tier(self, tier: str) -> bool:
        return tier in eligible_tiers(self.min_tier)


class ProductDocumentQuerySet(models.QuerySet):
    def current(self):
        """The latest version of each (product, kind): the documents in force."""
        return self.order_by("product_id", "kind", "-version").distinct("product_id", "kind")


class ProductDocument(models.Model):
    """One version of a product's document. The file is kept in the database (no local files
    for shared state: every web process sees it), with its SHA-256 as evidence of what was
    shown to a customer. Append-only: a trigger refuses UPDATE and DELETE."""

    class Kind(models.TextChoices):
        DESCRIPTION = "description", _("Product description")
        RISK_DISCLOSURE = "risk_disclosure", _("Risk disclosure")

    MAX_BYTES = 20 * 1024 * 1024

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="documents", verbose_name=_("product")
    )
    kind = models.CharField(_("document"), max_length=20, choices=Kind)
    version = models.PositiveIntegerField(_("version"))
    file_name = models.CharField(_("file"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    content = models.BinaryField(_("content"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    objects = ProductDocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("product document")
        verbose_name_plural = _("product documents")
        constraints = [
            # Also the index of "latest version of a kind" (read backwards).
            models.UniqueConstraint(
                fields=["product", "kind", "version"], name="product_document_version_unique"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="product_document_version"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="product_document_sha256"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s, version %(version)d") % {
            "kind": self.get_kind_display(),
            "version": self.version,
        }
