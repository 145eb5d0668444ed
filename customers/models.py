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
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm.fields import EncryptedField
from bankcrm.models import Branch

# Blind-index purposes: equal values in different fields hash differently.
NATIONAL_ID_INDEX = "customer.national_id"
MOBILE_INDEX = "customer.mobile"
ACCOUNT_NUMBER_INDEX = "account.number"


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

    class Tier(models.TextChoices):
        MASS = "mass", _("Mass")
        AFFLUENT = "affluent", _("Affluent")
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
            GinIndex(OpClass(Upper("name_latin"), name="gin_trgm_ops"), name="customer_latin_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cif})"


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

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="accounts"
    )
    kind = models.CharField(_("type"), max_length=16, choices=Kind)
    number = EncryptedField(_("account number"))
    number_index = models.CharField(max_length=64, editable=False)
    number_masked = models.CharField(_("account number"), max_length=32)
    product_name = models.CharField(_("product"), max_length=100, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    balance = models.DecimalField(_("balance"), max_digits=18, decimal_places=2, default=0)
    credit_limit = models.DecimalField(
        _("credit limit"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    overdue_days = models.PositiveIntegerField(_("overdue days"), default=0)
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
        ]

    def __str__(self) -> str:
        return self.subject
