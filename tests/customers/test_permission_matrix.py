"""Every customers/ URL (and the integration API's under /api/) × every role × own /
someone else's object: the status each gets (tests/matrix.py runs it).

A URL added to customers/urls.py or customers/ingest/urls.py without a row here fails the
guard, so nobody can add a page without deciding who may reach it.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from bankcrm.roles import Role
from customers.models import CustomerDelegation, ImportBatch
from customers.services import product_document_add
from tests import factories
from tests.matrix import ROLES, Matrix, World, everyone, exempt, expect

pytestmark = pytest.mark.django_db

RM, BM, AGENT, SUPERVISOR, COMPLIANCE, ADMIN = (
    Role.RELATIONSHIP_MANAGER,
    Role.BRANCH_MANAGER,
    Role.SERVICE_AGENT,
    Role.SERVICE_SUPERVISOR,
    Role.COMPLIANCE_OFFICER,
    Role.ADMIN,
)

INTERACTION = {"channel": "phone", "direction": "outbound", "subject": "回访"}
CONSENT = {"purpose": "marketing", "channel": "sms", "granted": "1", "source": "柜面"}
REVEAL = {"field": "mobile", "reason": "核实客户身份"}
# The integration API answers by its signature, never by a session: unsigned is 401.
UNSIGNED = everyone(401)

NOT_MINE = (404, 404)
MATRIX = Matrix(urlconfs=["customers.urls", "customers.ingest.urls"], rows={
    "customers:list": ("get", None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=200,
        service_supervisor=200, compliance_officer=200, product_manager=200, marketing_manager=200,
        admin=200)),
    "customers:search": ("get", {"q": "王"}, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=200,
        service_supervisor=200, compliance_officer=200, product_manager=200, marketing_manager=200,
        admin=200)),
    "customers:export": ("get", None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=403,
        service_supervisor=403, compliance_officer=200, product_manager=403, marketing_manager=403,
        admin=403)),
    "customers:detail": ("get", None, "customer", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(200, 404),
        service_supervisor=(200, 404), compliance_officer=(200, 200),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:transactions": ("get", None, "customer", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(200, 200),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:reveal": ("post", REVEAL, "customer", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(200, 200),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:interaction-create": ("post", INTERACTION, "customer", expect(
        relationship_manager=(302, 404), branch_manager=(302, 404), service_agent=(302, 404),
        service_supervisor=(302, 404), compliance_officer=(403, 403),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:consent-create": ("post", CONSENT, "customer", expect(
        relationship_manager=(302, 404), branch_manager=(302, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(403, 403),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:contact-edit": ("get", None, "customer", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(403, 403),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:risk-assess": ("get", None, "customer", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(403, 403),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    # An empty form: allowed users get 400 (the form's errors), so nothing is granted here.
    "customers:delegation-create": ("post", {}, "customer", expect(
        relationship_manager=(400, 404), branch_manager=(400, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(403, 403),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:delegation-revoke": ("post", None, "delegation", expect(
        relationship_manager=(302, 404), branch_manager=(302, 404), service_agent=(403, 404),
        service_supervisor=(403, 404), compliance_officer=(403, 403),
        product_manager=NOT_MINE, marketing_manager=NOT_MINE, admin=NOT_MINE)),
    "customers:import-list": ("get", None, None, expect(
        relationship_manager=403, branch_manager=200, service_agent=403,
        service_supervisor=403, compliance_officer=403, product_manager=200, marketing_manager=403,
        admin=200)),
    "customers:import-template": ("get", None, "kind", expect(
        relationship_manager=403, branch_manager=200, service_agent=403,
        service_supervisor=403, compliance_officer=403, product_manager=403, marketing_manager=403,
        admin=200)),
    "customers:import-detail": ("get", None, "batch", expect(
        relationship_manager=NOT_MINE, branch_manager=(200, 404), service_agent=NOT_MINE,
        service_supervisor=NOT_MINE, compliance_officer=NOT_MINE,
        product_manager=(200, 404), marketing_manager=NOT_MINE, admin=(200, 404))),
    "customers:import-commit": ("post", None, "batch", expect(
        relationship_manager=NOT_MINE, branch_manager=(302, 404), service_agent=NOT_MINE,
        service_supervisor=NOT_MINE, compliance_officer=NOT_MINE,
        product_manager=(302, 404), marketing_manager=NOT_MINE, admin=(302, 404))),
    "customers:import-discard": ("post", None, "batch", expect(
        relationship_manager=NOT_MINE, branch_manager=(302, 404), service_agent=NOT_MINE,
        service_supervisor=NOT_MINE, compliance_officer=NOT_MINE,
        product_manager=(302, 404), marketing_manager=NOT_MINE, admin=(302, 404))),
    # The catalogue: every staff role reads it; drafts only those who maintain it. "Own" is a
    # product on sale, "other" a draft (and their documents).
    "customers:product-list": ("get", None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=200,
        service_supervisor=200, compliance_officer=200, product_manager=200, marketing_manager=200,
        admin=200)),
    "customers:product-detail": ("get", None, "product", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(200, 404),
        service_supervisor=(200, 404), compliance_officer=(200, 404), product_manager=(200, 200),
        marketing_manager=(200, 404), admin=(200, 200))),
    "customers:product-document": ("get", None, "document", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=(200, 404),
        service_supervisor=(200, 404), compliance_officer=(200, 404), product_manager=(200, 200),
        marketing_manager=(200, 404), admin=(200, 200))),
    # The integration API (customers/ingest): signed by a source, not signed in by a user.
    # What a signed request gets is tests/customers/test_ingest_api.py's.
    "api:post_event": ("post", None, None, UNSIGNED),
    "api:post_batch": ("post", None, None, UNSIGNED),
    "api:source_state": ("get", None, "source", UNSIGNED),
    "api:openapi-json": ("get", None, None, everyone(200)),
    "api:openapi-view": ("get", None, None, everyone(200)),
    "api:api-root": exempt("django-ninja's prefix: no view answers it (404)"),
})  # fmt: skip
test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()


@pytest.fixture
def people(branch, other_branch):
    """An own customer of each role (in the branch, the RM's book, a ticket for the agent,
    an open ticket for the supervisor) and another branch's customer nobody here serves."""
    users = {role: factories.user(role, branch=branch) for role in ROLES}
    users[ADMIN].is_superuser = users[ADMIN].is_staff = True
    users[ADMIN].save()
    own = factories.customer(branch=branch, rm=users[RM], name="王本人")
    factories.account(own)
    factories.ticket(own, assignee=users[AGENT])
    other = factories.customer(
        branch=other_branch, rm=factories.user(RM, branch=other_branch), name="王外人"
    )
    return users, own, other


@pytest.fixture
def world(people):
    users, own, other = people

    def objects(kind, user):
        if kind == "customer":
            return {"pk": own.pk}, {"pk": other.pk}
        if kind == "delegation":
            view = Permission.objects.get(codename="view_customer")
            helper = factories.user(RM)
            until = timezone.now() + timedelta(days=3)
            mine, theirs = (
                CustomerDelegation.objects.create(
                    user=helper, content_object=c, permission=view, expires_at=until, reason="x"
                )
                for c in (own, other)
            )
            return ({"pk": own.pk, "delegation_pk": mine.pk},
                    {"pk": other.pk, "delegation_pk": theirs.pk})  # fmt: skip
        if kind == "batch":
            someone = users[BM] if user != users[BM] else users[ADMIN]
            return {"pk": _batch(user or someone).pk}, {"pk": _batch(someone).pk}
        if kind in ("product", "document"):
            on_sale = factories.product(status="on_sale")
            draft = factories.product(status="draft")
            if kind == "product":
                return {"pk": on_sale.pk}, {"pk": draft.pk}
            docs = [
                product_document_add(actor=None, product=p, kind="description", file_name="d.txt",
                                     content=b"x", content_type="text/plain")
                for p in (on_sale, draft)
            ]  # fmt: skip
            return ({"pk": on_sale.pk, "document_pk": docs[0].pk},
                    {"pk": draft.pk, "document_pk": docs[1].pk})  # fmt: skip
        if kind == "kind":
            return {"kind": "customers"}, None
        if kind == "source":
            return {"code": "core"}, None
        return {}, None

    return World(users=users, objects=objects)


def _batch(owner):
    return ImportBatch.objects.create(
        kind="customers", file_name="x.csv", uploaded_by=owner, status="ready",
        content="cif,name,branch_code\n", valid_rows=0,
    )  # fmt: skip


# ---- customers met through another customer (household members, related parties) --------
# What each role sees on its own customer's 360 page of a member who is outside its scope
# (customers/access.py RelatedCustomer): "masked" = masked name, no CIF, no link, no figures;
# "full" = name, CIF, link (and, in a household, the member's assets); "none" = no card.
HOUSEHOLD_CARD = expect(
    relationship_manager="masked", branch_manager="masked", service_agent="none",
    service_supervisor="none", compliance_officer="full", product_manager=None,
    marketing_manager=None, admin=None)  # fmt: skip
RELATIONSHIP_CARD = expect(
    relationship_manager="masked", branch_manager="masked", service_agent="masked",
    service_supervisor="masked", compliance_officer="full", product_manager=None,
    marketing_manager=None, admin=None)  # fmt: skip


@pytest.mark.parametrize("role", [r for r in ROLES if HOUSEHOLD_CARD[r] is not None])
def test_household_and_related_members_outside_scope(client, login, people, role):
    from decimal import Decimal

    from customers.models import Household, Relationship

    users, own, other = people
    home = Household.objects.create(name="王家")
    for c in (own, other):
        c.household = home
        c.save(update_fields=["household"])
    factories.account(other, balance=Decimal("7654321.00"))
    Relationship.objects.create(customer=own, related=other, kind="spouse")
    login(users[role])
    response = client.get(f"/customers/{own.pk}/")
    assert response.status_code == 200
    page = response.content.decode()

    household = page.split('data-testid="household"')[1].split("</ul>")[0] if (
        'data-testid="household"' in page) else None  # fmt: skip
    if HOUSEHOLD_CARD[role] != "full":
        assert "7,654,321" not in page  # the other member's money, in no form (nor a total)
    if HOUSEHOLD_CARD[role] == "none":
        assert household is None
    full = {"masked": False, "full": True}
    for card, expected in ((household, HOUSEHOLD_CARD[role]), (page, RELATIONSHIP_CARD[role])):
        if card is None:
            continue
        assert ("王外人" in card) is full[expected], (role, expected)
        assert (other.cif in card) is full[expected], (role, expected)
        assert (f"/customers/{other.pk}/" in card) is full[expected], (role, expected)
        if not full[expected]:
            assert "王**" in card


# ---- every page that shows a customer's data is a logged read (issue 16, item 24) ---------
# A GET of a customer URL that answers 200 must write one access-log row for that customer,
# so the access-anomaly rules count it, unless it is listed here with the reason it shows
# nothing of the customer's protected data.
NOT_A_READ = {
    "customers:risk-assess": "the questionnaire's questions and the customer's name only",
}


def test_every_customer_page_is_a_logged_read(client, people):
    from django.urls import reverse

    from bankcrm.models import AccessLog

    users, own, _other = people
    client.force_login(users[RM])
    for name, (method, _data, kind, _statuses) in MATRIX.checked_rows().items():
        if method != "get" or kind != "customer" or name in NOT_A_READ:
            continue
        before = AccessLog.objects.filter(customer_id=own.pk).count()
        response = client.get(reverse(name, kwargs={"pk": own.pk}))
        assert response.status_code == 200, name
        assert AccessLog.objects.filter(customer_id=own.pk).count() == before + 1, name


def test_reading_many_customers_transactions_trips_the_rules(client, branch):
    """A branch manager paging through private-banking customers' transactions (not their
    360 pages) is counted like 360 views: the demo's rule freezes at 15 in 10 minutes."""
    from compliance.models import AccessAlert, AccessRule

    AccessRule.objects.create(
        name="集中查看私人银行客户", measure="customers", min_tier="private", threshold=15,
        window_minutes=10, roles=[BM], freeze_account=True,
    )  # fmt: skip
    manager = factories.user(BM, branch=branch)
    wealthy = [factories.customer(branch=branch, tier="private") for _ in range(16)]
    client.force_login(manager)
    for customer in wealthy[:15]:
        assert client.get(f"/customers/{customer.pk}/transactions/").status_code == 200
    assert not AccessAlert.objects.exists()
    client.get(f"/customers/{wealthy[15].pk}/transactions/")
    alert = AccessAlert.objects.get()
    manager.refresh_from_db()
    assert (alert.user, alert.count, manager.is_frozen) == (manager, 16, True)
    # The freeze ends the session: the next fragment is not served.
    assert client.get(f"/customers/{wealthy[0].pk}/transactions/").status_code == 302


# ---- how far an agent reaches (issue 16, item 23) ------------------------------------------
# An agent opens the customer of a ticket assigned to them while it is open, and for
# SERVICE_AGENT_REACH_DAYS (7) after it is resolved or closed; then not (404).
AGENT_REACH = [
    # (ticket status, days since it was resolved/closed, status of the customer's page)
    ("in_progress", None, 200),
    ("resolved", 2, 200),
    ("closed", 6, 200),
    ("closed", 8, 404),
    ("resolved", 400, 404),
]


@pytest.mark.parametrize(("status", "days_ago", "expected"), AGENT_REACH)
def test_an_agents_reach_ends_days_after_the_ticket(client, branch, status, days_ago, expected):
    agent = factories.user(AGENT, branch=branch)
    customer = factories.customer(branch=branch)
    when = timezone.now() - timedelta(days=days_ago or 0)
    factories.ticket(
        customer, assignee=agent, status=status,
        resolved_at=when if days_ago is not None else None,
        closed_at=when if status == "closed" else None,
    )  # fmt: skip
    client.force_login(agent)
    assert client.get(f"/customers/{customer.pk}/").status_code == expected


def test_a_ticket_now_assigned_to_a_colleague_ends_the_agents_reach(client, branch):
    agent, colleague = (factories.user(AGENT, branch=branch) for _ in range(2))
    customer = factories.customer(branch=branch)
    ticket = factories.ticket(customer, assignee=agent, status="in_progress")
    client.force_login(agent)
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
    ticket.assignee = colleague
    ticket.save(update_fields=["assignee"])
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
