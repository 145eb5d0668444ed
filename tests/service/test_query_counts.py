"""Query counts of a ticket's page and of the posts that work it: the same for a ticket
with N replies, notes, linked articles and colleagues in its queue as with 3N, and each
post does what it says (the count of a refused post would prove nothing). Budgets say
what the queries are for; a new one must be argued. The lists' counts are in
test_views.py."""

import pytest

from bankcrm.roles import Role
from service import services
from service.models import KnowledgeArticle, Macro, Ticket
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy(desk, agent, supervisor, customer, branch):
    """busy(n, ...): a new ticket with n replies and n notes from n colleagues of the queue,
    n linked articles and n canned replies; complaint=True for one awaiting approval,
    resolved=True for a resolved one, replies=False for one nobody has taken yet."""

    def build(n, *, complaint=False, resolved=False, replies=True):
        ticket = services.ticket_open(
            actor=agent, customer=customer, subject="手机银行无法登录", channel="phone",
            category="complaint" if complaint else "enquiry",
        )  # fmt: skip
        for i in range(n):
            colleague = factories.user(Role.SERVICE_AGENT, branch=branch)
            desk["general"].members.add(colleague)
            if replies:  # the first reply assigns the ticket to whoever sent it
                services.ticket_reply(actor=colleague, ticket=ticket, body=f"回复{i}")
            services.ticket_reply(actor=colleague, ticket=ticket, body=f"备注{i}", internal=True)
            article = KnowledgeArticle.objects.create(title=f"文章{ticket.pk}-{i}", body="…")
            services.article_link(actor=colleague, ticket=ticket, article=article)
            Macro.objects.create(title=f"话术{ticket.pk}-{i}", body="{name}您好")
        if complaint or resolved:
            services.ticket_resolve(actor=agent, ticket=ticket, resolution="已处理")
        return ticket

    return build


# Session, user, roles; the ticket (with customer, queue, assignee) in the user's scope; the
# access-log row and its anomaly check; events with their actors; linked articles; the
# description's and survey comment's sentiment (bankcrm.registry.TEXT_ANNOTATIONS). Workers
# also get the canned replies (and the scope's queues for an agent); supervisors the
# assignment form's agents.
DETAIL = {
    Role.SERVICE_AGENT: 12,
    Role.SERVICE_SUPERVISOR: 12,
    Role.RELATIONSHIP_MANAGER: 10,
    Role.COMPLIANCE_OFFICER: 10,  # the TOTP device instead of the scope's customers
}


@pytest.mark.parametrize("role", list(DETAIL))
def test_a_tickets_page_counts_the_same_however_long_its_history(
    role, client, login, staff, busy, django_assert_num_queries
):
    login(staff[role])
    for n in (2, 6):
        ticket = busy(n)
        with django_assert_num_queries(DETAIL[role]):
            assert client.get(f"/service/tickets/{ticket.pk}/").status_code == 200


# Every post: session, user, roles, the audit context set and cleared (the triggers' actor),
# the ticket in scope (and, to work it, the agent's queues and membership), a savepoint, the
# row locked; then what the flow writes: the update (the data-change trigger records it in
# the database), the ticket event, the customer's message, a
# survey on closing. None of it reads the ticket's history.
# (role, url tail, data, kind of ticket, queries, what is true afterwards)
POSTS = {
    "take": (Role.SERVICE_AGENT, "take/", {}, {"replies": False}, 13,
             lambda t, staff: t.assignee == staff[Role.SERVICE_AGENT]),
    "reply": (Role.SERVICE_AGENT, "reply/", {"body": "您好，已为您处理"}, {}, 13,
              lambda t, staff: t.events.filter(body="您好，已为您处理").exists()),
    "start": (Role.SERVICE_AGENT, "status/", {"to": "in_progress"}, {}, 12,
              lambda t, staff: t.status == "in_progress"),
    "close": (Role.SERVICE_AGENT, "status/", {"to": "closed"}, {"resolved": True}, 16,
              lambda t, staff: t.status == "closed" and hasattr(t, "survey")),
    "resolve": (Role.SERVICE_AGENT, "resolve/", {"resolution": "已重置密码"}, {}, 15,
                lambda t, staff: t.status == "resolved"),
    "reopen": (Role.SERVICE_AGENT, "reopen/", {"reason": "客户再次来电"}, {"resolved": True},
               13, lambda t, staff: t.status != "resolved"),
    "assign": (Role.SERVICE_SUPERVISOR, "assign/",
               lambda staff, desk: {"assignee": staff[Role.SERVICE_AGENT].pk}, {}, 13,
               lambda t, staff: t.assignee == staff[Role.SERVICE_AGENT]),
    "move": (Role.SERVICE_SUPERVISOR, "move/",
             lambda staff, desk: {"queue": desk["fraud"].pk}, {}, 13,
             lambda t, staff: t.queue.code == "card-fraud"),
    "approve": (Role.SERVICE_SUPERVISOR, "approve/", {"decision": "approve"},
                {"complaint": True}, 15, lambda t, staff: t.approval == "approved"),
}  # fmt: skip


@pytest.mark.parametrize("flow", list(POSTS))
def test_working_a_ticket_counts_the_same_however_long_its_history(
    flow, client, login, staff, desk, busy, django_assert_num_queries
):
    role, tail, data, kind, queries, done = POSTS[flow]
    data = data(staff, desk) if callable(data) else data
    login(staff[role])
    for n in (2, 6):
        ticket = busy(n, **kind)
        with django_assert_num_queries(queries):
            response = client.post(f"/service/tickets/{ticket.pk}/{tail}", data)
        assert response.status_code == 302
        assert done(Ticket.objects.get(pk=ticket.pk), staff), (flow, n)


# Session, user, roles, the ticket in scope (the agent's queues), can-work (queue member),
# the canned reply.
MACRO = 7


def test_a_canned_reply_counts_the_same_however_long_the_history(
    client, login, agent, busy, django_assert_num_queries
):
    login(agent)
    for n in (2, 6):
        ticket = busy(n)
        macro = {"macro": Macro.objects.first().pk}
        with django_assert_num_queries(MACRO):
            response = client.get(f"/service/tickets/{ticket.pk}/macro/", macro)
        assert response.status_code == 200


# Session, user, roles, the audit context set and cleared, a savepoint and its release, the
# agent's queues, the most urgent unassigned ticket locked (SKIP LOCKED), the update (its
# data change written by the trigger) and the event: the queue's length plays no part.
TAKE_NEXT = 11


def test_taking_the_next_ticket_counts_the_same_however_long_the_queue(
    client, login, agent, customer, busy, django_assert_num_queries
):
    login(agent)
    for n in (3, 9):
        while Ticket.objects.unassigned().count() < n:
            busy(1, replies=False)
        with django_assert_num_queries(TAKE_NEXT):
            response = client.post("/service/take-next/")
        assert response.status_code == 302 and "/service/tickets/" in response["Location"]
