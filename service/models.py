import re
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm.validators import validate_timezone
from customers.models import Customer
from service.calendars import Hours


class Category(models.TextChoices):
    CARD_LOST = "card_lost", _("Card lost or stolen")
    CARD_FRAUD = "card_fraud", _("Card fraud")
    ACCOUNT = "account", _("Account issue")
    COMPLAINT = "complaint", _("Complaint")
    ENQUIRY = "enquiry", _("Enquiry")
    LOAN = "loan", _("Loan")
    WEALTH = "wealth", _("Wealth product")
    OTHER = "other", _("Other")


class Priority(models.TextChoices):
    P1 = "P1", _("P1 – funds at risk")
    P2 = "P2", _("P2 – high")
    P3 = "P3", _("P3 – normal")
    P4 = "P4", _("P4 – low")


class Queue(models.Model):
    """A team's queue: its agents, who it escalates to, and the calendar its clocks use."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    calendar = models.ForeignKey(
        "BusinessCalendar",
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        related_name="queues",
        help_text=_("SLA clocks of this queue's tickets run in these hours."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("agents"), related_name="service_queues",
        blank=True,
    )  # fmt: skip
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("supervisor (escalation level 1)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supervised_queues",
    )
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("branch or department head (escalation level 2)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="headed_queues",
    )
    is_default = models.BooleanField(
        _("default queue"), default=False, help_text=_("Takes tickets no routing rule places.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="queue_one_default"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Targets in working time for a priority, optionally narrowed to one category."""

    priority = models.CharField(_("priority"), max_length=2, choices=Priority)
    category = models.CharField(
        _("category"), max_length=20, choices=Category, blank=True,
        help_text=_("Empty: every category without a policy of its own."),
    )  # fmt: skip
    first_response = models.DurationField(_("first response within"))
    resolution = models.DurationField(_("resolution within"))
    calendar = models.ForeignKey(
        "BusinessCalendar",
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the queue's calendar. Choose a 24×7 calendar for P1."),
    )

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["priority", "category"]
        constraints = [
            models.UniqueConstraint(fields=["priority", "category"], name="sla_one_per_pair"),
            models.CheckConstraint(
                condition=Q(first_response__gt=timedelta(0), resolution__gt=timedelta(0))
                & Q(first_response__lte=models.F("resolution")),
                name="sla_targets_positive_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority} {self.get_category_display() or _('any category')}"


class RoutingRule(models.Model):
    """First active rule (by order) whose keywords or category match places a new ticket."""

    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    keywords = models.TextField(
        _("keywords"), blank=True,
        help_text=_("One per line or comma-separated, Chinese or English (e.g. 盗刷, fraud); "
                    "any one in the subject or description matches, ignoring case."),
    )  # fmt: skip
    category = models.CharField(
        _("category"), max_length=20, choices=Category, blank=True,
        help_text=_("Matches tickets of this category (with keywords: either matches)."),
    )  # fmt: skip
    set_priority = models.CharField(_("set priority"), max_length=2, choices=Priority, blank=True)
    set_category = models.CharField(_("set category"), max_length=20, choices=Category, blank=True)
    set_queue = models.ForeignKey(
        Queue, verbose_name=_("set queue"), on_delete=models.PROTECT, null=True, blank=True
    )
    confirmation = models.TextField(
        _("confirmation message"), blank=True,
        help_text=_("Sent to the customer by SMS when the ticket is opened. "
                    "{number} is the ticket number, {name} the customer's name."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(keywords="") | ~Q(category=""), name="rule_matches_something"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def keyword_list(self) -> list[str]:
        return [k.strip().casefold() for k in re.split(r"[,，\n]", self.keywords) if k.strip()]

    def matches(self, *, text: str, category: str) -> bool:
        if self.category and self.category == category:
            return True
        folded = text.casefold()
        return any(k in folded for k in self.keyword_list())


class TicketQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status__in=Ticket.CLOSED_STATES)

    def by_urgency(self):
        """Priority first: a P1 (funds at risk) comes before every P2, however late the P2
        is. Within a priority, the nearest SLA target first (overdue first, none last),
        then the oldest. Queues, take next and the home page use this order, and the
        queue pages say so; the ticket_*_rank indexes below serve it."""
        return self.order_by("priority", models.F("due_at").asc(nulls_last=True), "pk")

    def unassigned(self):
        return self.filter(assignee__isnull=True).open()

    def sla_due(self, now):
        return self.filter(sla_check_at__lte=now)


class Ticket(models.Model):
    Priority = Priority
    Category = Category

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        PENDING_CUSTOMER = "pending_customer", _("Pending customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        APP = "app", _("App")
        BRANCH = "branch", _("Branch")
        WEB = "web", _("Web")
        EMAIL = "email", _("E-mail")
        WECHAT = "wechat", _("WeChat")

    class Approval(models.TextChoices):
        NOT_NEEDED = "", _("Not needed")
        REQUESTED = "requested", _("Awaiting supervisor")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Sent back")

    CLOSED_STATES = ("resolved", "closed")

    number = models.CharField(_("number"), max_length=20, unique=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="tickets"
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    category = models.CharField(
        _("category"), max_length=20, choices=Category, default=Category.ENQUIRY
    )
    priority = models.CharField(_("priority"), max_length=2, choices=Priority, default=Priority.P3)
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.NEW)
    queue = models.ForeignKey(
        Queue, verbose_name=_("queue"), on_delete=models.PROTECT, related_name="tickets",
        null=True, blank=True,
    )  # fmt: skip
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("opened by"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    external_ref = models.CharField(_("reference in the source system"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # SLA clocks (see service/sla.py). due_at is the nearest running target, for ordering.
    sla_policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("SLA policy"), on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+",
    )  # fmt: skip
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    response_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolve_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalate_at = models.DateTimeField(_("next escalation"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    paused_at = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    # When the sweep must look at this ticket next (a warning or an escalation falls due);
    # NULL while nothing is pending (paused, resolved).
    sla_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    approval = models.CharField(
        _("supervisor approval"), max_length=10, choices=Approval, blank=True, default=""
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # My tickets, most urgent first (by_urgency).
            models.Index(
                "assignee",
                "priority",
                models.F("due_at").asc(nulls_last=True),
                "id",
                name="ticket_assignee_rank_idx",
                condition=~Q(status__in=["resolved", "closed"]),
            ),
            # Team queues: the open tickets of a queue, most urgent first.
            models.Index(
                "queue",
                "priority",
                models.F("due_at").asc(nulls_last=True),
                "id",
                name="ticket_queue_rank_idx",
                condition=~Q(status__in=["resolved", "closed"]),
            ),
            # The supervisor's "breached or due soon", in by_urgency order: the clocks that
            # run, walked priority by priority; the due-time bound is checked in the index.
            models.Index(
                "priority",
                models.F("due_at").asc(nulls_last=True),
                "id",
                name="ticket_running_rank_idx",
                condition=Q(paused_at__isnull=True) & ~Q(status__in=["resolved", "closed"]),
            ),
            # Take next walks only unassigned tickets, in by_urgency order, filtering by the
            # agent's queues: over all open tickets it would skip every assigned ticket
            # ahead of the first free one (26 ms after 17,000 claims).
            models.Index(
                "priority",
                models.F("due_at").asc(nulls_last=True),
                "id",
                name="ticket_unassigned_rank_idx",
                condition=Q(assignee__isnull=True) & ~Q(status__in=["resolved", "closed"]),
            ),
            models.Index(
                fields=["approval"],
                name="ticket_awaiting_approval_idx",
                condition=Q(approval="requested"),
            ),
            models.Index(
                fields=["sla_check_at"],
                name="ticket_sla_check_idx",
                condition=Q(sla_check_at__isnull=False),
            ),
            models.Index(fields=["customer", "-created_at"], name="ticket_customer_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_ref"],
                condition=~Q(external_ref=""),
                name="ticket_external_ref_once",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__range=(1, 5)),
                name="ticket_satisfaction_range",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved", category="complaint") | Q(approval="approved"),
                name="ticket_complaint_resolved_only_approved",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED_STATES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()

    @property
    def needs_approval(self) -> bool:
        return self.category == Category.COMPLAINT


class TicketNumber(models.Model):
    """The last ticket number given in a year (SR-2026-000123); one row per year."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("ticket number counter")
        verbose_name_plural = _("ticket number counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class TicketEvent(models.Model):
    """The ticket's history: every change, reply and note with who (NULL: the system) and
    when. Written by the services only, never changed."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Opened")
        ROUTED = "routed", _("Routed")
        ASSIGNED = "assigned", _("Assigned")
        STATUS = "status", _("Status changed")
        PRIORITY = "priority", _("Priority changed")
        QUEUE = "queue", _("Moved to queue")
        REPLY = "reply", _("Reply to customer")
        NOTE = "note", _("Internal note")
        WARNING = "warning", _("SLA warning")
        ESCALATED = "escalated", _("Escalated")
        APPROVAL = "approval", _("Approval")
        ARTICLE = "article", _("Knowledge article linked")
        SURVEY = "survey", _("Survey answered")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("who"), on_delete=models.PROTECT, null=True,
        blank=True, related_name="+",
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=12, choices=Kind)
    old = models.CharField(_("from"), max_length=100, blank=True)
    new = models.CharField(_("to"), max_length=100, blank=True)
    body = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket history")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["ticket", "at"], name="ticketevent_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    def _label(self, value: str) -> str:
        if not value:
            return ""  # no "from" (an approval request): not the label of the "" choice
        choices = {self.Kind.STATUS: Ticket.Status, self.Kind.APPROVAL: Ticket.Approval}.get(
            self.kind
        )
        if choices is not None and value in choices.values:
            return str(choices(value).label)
        return value

    @property
    def old_label(self) -> str:
        return self._label(self.old)

    @property
    def new_label(self) -> str:
        return self._label(self.new)


class SlaMilestone(models.Model):
    """A warning or escalation that happened: at most one per ticket and kind, which the
    database guarantees however many sweeps run."""

    class Kind(models.TextChoices):
        RESPONSE_WARNING = "response_warning", _("First response at 80%")
        RESOLUTION_WARNING = "resolution_warning", _("Resolution at 80%")
        LEVEL_1 = "level_1", _("Escalated to supervisor")
        LEVEL_2 = "level_2", _("Escalated to branch or department head")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind)
    at = models.DateTimeField(_("when"), default=timezone.now)
    due_at = models.DateTimeField(_("was due"))
    notified = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("notified"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name = _("SLA milestone")
        verbose_name_plural = _("SLA milestones")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "kind"], name="milestone_once_per_ticket")
        ]
        indexes = [models.Index(fields=["-at"], name="milestone_recent_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class Notification(models.Model):
    """A message to a customer or a staff member, written in the transaction that caused
    it and sent by the dispatcher. The address is read at sending time, never stored."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Given up")
        SKIPPED = "skipped", _("No address")

    key = models.CharField(_("key"), max_length=120, unique=True)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="notifications",
    )  # fmt: skip
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due_idx",
                condition=Q(status="pending"),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(user__isnull=False),
                name="notification_has_recipient",
            )
        ]

    def __str__(self) -> str:
        return self.key


class Survey(models.Model):
    """A satisfaction survey for a closed ticket: one answer, by a link with a token whose
    hash alone is stored."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="survey")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True, answered_at__isnull=True)
                | Q(score__range=(1, 5), answered_at__isnull=False),
                name="survey_answer_whole",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}"


class Macro(models.Model):
    """A canned reply. {name} is the customer's name, {number} the ticket number, {agent}
    the agent's name."""

    title = models.CharField(_("title"), max_length=100, unique=True)
    body = models.TextField(_("text"))
    category = models.CharField(_("category"), max_length=20, choices=Category, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def render(self, *, ticket: "Ticket", agent) -> str:
        values = {"name": ticket.customer.name, "number": ticket.number,
                  "agent": agent.display_name}  # fmt: skip
        return re.sub(r"\{(name|number|agent)\}", lambda m: values[m.group(1)], self.body)


class KnowledgeArticle(models.Model):
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    category = models.CharField(_("category"), max_length=20, choices=Category, blank=True)
    is_published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    tickets = models.ManyToManyField(
        Ticket, verbose_name=_("linked tickets"), related_name="articles", blank=True
    )

    class Meta:
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge base")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


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
