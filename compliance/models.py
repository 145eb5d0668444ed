from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class DataChange(models.Model):
    """One change to audited data (customers, holdings, consents, tickets, users and their
    roles), written by a database trigger whatever the path: forms, admin, imports,
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
            models.Index(fields=["customer_id", "-at"], name="datachange_customer_idx"),
            models.Index(fields=["actor_id", "-at"], name="datachange_actor_idx"),
            models.Index(fields=["table_name", "-at"], name="datachange_table_idx"),
            models.Index(fields=["-at", "-id"], name="datachange_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.table_name}:{self.row_pk} {self.op}"


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
