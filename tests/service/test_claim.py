"""Take next: the most urgent unassigned ticket of the agent's queues, atomically."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from bankcrm.roles import Role
from service import services
from service.models import Ticket
from tests import factories
from tests.concurrency import in_threads


def open_tickets(agent, customer, n, **kwargs):
    return [
        services.ticket_open(
            actor=agent, customer=customer, subject=f"咨询 {i}", channel="phone", **kwargs
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_take_next_gives_the_most_urgent_ticket_of_my_queues(desk, agent, customer, other_rm):
    from service.models import Queue

    normal = open_tickets(agent, customer, 2)
    urgent = services.ticket_open(actor=agent, customer=customer, subject="盗刷", channel="app")
    elsewhere = Queue.objects.create(code="loans", name="贷款组", calendar=desk["general"].calendar)
    services.ticket_open(
        actor=agent,
        customer=customer,
        subject="贷款",
        channel="app",
        queue=elsewhere,
        priority="P1",
    )
    Ticket.objects.filter(pk=normal[1].pk).update(due_at=timezone.now() - timedelta(hours=1))
    taken = services.ticket_claim_next(agent=agent)
    assert taken.pk == normal[1].pk  # overdue first
    assert services.ticket_claim_next(agent=agent).pk == urgent.pk
    assert services.ticket_claim_next(agent=agent).pk == normal[0].pk
    assert services.ticket_claim_next(agent=agent) is None  # the loans queue is not mine
    taken.refresh_from_db()
    assert taken.assignee == agent and taken.status == "assigned"
    assert taken.events.filter(kind="assigned").count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_agents_taking_at_once_never_get_the_same_ticket(branch, customer):
    from service.models import BusinessCalendar, CalendarHours, Queue

    calendar = BusinessCalendar.objects.create(name="7×24")
    for weekday in range(7):
        CalendarHours.objects.create(
            calendar=calendar,
            weekday=weekday,
            opens=timezone.datetime.min.time(),
            closes=timezone.datetime.max.time(),
        )
    queue = Queue.objects.create(code="general", name="综合", calendar=calendar, is_default=True)
    agents = [factories.user(Role.SERVICE_AGENT, branch=branch) for _ in range(50)]
    queue.members.add(*agents)
    open_tickets(agents[0], customer, 120)
    claimed: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)
    turn = iter(agents)

    def work():
        with lock:
            agent = next(turn)
        barrier.wait()
        while (ticket := services.ticket_claim_next(agent=agent)) is not None:
            with lock:
                claimed.append((ticket.pk, agent.pk))

    assert in_threads(work, 50) == []
    counts = Counter(pk for pk, _ in claimed)
    assert len(counts) == 120 and max(counts.values()) == 1  # every ticket, each once
    owners = dict(Ticket.objects.values_list("pk", "assignee_id"))
    assert all(owners[pk] == agent_pk for pk, agent_pk in claimed)
    assert not Ticket.objects.filter(assignee__isnull=True).exists()
