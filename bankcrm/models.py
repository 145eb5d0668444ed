from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from bankcrm.roles import HOME_PRIORITY, MFA_REQUIRED_ROLES, Role


class Branch(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.CharField(_("region"), max_length=50, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class User(AbstractUser):
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    # Set by compliance (an access anomaly, or by hand) while a review is open: the account
    # cannot sign in and its sessions are ended. Distinct from is_active, which admins use
    # for leavers; only compliance lifts a freeze (bankcrm.services.user_unfreeze).
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True, editable=False)
    # How many of the user's StaffNotifications are unread, for the navigation bar's badge:
    # kept by a database trigger on bankcrm_staffnotification (bankcrm/sql/), so the badge
    # costs no query (the user row is read for every request anyway) and no write path can
    # let it drift.
    unread_notifications = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @cached_property
    def roles(self) -> frozenset[str]:
        if not self.pk or not self.is_active:
            return frozenset()
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def display_name(self) -> str:
        """王思远 for Chinese names (family name first, no space), else "First Last"."""
        if any("\u4e00" <= ch <= "\u9fff" for ch in self.last_name + self.first_name):
            return f"{self.last_name}{self.first_name}"
        return self.get_full_name() or self.username

    @property
    def mfa_required(self) -> bool:
        return self.is_staff or self.is_superuser or bool(self.roles & MFA_REQUIRED_ROLES)

    @property
    def primary_role(self) -> str | None:
        for role in HOME_PRIORITY:
            if role in self.roles:
                return role
        return None

    @property
    def primary_role_label(self) -> str:
        role = self.primary_role
        return Role(role).label if role else ""


class Heartbeat(models.Model):
    """Last sign of life of a background process (beat), read by the health endpoint."""

    name = models.CharField(max_length=50, primary_key=True)
    beat_at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(cls, name: str) -> None:
        from django.utils import timezone

        cls.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})

    @classmethod
    def age_seconds(cls, name: str) -> float | None:
        from django.utils import timezone

        beat = cls.objects.filter(name=name).first()
        return None if beat is None else (timezone.now() - beat.beat_at).total_seconds()


class AccessLog(models.Model):
    """A sensitive read: a 360 view, an identifier reveal, an export, a search by identifier
    (a caller looked up by CIF or mobile too, found or not).

    Written in the request that did the read; never updated. Identifiers appear masked.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed customer")
        REVEAL = "reveal", _("Revealed identifier")
        EXPORT = "export", _("Exported")
        SEARCH = "search", _("Searched by identifier")

    at = models.DateTimeField(_("when"), default=now, db_index=True)
    actor = models.ForeignKey(
        "bankcrm.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("who")
    )
    action = models.CharField(_("action"), max_length=10, choices=Action)
    object_type = models.CharField(_("object type"), max_length=50)
    object_id = models.CharField(_("object id"), max_length=50, blank=True)
    customer_id = models.BigIntegerField(_("customer id"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [
            # The audit screens' filters, each giving a page's ids newest first straight off
            # the index (compliance.selectors.newest), at tens of millions of rows: by
            # customer, reader, workstation, and the rare kinds of read and object (views of
            # customers are nearly all reads: they walk the time index).
            models.Index(fields=["customer_id", "-at", "-id"], name="accesslog_customer_page"),
            models.Index(fields=["actor", "-at", "-id"], name="accesslog_actor_page"),
            models.Index(fields=["ip_address", "-at", "-id"], name="accesslog_ip_page"),
            models.Index(
                fields=["action", "-at", "-id"],
                condition=~models.Q(action="view"),
                name="accesslog_rare_action_page",
            ),
            models.Index(
                fields=["object_type", "-at", "-id"],
                condition=~models.Q(object_type="customers.customer"),
                name="accesslog_rare_type_page",
            ),
            # A user's exports in a window, for the access-anomaly rules on exported rows.
            models.Index(
                fields=["actor", "-at"],
                condition=models.Q(action="export"),
                name="accesslog_export_idx",
            ),
            # ... and their searches by identifier, hits and misses (caller lookups too).
            models.Index(
                fields=["actor", "-at"],
                condition=models.Q(action="search"),
                name="accesslog_search_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {self.object_type}"


class SecurityEvent(models.Model):
    """Sign-ins and the account's security: logins, logouts, failed logins, lockouts, MFA
    enrolment and checks, freezes and unfreezes, delegations that ran out. Append-only and
    hash-chained in the database (compliance migration 0005), like AccessLog.

    `user` is the account the event is about (NULL when a failed login names no account:
    `username` keeps what was typed); `actor` is who made it happen when that is someone
    else (a compliance officer lifting a freeze); both NULL with `detail` naming the rule
    when the system did it."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGOUT = "logout", _("Signed out")
        LOGIN_FAILED = "login_failed", _("Sign-in failed")
        LOCKED_OUT = "locked_out", _("Locked out")
        MFA_ENROLLED = "mfa_enrolled", _("Two-factor set up")
        MFA_VERIFIED = "mfa_verified", _("Two-factor passed")
        MFA_FAILED = "mfa_failed", _("Two-factor failed")
        FROZEN = "frozen", _("Account frozen")
        UNFROZEN = "unfrozen", _("Account unfrozen")
        DELEGATION_EXPIRED = "delegation_expired", _("Delegation expired")
        ACCESS_REFUSED = "access_refused", _("Access refused")

    at = models.DateTimeField(_("when"), default=now)
    kind = models.CharField(_("event"), max_length=20, choices=Kind)
    user = models.ForeignKey(
        "bankcrm.User", on_delete=models.PROTECT, null=True, related_name="+",
        verbose_name=_("account"),
    )  # fmt: skip
    username = models.CharField(_("username"), max_length=150, blank=True)
    actor = models.ForeignKey(
        "bankcrm.User", on_delete=models.PROTECT, null=True, related_name="+",
        verbose_name=_("by"),
    )  # fmt: skip
    customer_id = models.BigIntegerField(_("customer id"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # Events a sweep records (a delegation's expiry) carry a key so a second run adds none.
    dedupe_key = models.CharField(max_length=100, blank=True, editable=False)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        indexes = [
            models.Index(fields=["-at", "-id"], name="securityevent_recent_idx"),
            models.Index(fields=["user", "-at", "-id"], name="securityevent_user_page"),
            models.Index(fields=["actor", "-at", "-id"], name="securityevent_actor_page"),
            models.Index(fields=["kind", "-at", "-id"], name="securityevent_kind_page"),
            models.Index(
                fields=["customer_id", "-at", "-id"],
                condition=models.Q(customer_id__isnull=False),
                name="securityevent_customer_page",
            ),
            models.Index(fields=["ip_address", "-at", "-id"], name="securityevent_ip_page"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="securityevent_dedupe_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.user_id or self.username}"


class StaffNotification(models.Model):
    """A message to one member of staff: a risk warning on one of their customers, a report
    ready to read. Written by bankcrm.services.notify_staff (once per dedupe key), shown in
    the user's inbox (/notifications/) and counted in the navigation bar until read. Only
    `read_at` ever changes."""

    recipient = models.ForeignKey(
        "bankcrm.User", on_delete=models.PROTECT, related_name="notifications",
        verbose_name=_("recipient"),
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("sent at"), default=now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # What the message is about and why, e.g. "risk-warning:12:opened": the same key twice
    # sends one message (a replayed event, a task run twice).
    dedupe_key = models.CharField(max_length=120, blank=True, editable=False)

    class Meta:
        verbose_name = _("staff notification")
        verbose_name_plural = _("staff notifications")
        indexes = [
            # The inbox (newest first) and the unread ones to mark read.
            models.Index(fields=["recipient", "read_at"], name="staffnotification_unread"),
            models.Index(
                fields=["recipient", "-created_at", "-id"], name="staffnotification_inbox"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="staffnotification_dedupe_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.kind}: {self.title}"
