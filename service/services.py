"""State changes of tickets. Each runs in one transaction that also writes the ticket's
history (TicketEvent) and any message to the customer or staff (Notification); the status
column is changed by an UPDATE guarded by the status the caller saw, so two clicks cannot
both win. The data-change trail records the Ticket rows' changes as well."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bankcrm import registry
from bankcrm.outbox import enqueue_on_commit
from customers.models import Customer
from service import sla
from service.models import (
    KnowledgeArticle,
    Notification,
    Queue,
    RoutingRule,
    Survey,
    Ticket,
    TicketEvent,
)

Status = Ticket.Status
SURVEY_VALID = timedelta(days=14)


class TicketStateError(Exception):
    """The ticket is not (or no longer) in a state that allows this; nothing changed."""


class TicketTakenError(TicketStateError):
    """A colleague holds the ticket; only a supervisor moves it (ticket_assign)."""


# Which status may follow which (reopening goes through ticket_reopen).
TRANSITIONS = {
    Status.NEW: {Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.RESOLVED},
    Status.ASSIGNED: {Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.RESOLVED},
    Status.IN_PROGRESS: {Status.PENDING_CUSTOMER, Status.RESOLVED},
    Status.PENDING_CUSTOMER: {Status.IN_PROGRESS, Status.RESOLVED},
    Status.RESOLVED: {Status.CLOSED},
    Status.CLOSED: set(),
}

DEFAULT_CONFIRMATION = gettext_lazy(
    "[bankcrm] Dear {name}, we have received your request, number {number}. We will "
    "contact you shortly."
)


def _event(ticket, actor, kind, *, old="", new="", body="", at=None) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, actor=actor, kind=kind, old=str(old)[:100], new=str(new)[:100],
        body=body, at=at or timezone.now(),
    )  # fmt: skip


def _customer_message(ticket: Ticket, key: str, text: str) -> None:
    """A message to the ticket's customer, by e-mail when they wrote by e-mail and have an
    address, else by SMS. Service messages: no marketing consent is needed (PIPL art. 13)."""
    channel = Notification.Channel.SMS
    if ticket.channel == Ticket.Channel.EMAIL and ticket.customer.email_masked:
        channel = Notification.Channel.EMAIL
    Notification.objects.bulk_create(
        [
            Notification(
                key=f"ticket:{ticket.pk}:{key}",
                channel=channel,
                customer_id=ticket.customer_id,
                ticket=ticket,
                subject=_("Your request %(number)s") % {"number": ticket.number},
                body=text,
            )
        ],
        ignore_conflicts=True,
    )
    enqueue_on_commit("service.tasks.send_notifications")


def _in_customer_language(func):
    """Customer messages are written in the bank's language, whatever the agent's UI."""

    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return func(*args, **kwargs)

    return wrapper


def ticket_number_next(year: int) -> str:
    """SR-2026-000123: numbers run per year without gaps in use; the counter row is locked
    until the opening transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO service_ticketnumber (year, last) VALUES (%s, 1)
               ON CONFLICT (year) DO UPDATE SET last = service_ticketnumber.last + 1
               RETURNING last""",
            [year],
        )
        (last,) = cursor.fetchone()
    return f"SR-{year}-{last:06d}"


def route(*, subject: str, description: str, category: str) -> RoutingRule | None:
    text = f"{subject}\n{description}"
    for rule in RoutingRule.objects.filter(is_active=True).select_related("set_queue"):
        if rule.matches(text=text, category=category):
            return rule
    return None


@transaction.atomic
def ticket_open(
    *,
    actor,
    customer: Customer,
    subject: str,
    channel: str,
    category: str = Ticket.Category.ENQUIRY,
    description: str = "",
    priority: str | None = None,
    queue: Queue | None = None,
    external_ref: str = "",
    opened_at=None,
) -> Ticket:
    """Opens a ticket: routing rules may set priority, category and queue (what the agent
    chose explicitly wins), the SLA clocks start, and the customer gets a confirmation with
    the ticket number. `opened_at` backdates it (demo data, bench loads)."""
    now = opened_at or timezone.now()
    rule = route(subject=subject, description=description, category=category)
    if rule is not None:
        category = rule.set_category or category
        priority = priority or rule.set_priority or None
        queue = queue or rule.set_queue
    queue = queue or Queue.objects.filter(is_default=True, is_active=True).first()
    ticket = Ticket(
        number=ticket_number_next(timezone.localdate(now).year),
        customer=customer,
        subject=subject,
        description=description,
        channel=channel,
        category=category,
        priority=priority or Ticket.Priority.P3,
        queue=queue,
        created_by=actor,
        external_ref=external_ref,
        created_at=now,
        updated_at=now,
    )
    sla.start(ticket)
    ticket.save()
    if description.strip():
        registry.text_written("ticket", ticket.pk, description)  # its sentiment, say
    _event(ticket, actor, TicketEvent.Kind.CREATED, new=ticket.get_status_display(), at=now)
    if rule is not None:
        _event(ticket, None, TicketEvent.Kind.ROUTED, new=rule.name,
               body=f"{ticket.priority} · {queue or '—'}", at=now)  # fmt: skip
    with translation.override(settings.LANGUAGE_CODE):
        template = (rule.confirmation if rule and rule.confirmation else "") or str(
            DEFAULT_CONFIRMATION
        )
        text = template.replace("{number}", ticket.number).replace("{name}", customer.name)
        _customer_message(ticket, "opened", text)
    return ticket


def _set_status(ticket: Ticket, actor, to: str, *, now, extra=None, body="") -> None:
    old = ticket.status
    if to not in TRANSITIONS[Status(old)]:
        raise TicketStateError(
            _("A ticket that is %(old)s cannot become %(new)s.")
            % {"old": Status(old).label, "new": Status(to).label}
        )
    if old == Status.PENDING_CUSTOMER:
        sla.resume(ticket, now)
    if to == Status.PENDING_CUSTOMER:
        sla.responded(ticket, now)  # asking the customer something is a response
        sla.pause(ticket, now)
    ticket.status = to
    ticket.updated_at = now
    fields = {"status": to, "updated_at": now, **(extra or {})}
    for name, value in (extra or {}).items():
        setattr(ticket, name, value)
    if to in Ticket.CLOSED_STATES:
        sla.pause(ticket, now)
    sla.refresh(ticket)
    for name in (
        "due_at", "response_due_at", "response_warn_at", "responded_at", "resolve_due_at",
        "resolve_warn_at", "escalate_at", "paused_at", "sla_check_at",
    ):  # fmt: skip
        fields[name] = getattr(ticket, name)
    # Guarded by the status the caller saw: a concurrent change makes this a no-op.
    if not Ticket.objects.filter(pk=ticket.pk, status=old).update(**fields):
        raise TicketStateError(_("Someone else changed this ticket; reload it."))
    _event(ticket, actor, TicketEvent.Kind.STATUS, old=old, new=to, body=body, at=now)


STATUS_MESSAGES = {
    Status.PENDING_CUSTOMER: gettext_lazy(
        "[bankcrm] Your request {number} needs more information from you; we will contact you."
    ),
    Status.RESOLVED: gettext_lazy("[bankcrm] Your request {number} is resolved. {resolution}"),
}


@_in_customer_language
def _notify_status(ticket: Ticket, status: str, *, resolution: str = "") -> None:
    template = STATUS_MESSAGES.get(status)
    if template is None:
        return
    text = str(template).replace("{number}", ticket.number).replace("{resolution}", resolution)
    # Keyed by the event count so a second resolution after a reopen is a new message.
    n = ticket.events.filter(kind=TicketEvent.Kind.STATUS, new=status).count()
    _customer_message(ticket, f"{status}:{n}", text.strip())


def _lock(ticket: Ticket) -> Ticket:
    """The ticket as it is now, locked for the rest of the transaction."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("customer", "queue", "sla_policy")
        .get(pk=ticket.pk)
    )


@transaction.atomic
def ticket_claim_next(*, agent, queue: Queue | None = None) -> Ticket | None:
    """Assigns the most urgent unassigned open ticket of the agent's queues (or of `queue`)
    to the agent. Concurrent callers skip each other's locked rows: each gets another
    ticket, never the same one."""
    queues = [queue.pk] if queue else list(agent.service_queues.values_list("pk", flat=True))
    ticket = (
        Ticket.objects.unassigned()
        .filter(queue_id__in=queues)
        .select_for_update(skip_locked=True, of=("self",))
        .by_urgency()
        .first()
    )
    if ticket is None:
        return None
    _assign(ticket, agent, actor=agent)
    return ticket


def _assign(ticket: Ticket, assignee, *, actor) -> None:
    now = timezone.now()
    old = ticket.assignee
    ticket.assignee = assignee
    ticket.updated_at = now
    fields = ["assignee", "updated_at"]
    if ticket.status == Status.NEW:
        ticket.status = Status.ASSIGNED
        fields.append("status")
    ticket.save(update_fields=fields)
    _event(ticket, actor, TicketEvent.Kind.ASSIGNED,
           old=old.display_name if old else "", new=assignee.display_name, at=now)  # fmt: skip


@transaction.atomic
def ticket_take(*, agent, ticket: Ticket) -> Ticket:
    """The agent takes a ticket nobody holds (taking one's own changes nothing). Checked
    under the row lock: of two agents taking it at once, the second waits for the first's
    commit, sees the first as the assignee and is refused (TicketTakenError); only a
    supervisor's ticket_assign moves a ticket from one agent to another."""
    ticket = _lock(ticket)
    if not ticket.is_open:
        raise TicketStateError(_("A resolved or closed ticket cannot be taken."))
    if ticket.assignee_id not in (None, agent.pk):
        raise TicketTakenError(
            _("%(name)s has already taken this ticket; ask a supervisor to reassign it.")
            % {"name": ticket.assignee.display_name}
        )
    if ticket.assignee_id is None:
        _assign(ticket, agent, actor=agent)
    return ticket


@transaction.atomic
def ticket_assign(*, actor, ticket: Ticket, assignee) -> Ticket:
    """Assigns (or reassigns, over whoever holds it) a ticket: a supervisor's decision; the
    caller has checked that actor may. Agents take tickets with ticket_take."""
    ticket = _lock(ticket)
    if not ticket.is_open:
        raise TicketStateError(_("A resolved or closed ticket cannot be reassigned."))
    if ticket.assignee_id != assignee.pk:
        _assign(ticket, assignee, actor=actor)
    return ticket


@transaction.atomic
def ticket_move(*, actor, ticket: Ticket, queue: Queue | None = None, priority: str | None = None):
    """Moves a ticket to another queue and/or priority; a new priority restarts the clocks
    from the ticket's opening under the new policy."""
    ticket = _lock(ticket)
    if not ticket.is_open:
        raise TicketStateError(_("A resolved or closed ticket cannot be changed."))
    now = timezone.now()
    if queue is not None and queue.pk != ticket.queue_id:
        _event(ticket, actor, TicketEvent.Kind.QUEUE, old=ticket.queue or "", new=queue, at=now)
        ticket.queue = queue
        if ticket.assignee_id and not queue.members.filter(pk=ticket.assignee_id).exists():
            ticket.assignee = None
            if ticket.status == Status.ASSIGNED:
                ticket.status = Status.NEW
    if priority and priority != ticket.priority:
        _event(ticket, actor, TicketEvent.Kind.PRIORITY, old=ticket.priority, new=priority, at=now)
        ticket.priority = priority
        paused = ticket.paused_at
        sla.start(ticket)
        ticket.paused_at = paused
        sla.refresh(ticket)
    ticket.updated_at = now
    ticket.save()
    return ticket


@transaction.atomic
def ticket_reply(*, actor, ticket: Ticket, body: str, internal: bool = False) -> TicketEvent:
    """A reply goes to the customer (and stops the first-response clock); a note stays
    inside the bank."""
    ticket = _lock(ticket)
    now = timezone.now()
    if internal:
        return _event(ticket, actor, TicketEvent.Kind.NOTE, body=body, at=now)
    if not ticket.is_open:
        raise TicketStateError(_("Reopen the ticket before replying."))
    event = _event(ticket, actor, TicketEvent.Kind.REPLY, body=body, at=now)
    if ticket.status in (Status.NEW, Status.ASSIGNED):
        if ticket.assignee_id is None:
            _assign(ticket, actor, actor=actor)
        sla.responded(ticket, now)
        _set_status(ticket, actor, Status.IN_PROGRESS, now=now)
    elif ticket.responded_at is None:
        sla.responded(ticket, now)
        ticket.save(update_fields=["responded_at", "response_warn_at", "escalate_at",
                                   "due_at", "sla_check_at"])  # fmt: skip
    _customer_message(ticket, f"reply:{event.pk}", body)
    return event


@transaction.atomic
def ticket_transition(*, actor, ticket: Ticket, to: str, note: str = "") -> Ticket:
    """Start work, wait for the customer, resume, close. Resolving goes through
    ticket_resolve (complaints need approval)."""
    if to == Status.RESOLVED:
        raise TicketStateError(_("Use resolve."))
    ticket = _lock(ticket)
    now = timezone.now()
    extra = {}
    if to == Status.CLOSED:
        extra["closed_at"] = now
    if to == Status.IN_PROGRESS and ticket.assignee_id is None:
        _assign(ticket, actor, actor=actor)
    _set_status(ticket, actor, to, now=now, extra=extra, body=note)
    if to == Status.PENDING_CUSTOMER:
        _notify_status(ticket, to)
    if to == Status.CLOSED:
        _survey_send(ticket, now)
    return ticket


@transaction.atomic
def ticket_resolve(*, actor, ticket: Ticket, resolution: str) -> Ticket:
    """Resolves the ticket and tells the customer; a complaint instead waits for a
    supervisor's approval (ticket_approve)."""
    ticket = _lock(ticket)
    now = timezone.now()
    if not ticket.is_open:
        raise TicketStateError(_("The ticket is already resolved or closed."))
    if ticket.needs_approval and ticket.approval != Ticket.Approval.APPROVED:
        if ticket.approval == Ticket.Approval.REQUESTED:
            raise TicketStateError(_("This complaint is already waiting for approval."))
        Ticket.objects.filter(pk=ticket.pk).update(
            approval=Ticket.Approval.REQUESTED, resolution=resolution, updated_at=now
        )
        ticket.approval, ticket.resolution = Ticket.Approval.REQUESTED, resolution
        _event(ticket, actor, TicketEvent.Kind.APPROVAL, new=Ticket.Approval.REQUESTED,
               body=resolution, at=now)  # fmt: skip
        return ticket
    _resolve(ticket, actor, resolution, now)
    return ticket


def _resolve(ticket, actor, resolution, now) -> None:
    sla.responded(ticket, now)
    _set_status(ticket, actor, Status.RESOLVED, now=now, body=resolution,
                extra={"resolved_at": now, "resolution": resolution,
                       "responded_at": ticket.responded_at})  # fmt: skip
    _notify_status(ticket, Status.RESOLVED, resolution=resolution)


@transaction.atomic
def ticket_approve(*, actor, ticket: Ticket, approve: bool, note: str = "") -> Ticket:
    """A supervisor's decision on a complaint's resolution: approved resolves it (and tells
    the customer); sent back returns it to the agent."""
    ticket = _lock(ticket)
    if ticket.approval != Ticket.Approval.REQUESTED:
        raise TicketStateError(_("This ticket is not waiting for approval."))
    now = timezone.now()
    decision = Ticket.Approval.APPROVED if approve else Ticket.Approval.REJECTED
    ticket.approval = decision
    Ticket.objects.filter(pk=ticket.pk).update(
        approval=decision, approved_by=actor if approve else None, updated_at=now
    )
    _event(ticket, actor, TicketEvent.Kind.APPROVAL, old=Ticket.Approval.REQUESTED,
           new=decision, body=note, at=now)  # fmt: skip
    if approve:
        ticket.approved_by = actor
        _resolve(ticket, actor, ticket.resolution, now)
    return ticket


@transaction.atomic
def ticket_reopen(*, actor, ticket: Ticket, reason: str) -> Ticket:
    """Back to in progress; the clocks continue where they stood at resolution (the time in
    between is a pause), and a complaint needs approval again."""
    ticket = _lock(ticket)
    if ticket.is_open:
        raise TicketStateError(_("The ticket is open."))
    now = timezone.now()
    old = ticket.status
    sla.resume(ticket, now)
    ticket.status = Status.IN_PROGRESS
    ticket.resolved_at = ticket.closed_at = None
    if ticket.needs_approval:
        ticket.approval, ticket.approved_by = "", None
    ticket.updated_at = now
    sla.refresh(ticket)
    updated = Ticket.objects.filter(pk=ticket.pk, status=old).update(
        **{
            name: getattr(ticket, name)
            for name in (
                "status", "resolved_at", "closed_at", "approval", "approved_by", "updated_at",
                "due_at", "response_due_at", "response_warn_at", "resolve_due_at",
                "resolve_warn_at", "escalate_at", "paused_at", "sla_check_at",
            )
        }
    )  # fmt: skip
    if not updated:
        raise TicketStateError(_("Someone else changed this ticket; reload it."))
    _event(ticket, actor, TicketEvent.Kind.STATUS, old=old, new=Status.IN_PROGRESS,
           body=reason, at=now)  # fmt: skip
    return ticket


def survey_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@_in_customer_language
def _survey_send(ticket: Ticket, now) -> None:
    if Survey.objects.filter(ticket=ticket).exists():
        return  # closed before (reopened since): one survey per ticket
    token = secrets.token_urlsafe(24)
    Survey.objects.create(
        ticket=ticket, token_hash=survey_token_hash(token), sent_at=now,
        expires_at=now + SURVEY_VALID,
    )  # fmt: skip
    link = f"{settings.SITE_URL.rstrip('/')}/s/{token}/"
    text = _("[bankcrm] Your request %(number)s is closed. Please rate our service: %(link)s") % {
        "number": ticket.number,
        "link": link,
    }
    _customer_message(ticket, "survey", text)


def survey_for_token(token: str) -> Survey | None:
    return (
        Survey.objects.select_related("ticket")
        .filter(token_hash=survey_token_hash(token), expires_at__gt=timezone.now())
        .first()
    )


@transaction.atomic
def survey_answer(*, survey: Survey, score: int, comment: str) -> bool:
    """Records the one answer (False if it was answered already) and puts the score on the
    ticket."""
    now = timezone.now()
    if not Survey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(
        score=score, comment=comment, answered_at=now
    ):
        return False
    Ticket.objects.filter(pk=survey.ticket_id).update(satisfaction=score)
    if comment.strip():  # keyed by the ticket: one survey per ticket
        registry.text_written("survey", survey.ticket_id, comment)
    _event(survey.ticket, None, TicketEvent.Kind.SURVEY, new=str(score), body=comment, at=now)
    return True


@transaction.atomic
def article_link(*, actor, ticket: Ticket, article: KnowledgeArticle) -> None:
    if article.tickets.filter(pk=ticket.pk).exists():
        return
    article.tickets.add(ticket)
    _event(ticket, actor, TicketEvent.Kind.ARTICLE, new=article.title)


def articles_search(query: str, *, limit: int = 10):
    """Published articles whose title or text contains every word of the query."""
    qs = KnowledgeArticle.objects.filter(is_published=True)
    for word in query.split()[:5]:
        qs = qs.filter(Q(title__icontains=word) | Q(body__icontains=word))
    return qs.order_by("title")[:limit]
