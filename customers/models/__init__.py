"""Customers and what they hold.

Identifiers (national ID / credit code, mobile, e-mail, account and card numbers) are stored
only encrypted; exact search goes through HMAC blind indexes; lists show the masked copies,
which reveal no more than the masking rules allow.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Collate, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from bankcrm import crypto, masking
from bankcrm.fields import EncryptedField
from bankcrm.models import Branch

# Blind-index purposes: equal values in different fields hash differently.
NATIONAL_ID_INDEX = "customer.national_id"
MOBILE_INDEX = "customer.mobile"
ACCOUNT_NUMBER_INDEX = "account.number"


# A customer of this age or older needs special care (适当性 for the elderly).
SPECIAL_CARE_AGE = 65


def born_on_or_before_for_age(age: int, on=None):
    """The latest birth date of someone who is `age` or older on `on` (today): an index-
    friendly `birth_date <= cutoff` instead of an age computed per row. Someone born on 29
    February has the birthday on 1 March in a common year; on 29 February, `age` years back
    (a common year) is taken as 28 February."""
    day = on or timezone.localdate()
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 February, `age` years back is not a leap year
        return day.replace(year=day.year - age, day=28)


class CustomerQuerySet(models.QuerySet):
    def for_rm(self, user):
        return self.filter(primary_rm=user)

    def for_branch(self, branch_id):
        return self.filter(branch_id=branch_id)

    def kyc_expiring(self, days: int = 30):
        today = timezone.localdate()
        return self.filter(
            kyc_expires_on__lte=today + timezone.timedelta(days=days),
            lifecycle__in=[Customer.Lifecycle.ACTIVE, Customer.Lifecycle.DORMANT],
        )

    def aged_at_least(self, age: int = SPECIAL_CARE_AGE, on=None):
        """Individuals `age` or older on `on` (today); corporates have no birth date."""
        return self.filter(birth_date__lte=born_on_or_before_for_age(age, on))


def tier_rank() -> models.Case:
    """The tier's place, 0 for mass up to private banking: "by tier" orders by this, since
    the codes' alphabetical order (wealth, private, mass, affluent) is no order at all."""
    return models.Case(
        *[models.When(tier=v, then=models.Value(i)) for i, v in enumerate(Customer.Tier.values)],
        default=models.Value(-1),
    )


class RiskTolerance(models.IntegerChoices):
    """The customer's risk tolerance C1–C5 from the risk questionnaire (RiskProfile), copied
    onto Customer for the list. An integer, like the product's risk R1–R5, so the basic
    suitability rule is `product.risk_level <= tolerance`, in Python or in SQL."""

    C1 = 1, _("C1 conservative")
    C2 = 2, _("C2 cautious")
    C3 = 3, _("C3 steady")
    C4 = 4, _("C4 active")
    C5 = 5, _("C5 aggressive")


# The four levels used before the regulatory five (customers migration 0013; docs/customers.md
# "Risk tolerance"): each maps to the C-level that grants no more than it did. C2 is new, so
# no migrated assessment lands on it.
LEGACY_RISK_LEVELS = {"conservative": 1, "balanced": 3, "growth": 4, "aggressive": 5}


class Customer(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        CORPORATE = "corporate", _("Corporate")

    class Gender(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")
        UNKNOWN = "U", _("Unknown")

    class Lifecycle(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        CLOSED = "closed", _("Closed")

    class KycStatus(models.TextChoices):
        PENDING = "pending", _("Pending")
        VERIFIED = "verified", _("Verified")
        EXPIRED = "expired", _("Expired")
        REJECTED = "rejected", _("Rejected")

    class IncomeBand(models.TextChoices):
        UNDER_100K = "lt100k", _("Under ¥100k a year")
        FROM_100K = "100k-300k", _("¥100k–300k a year")
        FROM_300K = "300k-1m", _("¥300k–1m a year")
        OVER_1M = "gt1m", _("Over ¥1m a year")

    class FamilyStatus(models.TextChoices):
        SINGLE = "single", _("Single")
        MARRIED = "married", _("Married")
        DIVORCED = "divorced", _("Divorced")
        WIDOWED = "widowed", _("Widowed")

    class Tier(models.TextChoices):
        """Lowest first (products.TIER_CHOICES repeats them; `tier_rank` orders by them)."""

        MASS = "mass", _("Mass")
        AFFLUENT = "affluent", _("Affluent")
        WEALTH = "wealth", _("Wealth")
        PRIVATE = "private", _("Private banking")

    cif = models.CharField(_("CIF number"), max_length=20, unique=True)
    kind = models.CharField(_("type"), max_length=12, choices=Kind, default=Kind.INDIVIDUAL)
    name = models.CharField(_("name"), max_length=100)
    name_latin = models.CharField(_("name (Latin/pinyin)"), max_length=150, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender, default=Gender.UNKNOWN)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)

    # Resident ID number (individuals) or unified social credit code (corporates).
    national_id = EncryptedField(_("ID number"), null=True, blank=True)
    # NULL, not "", when absent: the unique constraint covers only present values.
    national_id_index = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    national_id_masked = models.CharField(_("ID number"), max_length=32, blank=True)
    mobile = EncryptedField(_("mobile"), null=True, blank=True)
    mobile_index = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    mobile_masked = models.CharField(_("mobile"), max_length=20, blank=True)
    email = EncryptedField(_("e-mail"), null=True, blank=True)
    email_masked = models.CharField(_("e-mail"), max_length=120, blank=True)
    address = EncryptedField(_("address"), null=True, blank=True)

    occupation = models.CharField(_("occupation"), max_length=60, blank=True)
    employer = models.CharField(_("employer"), max_length=120, blank=True)
    income_band = models.CharField(
        _("income band"), max_length=12, choices=IncomeBand, blank=True, default="", db_default=""
    )
    family_status = models.CharField(
        _("family status"),
        max_length=12,
        choices=FamilyStatus,
        blank=True,
        default="",
        db_default="",
    )
    household = models.ForeignKey(
        "Household",
        verbose_name=_("household"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )

    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, related_name="customers"
    )
    primary_rm = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relationship manager"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rm_customers",
    )
    lifecycle = models.CharField(
        _("lifecycle"), max_length=12, choices=Lifecycle, default=Lifecycle.ACTIVE
    )
    kyc_status = models.CharField(
        _("KYC status"), max_length=12, choices=KycStatus, default=KycStatus.PENDING
    )
    kyc_expires_on = models.DateField(_("KYC expires on"), null=True, blank=True)
    tier = models.CharField(_("value tier"), max_length=12, choices=Tier, default=Tier.MASS)
    tags = ArrayField(models.CharField(max_length=30), verbose_name=_("tags"), default=list)
    # Copied from the current RiskProfile by risk_profile_assess so lists can filter on it;
    # the suitability rules read the assessment itself (selectors.current_risk_assessment).
    risk_level = models.PositiveSmallIntegerField(
        _("risk tolerance"), choices=RiskTolerance, null=True, blank=True
    )
    risk_expires_on = models.DateField(_("risk profile expires on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["cif"]
        constraints = [
            models.UniqueConstraint(
                fields=["national_id_index"],
                condition=Q(national_id_index__isnull=False),
                name="customer_national_id_unique",
            ),
            models.CheckConstraint(condition=~Q(cif=""), name="customer_cif_not_blank"),
            # Bulk paths (imports, the nightly value run's UPDATE) write the tier in SQL.
            models.CheckConstraint(
                condition=Q(tier__in=["mass", "affluent", "wealth", "private"]),
                name="customer_tier_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["primary_rm", "cif"], name="customer_rm_idx"),
            models.Index(fields=["branch", "cif"], name="customer_branch_idx"),
            models.Index(fields=["mobile_index"], name="customer_mobile_idx"),
            models.Index(
                fields=["kyc_expires_on"],
                name="customer_kyc_expiry_idx",
                condition=Q(lifecycle__in=["active", "dormant"]),
            ),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="customer_name_trgm"),
            # Prefix search in name order (selectors.search_customers).
            models.Index(Collate("name", "C"), "id", name="customer_name_prefix"),
            models.Index(Collate(Upper("name_latin"), "C"), "id", name="customer_latin_prefix"),
            GinIndex(fields=["tags"], name="customer_tags_gin"),
            GinIndex(OpClass(Upper("name_latin"), name="gin_trgm_ops"), name="customer_latin_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cif})"

    # Identifier setters keep the ciphertext, blind index and masked copy in step.
    def set_national_id(self, value: str | None) -> None:
        self.national_id = value or None
        self.national_id_index = (
            crypto.blind_index(value, purpose=NATIONAL_ID_INDEX) if value else None
        )
        self.national_id_masked = masking.mask_national_id(value) if value else ""

    def set_mobile(self, value: str | None) -> None:
        self.mobile = value or None
        self.mobile_index = crypto.blind_index(value, purpose=MOBILE_INDEX) if value else None
        self.mobile_masked = masking.mask_mobile(value) if value else ""

    def set_email(self, value: str | None) -> None:
        self.email = value or None
        self.email_masked = masking.mask_email(value) if value else ""

    @property
    def is_corporate(self) -> bool:
        return self.kind == self.Kind.CORPORATE

    def age(self, on=None) -> int | None:
        if self.birth_date is None:
            return None
        day = on or timezone.localdate()
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def needs_special_care(self) -> bool:
        """Aged SPECIAL_CARE_AGE or over: sales need the special-care steps (derived from the
        birth date, never stored; Customer.objects.aged_at_least is the SQL form)."""
        return self.birth_date is not None and self.birth_date <= born_on_or_before_for_age(
            SPECIAL_CARE_AGE
        )

    @property
    def kyc_expiring_soon(self) -> bool:
        if self.kyc_expires_on is None:
            return False
        return self.kyc_expires_on <= timezone.localdate() + timezone.timedelta(days=30)


class Account(models.Model):
    class Kind(models.TextChoices):
        CURRENT = "current", _("Current account")
        TIME_DEPOSIT = "time_deposit", _("Time deposit")
        LOAN = "loan", _("Loan")
        CARD = "card", _("Card")
        WEALTH = "wealth", _("Wealth product")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        CLOSED = "closed", _("Closed")

    class RiskLevel(models.TextChoices):
        R1 = "R1", _("R1 – cautious")
        R2 = "R2", _("R2 – steady")
        R3 = "R3", _("R3 – balanced")
        R4 = "R4", _("R4 – growth")
        R5 = "R5", _("R5 – aggressive")

    LIABILITY_KINDS = ("loan", "card")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="accounts"
    )
    kind = models.CharField(_("type"), max_length=16, choices=Kind)
    number = EncryptedField(_("account number"))
    number_index = models.CharField(max_length=64, editable=False)
    number_masked = models.CharField(_("account number"), max_length=32)
    product_name = models.CharField(_("product"), max_length=100, blank=True)
    # The catalogue product held; NULL for holdings no catalogue product matches (yet).
    product = models.ForeignKey(
        "Product",
        verbose_name=_("catalogue product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="holdings",
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    balance = models.DecimalField(_("balance"), max_digits=18, decimal_places=2, default=0)
    # Set by integration events: a balance is only replaced by one of a later sequence, so
    # late or replayed events cannot roll it back.
    balance_as_of = models.DateTimeField(_("balance as of"), null=True, blank=True)
    balance_sequence = models.BigIntegerField(null=True, blank=True, editable=False)
    credit_limit = models.DecimalField(
        _("credit limit"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    # Loans: the amount lent; `balance` is what is still outstanding.
    principal = models.DecimalField(
        _("principal"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    overdue_days = models.PositiveIntegerField(_("overdue days"), default=0)
    # Product risk rating of wealth, fund and insurance products (R1 lowest – R5 highest).
    risk_level = models.CharField(
        _("product risk"), max_length=2, choices=RiskLevel, blank=True, default="", db_default=""
    )
    opened_on = models.DateField(_("opened on"))
    matures_on = models.DateField(_("matures on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.ACTIVE)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["customer", "kind", "opened_on"]
        constraints = [
            models.UniqueConstraint(fields=["number_index"], name="account_number_unique"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number_masked}"

    @classmethod
    def mask_number(cls, kind: str, number: str) -> str:
        """Cards show the first six and last four digits; accounts the last four."""
        return masking.mask_card(number) if kind == cls.Kind.CARD else masking.mask_account(number)

    def set_number(self, value: str) -> None:
        self.number = value
        self.number_index = crypto.blind_index(value, purpose=ACCOUNT_NUMBER_INDEX)
        self.number_masked = self.mask_number(self.kind, value)

    @property
    def is_liability(self) -> bool:
        return self.kind in self.LIABILITY_KINDS


class Transaction(models.Model):
    class Direction(models.TextChoices):
        CREDIT = "credit", _("Credit")
        DEBIT = "debit", _("Debit")

    class Channel(models.TextChoices):
        BRANCH = "branch", _("Branch")
        ATM = "atm", _("ATM")
        MOBILE = "mobile", _("Mobile app")
        ONLINE = "online", _("Online banking")
        POS = "pos", _("Card payment")
        TRANSFER = "transfer", _("Transfer")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="transactions"
    )
    # Denormalised so "latest N of a customer" is one index range scan.
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="transactions"
    )
    booked_at = models.DateTimeField(_("booked at"))
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    direction = models.CharField(_("direction"), max_length=6, choices=Direction)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    kind = models.CharField(_("type"), max_length=40)
    counterparty_masked = models.CharField(_("counterparty"), max_length=64, blank=True)
    source = models.CharField(_("source system"), max_length=20, default="core")
    external_id = models.CharField(_("external id"), max_length=64)

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="transaction_ext_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transaction_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["customer", "-booked_at"], name="transaction_customer_idx"),
            models.Index(fields=["account", "-booked_at"], name="transaction_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.booked_at:%Y-%m-%d} {self.direction} {self.amount} {self.currency}"


class Interaction(models.Model):
    class Channel(models.TextChoices):
        BRANCH = "branch", _("Branch")
        PHONE = "phone", _("Phone")
        APP = "app", _("App")
        WEB = "web", _("Web")
        WECHAT = "wechat", _("WeChat")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="interactions"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)
    follow_up_done = models.BooleanField(_("follow-up done"), default=False)
    # Confidential notes: the author's team (branch) and compliance only.
    confidential = models.BooleanField(_("confidential"), default=False, db_default=False)
    # The catalogue code of the product an app view was of (customers.ingest's app.activity),
    # kept as sent: the app may report a product the catalogue has not synced yet.
    # Marketing's "viewed the same product three times" journey groups views by it.
    product_code = models.CharField(
        _("product code"), max_length=32, blank=True, default="", db_default=""
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="interaction_customer_idx"),
            models.Index(
                fields=["actor", "follow_up_on"],
                name="interaction_followup_idx",
                condition=Q(follow_up_done=False, follow_up_on__isnull=False),
            ),
            # The week's product views, for the journey (customers 0019, built concurrently).
            models.Index(
                fields=["occurred_at"],
                name="interaction_product_view_idx",
                condition=~Q(product_code=""),
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class Household(models.Model):
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.name


class Relationship(models.Model):
    """A directed tie between two customers: `customer` is the `kind` of `related`
    (e.g. customer is the *director* of related, a corporate)."""

    class Kind(models.TextChoices):
        SPOUSE = "spouse", _("Spouse")
        PARENT = "parent", _("Parent")
        CHILD = "child", _("Child")
        GUARANTOR = "guarantor", _("Guarantor")
        DIRECTOR = "director", _("Director")
        SHAREHOLDER = "shareholder", _("Shareholder")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="relationships", verbose_name=_("customer")
    )
    related = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("related customer")
    )
    kind = models.CharField(_("relationship"), max_length=12, choices=Kind)
    role = models.CharField(_("role"), max_length=60, blank=True)
    share_percent = models.DecimalField(
        _("share %"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "related", "kind"], name="relationship_unique"
            ),
            models.CheckConstraint(
                condition=~Q(customer=models.F("related")), name="relationship_not_self"
            ),
            models.CheckConstraint(
                condition=Q(share_percent__isnull=True)
                | Q(share_percent__gt=0, share_percent__lte=100),
                name="relationship_share_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.related_id}"


class ExternalIdentity(models.Model):
    """The customer's key in another system: core banking CIF, card member no., app user id."""

    source = models.CharField(_("source system"), max_length=30)
    external_id = models.CharField(_("external id"), max_length=64)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="external_identities",
        verbose_name=_("customer"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Sequence of the last master-data event applied from this source: older ones are stale.
    last_sequence = models.BigIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="external_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class ConsentQuerySet(models.QuerySet):
    def current(self):
        """Latest record per (customer, purpose, channel): the state in force."""
        return self.order_by("customer_id", "purpose", "channel", "-recorded_at", "-pk").distinct(
            "customer_id", "purpose", "channel"
        )


class Consent(models.Model):
    """PIPL consent history. Rows are only ever added (a trigger refuses UPDATE and DELETE);
    the current state is the latest row per purpose and channel."""

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        DATA_SHARING = "data_sharing", _("Data sharing")
        PROFILING = "profiling", _("Profiling")

    class Channel(models.TextChoices):
        ALL = "all", _("All channels")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        APP = "app", _("App push")
        WECHAT = "wechat", _("WeChat")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="consents", verbose_name=_("customer")
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel, default=Channel.ALL)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=60)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    objects = ConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [
            models.Index(
                fields=["customer", "purpose", "channel", "-recorded_at"], name="consent_state_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose}/{self.channel}: {'granted' if self.granted else 'withdrawn'}"


class RiskQuestionnaire(models.Model):
    """A versioned suitability questionnaire. `questions` is a list of
    {"key", "text", "text_en", "options": [{"label", "label_en", "score"[, "lowest_category":
    true]}]}; `bands` is [[minimum total score, tolerance 1-5], ...], highest first (version 1
    names the four legacy levels instead, read through LEGACY_RISK_LEVELS). Choosing an option
    marked lowest_category puts the customer in the lowest category (最低风险承受能力类别)."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    questions = models.JSONField(_("questions"))
    bands = models.JSONField(_("score bands"))
    # Empty: settings.RISK_ASSESSMENT_VALIDITY_DAYS (a year unless configured).
    validity_days = models.PositiveIntegerField(_("valid for (days)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("risk questionnaire")
        verbose_name_plural = _("risk questionnaires")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_questionnaire"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class RiskProfileQuerySet(models.QuerySet):
    def current(self):
        """Each customer's assessment in force (at most one: a partial unique index), expired
        or not: compare expires_on with the day in question."""
        return self.filter(is_current=True)


class RiskProfile(models.Model):
    """One completed risk questionnaire: the customer's risk tolerance C1–C5, how it was
    reached (questionnaire, answers, score) and until when it holds (valid through
    `expires_on`). Rows are kept; `is_current` marks the latest of each customer, and the
    partial unique index on it (with level, expiry and lowest category included) is what a
    set-based suitability query over all customers joins on."""

    Level = RiskTolerance

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="risk_profiles", verbose_name=_("customer")
    )
    questionnaire = models.ForeignKey(
        RiskQuestionnaire, on_delete=models.PROTECT, verbose_name=_("questionnaire")
    )
    answers = models.JSONField(_("answers"))
    score = models.PositiveIntegerField(_("score"))
    level = models.PositiveSmallIntegerField(_("risk tolerance"), choices=RiskTolerance)
    # 最低风险承受能力类别: may buy R1 products only, whatever `level` says.
    lowest_category = models.BooleanField(_("lowest risk category"), default=False)
    # The four-level result this row had before the five levels (migration 0013); "" after.
    legacy_level = models.CharField(_("former risk level"), max_length=12, blank=True)
    is_current = models.BooleanField(_("current"), default=False)
    assessed_at = models.DateTimeField(_("assessed at"), default=timezone.now)
    expires_on = models.DateField(_("expires on"))
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("assessed by"),
    )

    objects = RiskProfileQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk profile")
        verbose_name_plural = _("risk profiles")
        indexes = [models.Index(fields=["customer", "-assessed_at"], name="risk_profile_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_current=True),
                include=["level", "expires_on", "lowest_category"],
                name="risk_profile_one_current",
            ),
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=5), name="risk_profile_level_range"
            ),
        ]

    def __str__(self) -> str:
        return f"C{self.level} ({self.assessed_at:%Y-%m-%d})"

    @property
    def is_expired(self) -> bool:
        return self.expires_on < timezone.localdate()


class CustomerDelegation(UserObjectPermissionBase):
    """Holiday cover or specialist access to one customer: a django-guardian object
    permission on a direct foreign key, with an expiry the access functions enforce."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)
    expires_at = models.DateTimeField(_("expires at"))
    reason = models.CharField(_("reason"), max_length=200)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("customer delegation")
        verbose_name_plural = _("customer delegations")
        indexes = [models.Index(fields=["user", "expires_at"], name="delegation_user_idx")]


class ImportBatch(models.Model):
    """One uploaded file of customers or holdings, validated into a preview, then committed.

    The file is kept encrypted (it is full of identifiers) until the batch is finished. Work is
    done by Celery tasks that claim the batch by a conditional UPDATE, so a duplicate message
    does nothing and a crashed worker's batch is picked up again by the beat sweep; commits
    go in chunks that record their progress in the same transaction, and rows are upserts by
    CIF (customers) or account number (holdings), so running a chunk twice changes nothing.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        HOLDINGS = "holdings", _("Accounts and holdings")
        PRODUCTS = "products", _("Product catalogue")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be checked")
        VALIDATING = "validating", _("Checking")
        READY = "ready", _("Ready to import")
        COMMIT_PENDING = "commit_pending", _("Waiting to import")
        COMMITTING = "committing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Discarded")

    ACTIVE = (Status.PENDING, Status.VALIDATING, Status.COMMIT_PENDING, Status.COMMITTING)
    # The owner may discard a batch until it is finished, stuck ones included; a batch stopped
    # while committing keeps the rows it had already written.
    DISCARDABLE = (*ACTIVE, Status.READY, Status.FAILED)

    kind = models.CharField(_("type"), max_length=12, choices=Kind)
    file_name = models.CharField(_("file"), max_length=200)
    # The file as CSV text (Excel is converted on upload); emptied when the batch ends.
    content = EncryptedField(_("content"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.PENDING)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    # Set by the worker on every chunk: a stale value means the worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("processed"), default=0)
    valid_rows = models.PositiveIntegerField(_("valid rows"), default=0)
    error_rows = models.PositiveIntegerField(_("rows with errors"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    # [{"line", "column", "message"}]; identifiers never appear in messages.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # The first valid rows, masked, for the user to check before committing.
    preview = models.JSONField(_("preview"), default=list, blank=True)
    failure = models.CharField(_("failure"), max_length=300, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The uploader's language: the worker writes the row errors in it.
    language = models.CharField(_("language"), max_length=10, blank=True, default="")
    # Workers that have taken the batch in its current phase; claim() fails the batch
    # instead of handing it out again once a phase has had imports.MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["uploaded_by", "-created_at"], name="import_user_idx"),
            models.Index(
                fields=["status"],
                name="import_active_idx",
                condition=Q(status__in=["pending", "validating", "commit_pending", "committing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def commit_started(self) -> bool:
        """Whether a commit has written (or skipped) rows: a discarded batch may have."""
        counts = (self.created_count, self.updated_count, self.unchanged_count, self.skipped_count)
        return any(counts)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


# The product catalogue and the integration models live in their own modules; exported here
# so Django finds them.
from customers.models.integration import (  # noqa: E402, F401
    InboxEvent,
    IntegrationSource,
    OutboundDelivery,
    OutboundEvent,
    Subscriber,
)
from customers.models.products import (  # noqa: E402, F401
    Product,
    ProductDocument,
    ProductEligibility,
    ProductKind,
    ProductRisk,
)
