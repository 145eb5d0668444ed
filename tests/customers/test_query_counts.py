"""Query counts of the customer pages and posts that show one customer: the same for a
customer with N of every kind of related row as with 3N (no query per row), for each role
that opens them. The budgets say what each query is for; a new one must be argued."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from bankcrm.roles import Role
from customers.models import (
    Consent,
    CustomerDelegation,
    Household,
    Interaction,
    Relationship,
    Transaction,
)
from tests import factories

pytestmark = pytest.mark.django_db

KINDS = ["spouse", "parent", "child", "guarantor", "director", "shareholder"]


def grow(customer, n, *, branch, other_branch, rm, agent):
    """n more of everything the 360 page shows: accounts and transactions, interactions by
    different staff, consents, delegations to different users, tickets of different
    assignees, household members and related parties in and out of the viewer's scope."""
    view = Permission.objects.get(codename="view_customer")
    household = customer.household or Household.objects.create(name="大家庭")
    customer.household = household
    customer.save(update_fields=["household"])
    for i in range(n):
        account = factories.account(customer, balance=Decimal("1000.00"))
        for day in range(3):
            Transaction.objects.create(
                account=account, customer=customer, amount=Decimal(5), currency="CNY",
                direction="debit", channel="pos", kind="消费",
                external_id=f"q{account.pk}-{day}", booked_at=timezone.now() - timedelta(days=day),
            )  # fmt: skip
        colleague = factories.user(Role.RELATIONSHIP_MANAGER, branch=branch)
        Interaction.objects.create(
            customer=customer, channel="phone", direction="outbound", subject=f"回访{i}",
            notes="客户想了解留学贷款", actor=colleague, confidential=i % 2 == 0,
        )  # fmt: skip
        Consent.objects.create(
            customer=customer, purpose="marketing", channel="sms", granted=i % 2 == 0,
            source="app", recorded_by=colleague,
        )  # fmt: skip
        CustomerDelegation.objects.create(
            user=colleague, content_object=customer, permission=view, reason="休假代岗",
            expires_at=timezone.now() + timedelta(days=i - n // 2),
        )  # fmt: skip
        factories.ticket(customer, assignee=agent if i % 2 else colleague)
        # A member and a relative in the RM's book, and one each out of everyone's reach.
        mine = factories.customer(branch=branch, rm=rm, household=household)
        theirs = factories.customer(branch=other_branch, household=household)
        factories.account(theirs)
        for related in (mine, theirs):
            Relationship.objects.create(customer=customer, related=related, kind=KINDS[i % 6])


# Session, user (with branch), roles, delegated ids (the user's scope), the customer (with
# branch, RM, household), the access-log row, its anomaly check, the timeline (interactions,
# consents, risk profiles), consents in force, the latest risk profile, related parties and
# which are in scope (delegated ids, customers), household members with their totals and
# which are in scope (delegated ids, customers), recent delegations, holdings, balance
# history, transactions, tickets, risk warnings in force (compliance's header badges). The
# three reads of delegated ids are one per scope check. Those who record sales also see
# compliance's suitability panel: the rule set, the products on sale and the assessment.
# The notes' sentiment (bankcrm.registry.TEXT_ANNOTATIONS), and for the roles that see
# assets analytics' needs panel: the latest notes, the need phrases, the products of the
# needs found (none is on sale here: no suitability read).
DETAIL = {
    Role.RELATIONSHIP_MANAGER: 33,
    Role.BRANCH_MANAGER: 33,
    # TOTP device; no scope to check (compliance sees everyone); no delegations form.
    Role.COMPLIANCE_OFFICER: 29,
    # No assets: no household, holdings, history or transactions, no needs; the agent's and
    # the supervisor's scopes read their tickets' customers; no risk warnings.
    Role.SERVICE_AGENT: 22,
    Role.SERVICE_SUPERVISOR: 19,
}


@pytest.fixture
def grown(staff, branch, other_branch, customer):
    """grown(n): n more of everything for the customer (the agent has a ticket of theirs)."""
    factories.ticket(customer, assignee=staff[Role.SERVICE_AGENT])
    rm, agent = staff[Role.RELATIONSHIP_MANAGER], staff[Role.SERVICE_AGENT]
    return lambda n: grow(customer, n, branch=branch, other_branch=other_branch, rm=rm, agent=agent)


@pytest.mark.parametrize("role", list(DETAIL))
def test_the_360_page_counts_the_same_however_much_it_shows(
    role, client, login, staff, customer, grown, django_assert_num_queries
):
    login(staff[role])
    for n in (2, 4):  # 2, then 6 of everything
        grown(n)
        with django_assert_num_queries(DETAIL[role]):
            assert client.get(f"/customers/{customer.pk}/").status_code == 200


# Session, user, roles, delegated ids, customer, access-log row, anomaly check, the page of
# transactions (one more row than shown says whether there is a next page).
TRANSACTIONS = 8


def test_the_transactions_fragment_counts_the_same_on_every_page(
    client, login, rm, customer, grown, django_assert_num_queries
):
    login(rm)
    for n in (2, 4):
        grown(n)
        for query in ({}, {"page": 2, "direction": "debit"}):
            with django_assert_num_queries(TRANSACTIONS):
                response = client.get(
                    f"/customers/{customer.pk}/transactions/", query,
                    headers={"HX-Request": "true"},
                )  # fmt: skip
            assert response.status_code == 200


# What a post on the 360 page costs, for the RM (and an agent logging a call): none of it
# depends on how much the customer has. Session, user, roles, delegated ids and the
# customer come first; writes are audited by triggers, not by extra queries from Django.
POSTS = [
    # (role, url tail, data, status, queries)
    (Role.RELATIONSHIP_MANAGER, "interactions/",
     {"channel": "phone", "direction": "outbound", "subject": "回访"}, 302, 10),
    (Role.SERVICE_AGENT, "interactions/",
     {"channel": "phone", "direction": "inbound", "subject": "来电"}, 302, 12),
    (Role.RELATIONSHIP_MANAGER, "interactions/", {}, 400, 7),  # the form's errors
    (Role.RELATIONSHIP_MANAGER, "consents/",
     {"purpose": "marketing", "channel": "sms", "granted": "1", "source": "柜面"}, 302, 10),
    (Role.RELATIONSHIP_MANAGER, "reveal/", {"field": "mobile", "reason": "核实客户身份"}, 200, 9),
    (Role.RELATIONSHIP_MANAGER, "delegations/", {}, 400, 7),
]  # fmt: skip


@pytest.mark.parametrize(("role", "tail", "data", "status", "queries"), POSTS)
def test_posts_on_a_customer_count_the_same_however_much_it_has(
    role, tail, data, status, queries, client, login, staff, customer, grown,
    django_assert_num_queries,
):  # fmt: skip
    login(staff[role])
    for n in (2, 4):
        grown(n)
        with django_assert_num_queries(queries):
            response = client.post(f"/customers/{customer.pk}/{tail}", data)
        assert response.status_code == status
