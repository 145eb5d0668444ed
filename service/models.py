import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm.validators import validate_timezone
from customers.models import Customer
from service.calendars import Hours


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


# ---- business calendars (SLA clocks run in working time) ----------------------------------


class BusinessCalendar(models.Model):
    """Weekly working hours and exceptions by date, in which SLA clocks run."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=40, default="Asia/Shanghai", validators=[validate_timezone]
    )

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def hours(self) -> Hours:
        """The calendar for arithmetic (two queries)."""
        weekly: dict[int, list] = {}
        for row in self.weekly_hours.order_by("weekday", "opens"):
            weekly.setdefault(row.weekday, []).append((row.opens, row.closes))
        exceptions: dict = {}
        for row in self.exceptions.order_by("date", "opens"):
            day = exceptions.setdefault(row.date, [])
            if row.working:
                day.append((row.opens, row.closes))
        return Hours(zone=zoneinfo.ZoneInfo(self.time_zone), weekly=weekly, exceptions=exceptions)


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class CalendarHours(models.Model):
    """One opening interval of a weekday (a lunch break makes two)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="weekly_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.CheckConstraint(condition=Q(opens__lt=models.F("closes")), name="hours_order"),
            models.UniqueConstraint(
                fields=["calendar", "weekday", "opens"], name="hours_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class CalendarException(models.Model):
    """A date that differs from the week: a public holiday (closed) or a make-up working
    day (调休, open with its own hours; several rows for several intervals)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=60, blank=True)
    working = models.BooleanField(_("working day"), default=False)
    opens = models.TimeField(_("opens"), null=True, blank=True)
    closes = models.TimeField(_("closes"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["date", "opens"]
        constraints = [
            # Closed days have no hours; working days have hours in order.
            models.CheckConstraint(
                condition=Q(working=False, opens__isnull=True, closes__isnull=True)
                | Q(
                    working=True,
                    opens__isnull=False,
                    closes__isnull=False,
                    opens__lt=models.F("closes"),
                ),
                name="exception_hours",
            ),
            # A holiday is one row; a make-up day one row per interval.
            models.UniqueConstraint(
                fields=["calendar", "date"],
                condition=Q(working=False),
                name="exception_closed_once",
            ),
            models.UniqueConstraint(
                fields=["calendar", "date", "opens"], name="exception_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()

    def clean(self) -> None:
        """A date is either closed or worked, not both."""
        if self.calendar_id is None or self.date is None:
            return
        others = CalendarException.objects.filter(calendar_id=self.calendar_id, date=self.date)
        if others.exclude(pk=self.pk).exclude(working=self.working).exists():
            raise ValidationError(
                _("%(date)s is already set as a %(other)s."),
                params={
                    "date": self.date,
                    "other": _("working day") if not self.working else _("closed day"),
                },
            )
