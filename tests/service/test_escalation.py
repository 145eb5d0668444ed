"""The SLA sweep: warnings at 80%, escalation at breach to the supervisor and later to the
head, each once per ticket however often, however late and however many sweeps run."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from service import services, sla
from service.models import Notification, SlaMilestone, Ticket, TicketEvent
from tests.concurrency import in_threads

# Monday 23 November 2026, 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 2, tzinfo=UTC)


def p1_ticket(agent, customer):
    """24×7: response due in 15 min (warning at 12), resolution in 4 h (warning at 3 h 12),
    level 1 at 15 min (the first breach), level 2 at 4 h + 2 h."""
    with time_machine.travel(MONDAY_10, tick=False):
        return services.ticket_open(
            actor=agent, customer=customer, subject="卡被盗刷", channel="phone"
        )


def kinds(ticket) -> list[str]:
    return sorted(SlaMilestone.objects.filter(ticket=ticket).values_list("kind", flat=True))


def sweep_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return sla.sla_sweep_all()


@pytest.mark.django_db
def test_warning_then_escalations_in_order_each_once(desk, agent, supervisor, head, customer):
    ticket = p1_ticket(agent, customer)
    assert sweep_at(MONDAY_10 + timedelta(minutes=11)) == 0  # nothing due yet
    sweep_at(MONDAY_10 + timedelta(minutes=12))
    assert kinds(ticket) == ["response_warning"]
    # The warning goes to whoever works it (nobody yet: the queue's supervisor).
    warning = Notification.objects.get(key=f"sla:{ticket.pk}:response_warning")
    assert warning.user == supervisor and warning.channel == "email"
    sweep_at(MONDAY_10 + timedelta(minutes=15))
    assert kinds(ticket) == ["level_1", "response_warning"]
    assert Notification.objects.get(key=f"sla:{ticket.pk}:level_1").user == supervisor
    for minutes in (16, 17, 30, 60):  # every minute from beat: nothing more
        sweep_at(MONDAY_10 + timedelta(minutes=minutes))
    assert kinds(ticket) == ["level_1", "response_warning"]
    sweep_at(MONDAY_10 + timedelta(hours=3, minutes=12))
    assert kinds(ticket) == ["level_1", "resolution_warning", "response_warning"]
    sweep_at(MONDAY_10 + timedelta(hours=6))
    assert kinds(ticket) == ["level_1", "level_2", "resolution_warning", "response_warning"]
    assert Notification.objects.get(key=f"sla:{ticket.pk}:level_2").user == head
    ticket.refresh_from_db()
    assert ticket.escalation_level == 2 and ticket.sla_check_at is None
    sweep_at(MONDAY_10 + timedelta(days=3))
    assert SlaMilestone.objects.filter(ticket=ticket).count() == 4
    assert TicketEvent.objects.filter(ticket=ticket, kind="escalated").count() == 2
    assert Notification.objects.filter(ticket=ticket, user__isnull=False).count() == 4


@pytest.mark.django_db
def test_beat_down_for_hours_catches_up_with_each_escalation_once(desk, agent, customer):
    ticket = p1_ticket(agent, customer)
    # Nothing ran for seven hours; the first sweep after gives every milestone, once.
    assert sweep_at(MONDAY_10 + timedelta(hours=7)) == 1
    assert kinds(ticket) == ["level_1", "level_2", "resolution_warning", "response_warning"]
    assert sweep_at(MONDAY_10 + timedelta(hours=7, minutes=1)) == 0
    assert SlaMilestone.objects.filter(ticket=ticket).count() == 4


@pytest.mark.django_db
def test_an_answered_ticket_is_not_warned_about_its_first_response(desk, agent, customer):
    ticket = p1_ticket(agent, customer)
    with time_machine.travel(MONDAY_10 + timedelta(minutes=5), tick=False):
        services.ticket_reply(actor=agent, ticket=ticket, body="已冻结卡片")
    sweep_at(MONDAY_10 + timedelta(minutes=30))
    assert kinds(ticket) == []
    sweep_at(MONDAY_10 + timedelta(hours=4))
    assert kinds(ticket) == ["level_1", "resolution_warning"]
    # The warning went to the assignee now.
    assert Notification.objects.get(key=f"sla:{ticket.pk}:resolution_warning").user == agent


@pytest.mark.django_db
def test_a_paused_or_resolved_ticket_is_not_escalated(desk, agent, customer):
    waiting, done = p1_ticket(agent, customer), p1_ticket(agent, customer)
    with time_machine.travel(MONDAY_10 + timedelta(minutes=1), tick=False):
        services.ticket_transition(actor=agent, ticket=waiting, to="pending_customer")
        services.ticket_resolve(actor=agent, ticket=done, resolution="已处理")
    sweep_at(MONDAY_10 + timedelta(days=2))
    assert kinds(waiting) == [] and kinds(done) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_escalate_each_ticket_once(desk, agent, customer):
    tickets = [p1_ticket(agent, customer) for _ in range(40)]
    barrier = threading.Barrier(6)

    def sweep():
        barrier.wait()
        with time_machine.travel(MONDAY_10 + timedelta(hours=7), tick=False):
            sla.sla_sweep_all(limit=7)  # small batches: the sweeps interleave

    assert in_threads(sweep, 6) == []
    assert SlaMilestone.objects.filter(ticket__in=tickets).count() == 40 * 4
    assert Notification.objects.filter(ticket__in=tickets, user__isnull=False).count() == 40 * 4
    assert TicketEvent.objects.filter(ticket__in=tickets, kind="escalated").count() == 40 * 2
    assert not Ticket.objects.filter(pk__in=[t.pk for t in tickets], sla_check_at__isnull=False)


@pytest.mark.django_db
def test_the_database_holds_one_milestone_per_ticket_and_kind(desk, agent, customer):
    from django.db import IntegrityError, transaction

    ticket = p1_ticket(agent, customer)
    SlaMilestone.objects.create(ticket=ticket, kind="level_1", due_at=MONDAY_10)
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaMilestone.objects.create(ticket=ticket, kind="level_1", due_at=MONDAY_10)
