"""The service desk pages: the flows agents and supervisors use, and constant query counts
on the lists (who may open what: tests/service/test_permission_matrix.py)."""

import re

import pytest
from django.urls import reverse

from bankcrm.models import AccessLog
from bankcrm.roles import Role
from service import services
from service.models import KnowledgeArticle, Macro, Notification, Ticket
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(desk, agent, customer):
    return services.ticket_open(
        actor=agent, customer=customer, subject="手机银行无法登录", channel="phone"
    )


def test_queue_pages_run_a_constant_number_of_queries(
    client, login, desk, agent, customer, django_assert_num_queries
):
    login(agent)
    for n in (3, 30):
        while Ticket.objects.count() < n:
            t = services.ticket_open(
                actor=agent, customer=customer, subject="咨询", channel="phone"
            )
            if t.pk % 2:
                services.ticket_assign(actor=agent, ticket=t, assignee=agent)
        # Session, user, roles, the queue, the agent's queues (scope), the tabs, count, rows.
        with django_assert_num_queries(8):
            assert client.get("/service/queues/general/").status_code == 200
        # The same without the queue.
        with django_assert_num_queries(7):
            assert client.get("/service/").status_code == 200


def test_the_supervisor_view_runs_a_constant_number_of_queries(
    client, login, desk, agent, supervisor, customer, django_assert_num_queries
):
    login(supervisor)
    for n in (2, 20):
        while Ticket.objects.count() < n:
            t = services.ticket_open(
                actor=agent,
                customer=customer,
                subject="投诉",
                channel="phone",
                category="complaint",
            )
            services.ticket_assign(actor=supervisor, ticket=t, assignee=agent)
            services.ticket_resolve(actor=agent, ticket=t, resolution="已致歉")
        # Session, user, roles; backlog, agent load, at risk, approvals, escalations; the
        # follow-ups of negative satisfaction comments (analytics, SUPERVISOR_SECTIONS).
        with django_assert_num_queries(9):
            page = client.get("/service/supervisor/")
        assert page.content.decode().count('data-testid="approvals"') == 1


def test_a_long_queue_counts_to_a_thousand_and_says_more(client, login, ticket, agent, monkeypatch):
    from service.views import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 1)
    monkeypatch.setattr("service.views.PAGE_SIZE", 1)
    services.ticket_open(actor=agent, customer=ticket.customer, subject="咨询", channel="app")
    services.ticket_open(actor=agent, customer=ticket.customer, subject="咨询", channel="app")
    login(agent)
    page = client.get("/service/queues/general/").content.decode()
    assert "1 个以上未结工单" in page and "1 / 2" in page


def test_the_queue_refreshes_as_a_fragment_for_htmx(client, login, ticket, agent):
    login(agent)
    response = client.get("/service/queues/general/", headers={"HX-Request": "true"})
    text = response.content.decode()
    assert 'hx-trigger="every 30s"' in text and "<nav" not in text and ticket.number in text


def test_an_agent_opens_a_ticket_for_a_caller_found_by_mobile_number(
    client, login, desk, agent, customer
):
    login(agent)
    data = {
        "customer_ref": customer.mobile[3:],
        "subject": "卡片被盗刷",
        "channel": "phone",
        "category": "enquiry",
    }
    response = client.post("/service/tickets/new/", data)
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/service/tickets/{ticket.pk}/"
    assert (ticket.customer, ticket.priority, ticket.queue) == (customer, "P1", desk["fraud"])
    # Finding the caller by an identifier is logged, without the identifier.
    log = AccessLog.objects.get(action="search")
    assert log.customer_id == customer.pk and customer.mobile not in str(log.detail)
    # An unknown caller: the form comes back with what was typed.
    data["customer_ref"] = "13900000000"
    response = client.post("/service/tickets/new/", data)
    assert response.status_code == 400 and "卡片被盗刷" in response.content.decode()


def test_an_agent_opens_a_ticket_from_the_360_page(client, login, desk, agent, customer):
    ticket = services.ticket_open(actor=agent, customer=customer, subject="旧工单", channel="app")
    services.ticket_assign(actor=agent, ticket=ticket, assignee=agent)
    login(agent)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f"/service/tickets/new/?customer={customer.pk}" in page and ticket.number in page
    form = client.get(f"/service/tickets/new/?customer={customer.pk}").content.decode()
    assert "customer_ref" not in form and customer.cif in form
    client.post(
        f"/service/tickets/new/?customer={customer.pk}",
        {"subject": "开具存款证明", "channel": "branch", "category": "enquiry"},
    )
    assert Ticket.objects.filter(customer=customer, subject="开具存款证明").exists()


def test_the_rm_sees_the_customers_tickets_on_the_360_page_read_only(
    client, login, ticket, rm, customer
):
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert ticket.number in page and "/service/tickets/new/" not in page
    detail = client.get(f"/service/tickets/{ticket.pk}/").content.decode()
    assert "reply-form" not in detail and ticket.subject in detail


def test_an_agent_replies_with_a_canned_reply_and_resolves(client, login, ticket, agent):
    macro = Macro.objects.create(title="确认受理", body="{name}您好，{number} 由{agent}处理。")
    login(agent)
    filled = client.get(
        f"/service/tickets/{ticket.pk}/macro/?macro={macro.pk}", headers={"HX-Request": "true"}
    ).content.decode()
    expected = f"李娜您好，{ticket.number} 由{agent.display_name}处理。"
    assert expected in filled and "<nav" not in filled
    client.post(f"/service/tickets/{ticket.pk}/reply/", {"body": expected})
    client.post(f"/service/tickets/{ticket.pk}/resolve/", {"resolution": "已重置密码"})
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.responded_at is not None
    assert Notification.objects.filter(ticket=ticket, body=expected).exists()
    page = client.get(f"/service/tickets/{ticket.pk}/").content.decode()
    assert expected in page and "已重置密码" in page


def test_a_supervisor_approves_a_complaint_from_the_supervisor_view(
    client, login, desk, agent, supervisor, customer
):
    complaint = services.ticket_open(
        actor=agent,
        customer=customer,
        subject="投诉：排队太久",
        channel="branch",
        category="complaint",
    )
    services.ticket_resolve(actor=agent, ticket=complaint, resolution="已致歉")
    login(supervisor)
    board = client.get(reverse("service:supervisor")).content.decode()
    assert complaint.number in board
    refused = client.post(f"/service/tickets/{complaint.pk}/approve/", {"decision": "reject"})
    assert refused.status_code == 400  # sending back needs a reason
    client.post(f"/service/tickets/{complaint.pk}/approve/", {"decision": "approve"})
    complaint.refresh_from_db()
    assert complaint.status == "resolved" and complaint.approved_by == supervisor


def test_a_customer_answers_the_survey_once(client, ticket, agent):
    services.ticket_resolve(actor=agent, ticket=ticket, resolution="已处理")
    services.ticket_transition(actor=agent, ticket=ticket, to="closed")
    body = Notification.objects.get(key__endswith=":survey").body
    path = body[body.index("/s/") :]
    assert client.get(path).status_code == 200
    assert client.post(path, {"score": "9"}).status_code == 400
    assert client.post(path, {"score": "5", "comment": "很满意"}).status_code == 200
    assert "survey-answered" in client.get(path).content.decode()
    ticket.refresh_from_db()
    assert ticket.satisfaction == 5


def test_the_knowledge_base_finds_articles_and_links_them(client, login, ticket, agent):
    article = KnowledgeArticle.objects.create(title="账户冻结的常见原因", body="司法冻结……")
    KnowledgeArticle.objects.create(title="草稿", body="账户冻结", is_published=False)
    login(agent)
    found = client.get(
        f"/service/kb/?q=冻结&ticket={ticket.pk}", headers={"HX-Request": "true"}
    ).content.decode()
    assert article.title in found and "草稿" not in found
    client.post(f"/service/tickets/{ticket.pk}/articles/", {"article": article.pk})
    assert list(ticket.articles.all()) == [article]
    assert ticket.events.filter(kind="article").count() == 1


def test_the_queue_and_the_home_page_put_a_p1_first_and_say_why(
    client, login, desk, agent, customer
):
    from datetime import timedelta

    from django.utils import timezone

    lost = services.ticket_open(
        actor=agent, customer=customer, subject="银行卡丢失", channel="phone",
        category="card_lost", priority="P2", queue=desk["fraud"],
    )  # fmt: skip
    Ticket.objects.filter(pk=lost.pk).update(due_at=timezone.now() - timedelta(minutes=90))
    fraud = services.ticket_open(
        actor=agent, customer=customer, subject="信用卡被盗刷", channel="phone"
    )
    login(agent)
    for url, row in (("/service/queues/card-fraud/", "ticket-row"), ("/", "home-ticket")):
        page = client.get(url).content.decode()
        rows = page.split(f'data-testid="{row}"')[1:]
        assert [fraud.number in rows[0], lost.number in rows[1]] == [True, True], url
        why = [r.split('data-testid="why-here"')[1].split("</span></span>")[0] for r in rows]
        assert re.search(r">P1</span> · .*剩余 1[0-4].分钟", why[0]), why[0]
        assert re.search(r">P2</span> · .*已超时 1.小时", why[1]), why[1]
        assert 'data-testid="queue-order"' in page and "P1 总在 P2 之前" in page


def test_agent_load_lists_every_active_agent_of_the_queues_idle_ones_too(
    client, login, desk, agent, supervisor, customer, branch
):
    idle = factories.user(Role.SERVICE_AGENT, branch=branch, username="idle")
    idle.last_name, idle.first_name = "陈", "静"
    idle.save()
    left = factories.user(Role.SERVICE_AGENT, branch=branch, username="left", is_active=False)
    desk["general"].members.add(idle, left)
    factories.user(Role.SERVICE_AGENT, branch=branch, username="noqueue")  # in no queue
    ticket = services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="app")
    services.ticket_assign(actor=supervisor, ticket=ticket, assignee=agent)
    login(supervisor)
    body = client.get("/service/supervisor/").content.decode()
    load = body.split('data-testid="agent-load"')[1].split("</table>")[0]
    assert "陈静" in load  # no open tickets: listed all the same
    rows = load.split('data-testid="agent-load-row"')[1:]
    cells = [re.findall(r'<td class="text-end[^"]*">(\d+)</td>', row) for row in rows]
    assert len(rows) == 2 and "陈静" in rows[0] and "空闲" in rows[0]  # least loaded first
    assert cells == [["0", "0"], ["1", "0"]] and "agent" in rows[1]
    assert "left" not in load and "noqueue" not in load
