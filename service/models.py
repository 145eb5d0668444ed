from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class TicketQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])

    def by_urgency(self):
        return self.order_by(models.F("due_at").asc(nulls_last=True), "priority", "pk")


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        PENDING_CUSTOMER = "pending_customer", _("Pending customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.TextChoices):
        P1 = "P1", _("P1 – funds at risk")
        P2 = "P2", _("P2 – high")
        P3 = "P3", _("P3 – normal")
        P4 = "P4", _("P4 – low")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        APP = "app", _("App")
        BRANCH = "branch", _("Branch")
        WEB = "web", _("Web")
        EMAIL = "email", _("E-mail")
        WECHAT = "wechat", _("WeChat")

    number = models.CharField(_("number"), max_length=20, unique=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="tickets"
    )
    subject = models.CharField(_("subject"), max_length=200)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    priority = models.CharField(_("priority"), max_length=2, choices=Priority, default=Priority.P3)
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(
                fields=["assignee", "due_at"],
                name="ticket_open_assignee_idx",
                condition=~Q(status__in=["resolved", "closed"]),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.due_at < timezone.now()
