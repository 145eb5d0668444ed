"""The service desk's configuration in Django admin."""

import pytest

from service import services

pytestmark = pytest.mark.django_db

PAGES = [
    "queue",
    "slapolicy",
    "routingrule",
    "macro",
    "knowledgearticle",
    "notification",
    "survey",
    "ticket",
    "businesscalendar",
]


def test_admins_see_every_service_desk_page(client, login, admin_user, desk, agent, customer):
    ticket = services.ticket_open(actor=agent, customer=customer, subject="盗刷", channel="app")
    login(admin_user)
    for model in PAGES:
        assert client.get(f"/admin/service/{model}/").status_code == 200, model
    page = client.get(f"/admin/service/ticket/{ticket.pk}/change/").content.decode()
    assert ticket.number in page and "盗刷" in page  # the history inline
    # Tickets change only through the desk (history, clocks, messages).
    assert client.get("/admin/service/ticket/add/").status_code == 403


def test_an_admin_adds_a_routing_rule_that_routes_the_next_ticket(
    client, login, admin_user, desk, agent, customer
):
    login(admin_user)
    response = client.post(
        "/admin/service/routingrule/add/",
        {
            "name": "理财",
            "order": 5,
            "is_active": "on",
            "keywords": "理财, wealth",
            "category": "",
            "set_priority": "P2",
            "set_category": "wealth",
            "set_queue": desk["general"].pk,
            "confirmation": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = services.ticket_open(
        actor=agent, customer=customer, subject="Wealth product", channel="web"
    )
    assert (ticket.priority, ticket.category) == ("P2", "wealth")


def test_a_rule_without_keywords_or_category_is_refused(client, login, admin_user, desk):
    login(admin_user)
    response = client.post(
        "/admin/service/routingrule/add/",
        {"name": "空", "order": 1, "keywords": "", "category": "", "set_priority": "P1"},
    )
    assert response.status_code == 200 and "errornote" in response.content.decode()
