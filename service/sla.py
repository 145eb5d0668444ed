"""SLA clocks as columns, and the sweep that acts on them.

A ticket's targets come from the SlaPolicy for its priority and category (or for its
priority alone) and run in the policy's or the queue's business calendar:

- first response due, with a warning at 80% of the target;
- resolution due, with a warning at 80%;
- escalation level 1 (the queue's supervisor) at the first breach of either clock; level 2
  (the branch or department head) when the ticket is still unresolved after a further half
  of its resolution target.

While a ticket waits for the customer (or is resolved) its clocks stand still: resuming
moves every time still ahead by the working time the pause took. `sla_check_at` is the
earliest warning or escalation still to come, so the sweep reads only what is due, through
a partial index. The sweep locks the rows it takes (SKIP LOCKED: a second beat or an
overlapping run takes other rows or none) and records each milestone under a unique
constraint, in the same transaction as its notifications: each happens once.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bankcrm.cache import TTLCache
from bankcrm.outbox import enqueue_on_commit
from service.calendars import Hours
from service.models import (
    BusinessCalendar,
    Notification,
    SlaMilestone,
    SlaPolicy,
    Ticket,
    TicketEvent,
)

logger = logging.getLogger(__name__)
WARN_AT = 0.8
LEVEL_2_AFTER = 0.5  # of the resolution target, after the resolution breach
# A calendar's hours, kept a minute per process (the sweep computes many tickets).
_hours = TTLCache[Hours](60.0)


def hours_for(calendar_id: int) -> Hours:
    return _hours.get(calendar_id, lambda: BusinessCalendar.objects.get(pk=calendar_id).hours())


def forget_calendars() -> None:
    _hours.forget()


def policy_for(priority: str, category: str) -> SlaPolicy | None:
    policies = {
        p.category: p
        for p in SlaPolicy.objects.filter(Q(category=category) | Q(category=""), priority=priority)
    }
    return policies.get(category) or policies.get("")


def _calendar_id(ticket: Ticket) -> int | None:
    policy = ticket.sla_policy
    if policy is not None and policy.calendar_id:
        return policy.calendar_id
    return ticket.queue.calendar_id if ticket.queue_id else None


def ticket_hours(ticket: Ticket) -> Hours | None:
    calendar_id = _calendar_id(ticket)
    return hours_for(calendar_id) if calendar_id else None


def refresh(ticket: Ticket) -> None:
    """The derived columns from the clocks: due_at (the nearest running target) and
    sla_check_at (the next warning or escalation)."""
    if ticket.responded_at is None and ticket.response_due_at is not None:
        ticket.due_at = min(ticket.response_due_at, ticket.resolve_due_at or ticket.response_due_at)
    else:
        ticket.due_at = ticket.resolve_due_at
    if ticket.paused_at is not None or ticket.status in Ticket.CLOSED_STATES:
        ticket.sla_check_at = None
        return
    pending = [
        t
        for t in (ticket.response_warn_at, ticket.resolve_warn_at, ticket.escalate_at)
        if t is not None
    ]
    ticket.sla_check_at = min(pending) if pending else None


def start(ticket: Ticket) -> None:
    """Set the clocks of a new (or re-prioritised) ticket from its policy, counted from its
    creation; a warning already past is given by the next sweep."""
    ticket.sla_policy = policy_for(ticket.priority, ticket.category)
    hours = ticket_hours(ticket)
    policy = ticket.sla_policy
    if policy is None or hours is None:
        ticket.response_due_at = ticket.response_warn_at = None
        ticket.resolve_due_at = ticket.resolve_warn_at = ticket.escalate_at = None
    else:
        begin = ticket.created_at
        if ticket.responded_at is None:
            ticket.response_due_at = hours.add(begin, policy.first_response)
            ticket.response_warn_at = hours.add(begin, policy.first_response * WARN_AT)
        ticket.resolve_due_at = hours.add(begin, policy.resolution)
        ticket.resolve_warn_at = hours.add(begin, policy.resolution * WARN_AT)
        if ticket.escalation_level == 0:
            ticket.escalate_at = _level_1_at(ticket)
        elif ticket.escalation_level == 1:
            ticket.escalate_at = hours.add(ticket.resolve_due_at, policy.resolution * LEVEL_2_AFTER)
    refresh(ticket)


def _level_1_at(ticket: Ticket) -> datetime | None:
    times = [ticket.resolve_due_at]
    if ticket.responded_at is None and ticket.response_due_at is not None:
        times.append(ticket.response_due_at)
    times = [t for t in times if t is not None]
    return min(times) if times else None


def responded(ticket: Ticket, now: datetime) -> None:
    """The first response stops its clock (and its warning)."""
    if ticket.responded_at is not None:
        return
    ticket.responded_at = now
    ticket.response_warn_at = None
    if ticket.escalation_level == 0:
        ticket.escalate_at = _level_1_at(ticket)
    refresh(ticket)


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = now
    refresh(ticket)


def resume(ticket: Ticket, now: datetime) -> None:
    """Move every time still ahead at the pause by the working time the pause took."""
    paused = ticket.paused_at
    ticket.paused_at = None
    hours = ticket_hours(ticket)
    if paused is not None and hours is not None:
        for name in (
            "response_due_at", "response_warn_at", "resolve_due_at", "resolve_warn_at",
            "escalate_at",
        ):  # fmt: skip
            value = getattr(ticket, name)
            if value is not None and value > paused:
                setattr(ticket, name, hours.add(now, hours.between(paused, value)))
    refresh(ticket)


# ---- the sweep ----------------------------------------------------------------------------

SWEEP_FIELDS = [
    "response_warn_at", "resolve_warn_at", "escalate_at", "escalation_level", "sla_check_at",
    "due_at",
]  # fmt: skip


@dataclass
class _Writes:
    milestones: list = field(default_factory=list)
    events: list = field(default_factory=list)
    notifications: list = field(default_factory=list)


def _staff_note(writes: _Writes, ticket: Ticket, user, kind: str, subject: str, body: str):
    if user is None:
        return
    writes.notifications.append(
        Notification(
            key=f"sla:{ticket.pk}:{kind}",
            channel=Notification.Channel.EMAIL,
            user=user,
            ticket=ticket,
            subject=subject[:200],
            body=body,
        )
    )


def _warn(writes: _Writes, ticket: Ticket, kind: str, due: datetime, now: datetime) -> None:
    writes.milestones.append(SlaMilestone(ticket=ticket, kind=kind, at=now, due_at=due))
    label = SlaMilestone.Kind(kind).label
    writes.events.append(
        TicketEvent(ticket=ticket, at=now, kind=TicketEvent.Kind.WARNING, new=str(label)[:100])
    )
    recipient = ticket.assignee or (ticket.queue.supervisor if ticket.queue_id else None)
    due_local = timezone.localtime(due).strftime("%Y-%m-%d %H:%M")
    _staff_note(
        writes, ticket, recipient, kind,
        _("%(number)s: %(what)s (due %(due)s)") % {"number": ticket.number, "what": label,
                                                   "due": due_local},
        _("Ticket %(number)s «%(subject)s» has used 80%% of its time; it is due at %(due)s.")
        % {"number": ticket.number, "subject": ticket.subject, "due": due_local},
    )  # fmt: skip


def _escalate(writes: _Writes, ticket: Ticket, now: datetime) -> None:
    level = ticket.escalation_level + 1
    kind = SlaMilestone.Kind.LEVEL_1 if level == 1 else SlaMilestone.Kind.LEVEL_2
    due = ticket.escalate_at
    writes.milestones.append(SlaMilestone(ticket=ticket, kind=kind, at=now, due_at=due))
    writes.events.append(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind=TicketEvent.Kind.ESCALATED,
            old=str(level - 1),
            new=str(level),
        )
    )
    queue = ticket.queue
    recipient = None
    if queue is not None:
        recipient = queue.supervisor if level == 1 else (queue.head or queue.supervisor)
    writes.milestones[-1].notified = recipient
    due_local = timezone.localtime(due).strftime("%Y-%m-%d %H:%M")
    _staff_note(
        writes, ticket, recipient, kind,
        _("Escalation level %(level)s: %(number)s %(subject)s")
        % {"level": level, "number": ticket.number, "subject": ticket.subject},
        _("Ticket %(number)s (%(priority)s) breached its SLA at %(due)s and is escalated "
          "to you (level %(level)s).")
        % {"number": ticket.number, "priority": ticket.priority, "due": due_local,
           "level": level},
    )  # fmt: skip
    ticket.escalation_level = level
    if level == 1 and ticket.resolve_due_at is not None and ticket.sla_policy is not None:
        hours = ticket_hours(ticket)
        ticket.escalate_at = hours.add(
            max(ticket.resolve_due_at, due), ticket.sla_policy.resolution * LEVEL_2_AFTER
        )
    else:
        ticket.escalate_at = None


def _due_actions(ticket: Ticket, now: datetime, writes: _Writes) -> None:
    if ticket.response_warn_at is not None and ticket.response_warn_at <= now:
        if ticket.responded_at is None:
            _warn(writes, ticket, SlaMilestone.Kind.RESPONSE_WARNING, ticket.response_due_at, now)
        ticket.response_warn_at = None
    if ticket.resolve_warn_at is not None and ticket.resolve_warn_at <= now:
        _warn(writes, ticket, SlaMilestone.Kind.RESOLUTION_WARNING, ticket.resolve_due_at, now)
        ticket.resolve_warn_at = None
    # After a long outage both levels may be due: each fires once, in order.
    while ticket.escalate_at is not None and ticket.escalate_at <= now:
        if ticket.escalation_level >= 2:
            ticket.escalate_at = None
            break
        _escalate(writes, ticket, now)
    refresh(ticket)


def sla_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Warn and escalate what is due, up to `limit` tickets; returns how many were taken.
    Safe to run twice at once and after any outage (see the module docstring)."""
    now = now or timezone.now()
    with transaction.atomic(), translation.override("zh-hans"):
        tickets = list(
            Ticket.objects.sla_due(now)
            .open()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("queue__supervisor", "queue__head", "assignee", "sla_policy")
            .order_by("sla_check_at")[:limit]
        )
        if not tickets:
            return 0
        writes = _Writes()
        for ticket in tickets:
            _due_actions(ticket, now, writes)
        # The unique (ticket, kind) is the last guard: a milestone that exists is not
        # written again, nor its notification (same key).
        SlaMilestone.objects.bulk_create(writes.milestones, ignore_conflicts=True)
        TicketEvent.objects.bulk_create(writes.events)
        Notification.objects.bulk_create(writes.notifications, ignore_conflicts=True)
        Ticket.objects.bulk_update(tickets, SWEEP_FIELDS)
    if writes.notifications:
        enqueue_on_commit("service.tasks.send_notifications")
    logger.info(
        "sla.sweep",
        extra={"tickets": len(tickets), "milestones": len(writes.milestones)},
    )
    return len(tickets)


def sla_sweep_all(*, now: datetime | None = None, limit: int = 500) -> int:
    total = 0
    while True:
        taken = sla_sweep(now=now, limit=limit)
        total += taken
        if taken < limit:
            return total


def remaining(ticket: Ticket, now: datetime) -> timedelta | None:
    return None if ticket.due_at is None else ticket.due_at - now
