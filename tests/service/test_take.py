"""Taking a named ticket: of two agents clicking "Take" at once, one gets it and the other
is told a colleague has it; a supervisor can still reassign it."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from bankcrm.roles import Role
from service import services
from service.models import Ticket, TicketEvent
from tests import factories
from tests.concurrency import in_threads


@pytest.fixture
def colleague(desk, branch):
    user = factories.user(Role.SERVICE_AGENT, branch=branch, username="agent2")
    user.last_name, user.first_name = "王", "芳"
    user.save()
    desk["general"].members.add(user)
    return user


def _ticket(agent, customer):
    return services.ticket_open(
        actor=agent, customer=customer, subject="开具存款证明", channel="phone"
    )


@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_one_ticket_at_once_one_wins_the_other_is_told(
    desk, agent, colleague, customer, monkeypatch
):
    """Both requests read the ticket unassigned before either takes the row lock (a barrier
    holds each at the lock until both are there): the service must decide under the lock."""
    ticket = _ticket(agent, customer)
    lock = services._lock
    at_lock = threading.Barrier(2, timeout=10)

    def lock_together(t):
        at_lock.wait()
        return lock(t)

    monkeypatch.setattr(services, "_lock", lock_together)
    answers: dict[str, list[str]] = {}
    turn = iter([agent, colleague])
    guard = threading.Lock()

    def take():
        with guard:
            user = next(turn)
        client = Client()
        client.force_login(user)
        response = client.post(f"/service/tickets/{ticket.pk}/take/")
        assert response.status_code == 302
        with guard:
            answers[user.username] = [str(m) for m in get_messages(response.wsgi_request)]

    assert in_threads(take, 2) == []
    ticket.refresh_from_db()
    winner = ticket.assignee
    assert winner in (agent, colleague)
    loser = colleague if winner == agent else agent
    assert answers[winner.username] == [f"工单 {ticket.number} 已分配给您。"]
    assert answers[loser.username] == [
        f"{winner.display_name} 已领取该工单；如需转派，请联系主管。"
    ]
    assigned = ticket.events.filter(kind=TicketEvent.Kind.ASSIGNED)
    assert [e.actor for e in assigned] == [winner]


@pytest.mark.django_db
def test_a_taken_ticket_is_refused_to_a_colleague_but_a_supervisor_reassigns_it(
    client, login, desk, agent, colleague, supervisor, customer
):
    ticket = _ticket(agent, customer)
    services.ticket_take(agent=agent, ticket=ticket)
    services.ticket_take(agent=agent, ticket=ticket)  # one's own: nothing changes
    with pytest.raises(services.TicketTakenError, match=agent.display_name):
        services.ticket_take(agent=colleague, ticket=ticket)
    login(colleague)
    response = client.post(f"/service/tickets/{ticket.pk}/take/", follow=True)
    assert "已领取该工单" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert ticket.events.filter(kind=TicketEvent.Kind.ASSIGNED).count() == 1
    # A supervisor's explicit reassignment still moves it.
    services.ticket_assign(actor=supervisor, ticket=ticket, assignee=colleague)
    assert Ticket.objects.get(pk=ticket.pk).assignee == colleague
