"""Integration: sources and the inbox of events they push; subscribers and the outbox of
events the CRM publishes to them."""

import secrets
import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm.fields import EncryptedField
from bankcrm.validators import validate_timezone


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class IntegrationSource(models.Model):
    """A system that pushes events: core banking, cards, payments, the mobile app. Its
    requests are signed with `secret` (or, during a rotation, `previous_secret`)."""

    class Kind(models.TextChoices):
        CORE_BANKING = "core_banking", _("Core banking")
        CARDS = "cards", _("Card system")
        PAYMENTS = "payments", _("Payment system")
        APP = "app", _("Mobile app")

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("type"), max_length=16, choices=Kind)
    enabled = models.BooleanField(_("enabled"), default=True)
    secret = EncryptedField(_("signing secret"), default=new_secret)
    previous_secret = EncryptedField(_("previous signing secret"), null=True, blank=True)
    # Accepted until this time after a rotation, so senders can switch without downtime.
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret accepted until"), null=True, blank=True
    )
    time_zone = models.CharField(
        _("time zone of naive times"),
        max_length=40,
        default="Asia/Shanghai",
        validators=[validate_timezone],
    )
    feed_url = models.URLField(_("event feed URL (resync)"), blank=True)
    # Every sequence number up to this one is in the inbox: the resync cursor.
    contiguous_sequence = models.BigIntegerField(_("contiguous up to sequence"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("integration source")
        verbose_name_plural = _("integration sources")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def signing_secrets(self, now=None) -> list[str]:
        now = now or timezone.now()
        found = [self.secret]
        if self.previous_secret and (
            self.previous_secret_expires_at is None or self.previous_secret_expires_at > now
        ):
            found.append(self.previous_secret)
        return found


class InboxEventQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=InboxEvent.Status.PENDING)


class InboxEvent(models.Model):
    """One event as received, stored before the sender gets its 2xx. The payload is
    encrypted (it carries account numbers and contact data); `body_digest` (keyed) tells a
    repeat from a different event reusing an id."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPLIED = "applied", _("Applied")
        PARKED = "parked", _("Parked for reconciliation")
        FAILED = "failed", _("Failed")

    source = models.ForeignKey(
        IntegrationSource, verbose_name=_("source"), on_delete=models.PROTECT, related_name="events"
    )
    event_id = models.CharField(_("event id"), max_length=64)
    sequence = models.BigIntegerField(_("sequence"))
    event_type = models.CharField(_("event type"), max_length=40)
    occurred_at = models.DateTimeField(_("occurred at"))
    payload = EncryptedField(_("payload"))
    body_digest = models.CharField(max_length=64, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("error"), max_length=200, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    objects = InboxEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("inbox event")
        verbose_name_plural = _("inbox events")
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="inbox_event_unique"),
            models.UniqueConstraint(fields=["source", "sequence"], name="inbox_sequence_unique"),
            models.CheckConstraint(condition=Q(sequence__gt=0), name="inbox_sequence_positive"),
        ]
        indexes = [
            # Workers claim the oldest pending rows; the index holds only those.
            models.Index(fields=["id"], name="inbox_pending_idx", condition=Q(status="pending")),
            models.Index(
                fields=["source", "received_at"],
                name="inbox_parked_idx",
                condition=Q(status__in=["parked", "failed"]),
            ),
            # Arrival order follows the table's physical order: a tiny BRIN index answers
            # "received in the last minutes" for the status page.
            BrinIndex(fields=["received_at"], name="inbox_received_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.event_id}"


# ---- outbound -----------------------------------------------------------------------------


class OutboundEventType(models.TextChoices):
    TIER_CHANGED = "customer.tier_changed", _("Value tier changed")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("Consent withdrawn")
    KYC_EXPIRED = "customer.kyc_expired", _("KYC expired")


class Subscriber(models.Model):
    """A system told about changes in the CRM: signed POSTs of the event types it chose."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("delivery URL"))
    secret = EncryptedField(_("signing secret"), default=new_secret)
    event_types = ArrayField(
        models.CharField(max_length=40, choices=OutboundEventType),
        verbose_name=_("event types"),
        default=list,
        blank=True,
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class OutboundEvent(models.Model):
    """Something other systems care about, written in the transaction that changed it (by
    the database triggers of migration 0010, or outbound_kyc_expired), with one delivery per
    subscriber. `event_id` is what receivers dedupe on; the payload names the customer by
    CIF and external ids only."""

    event_id = models.UUIDField(_("event id"), unique=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(_("event type"), max_length=40, choices=OutboundEventType)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    payload = models.JSONField(_("payload"))
    # Events that must be published once only (a KYC expiry per customer and date).
    dedupe_key = models.CharField(max_length=100, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("outbound event")
        verbose_name_plural = _("outbound events")
        constraints = [
            models.UniqueConstraint(
                fields=["event_type", "dedupe_key"],
                name="outbound_event_dedupe",
                condition=~Q(dedupe_key=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class OutboundDelivery(models.Model):
    """One event to one subscriber: retried with back-off until it answers 2xx."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        DEAD = "dead", _("Gave up")

    event = models.ForeignKey(
        OutboundEvent, verbose_name=_("event"), on_delete=models.PROTECT, related_name="deliveries"
    )
    subscriber = models.ForeignKey(
        Subscriber,
        verbose_name=_("subscriber"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound delivery")
        verbose_name_plural = _("outbound deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="outbound_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbound_due_idx",
                condition=Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscriber_id}"
