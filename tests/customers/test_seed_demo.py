import io

import pytest
from django.core.management import call_command
from django.db import connection
from stdnum.cn import ric, uscc

from bankcrm import crypto
from bankcrm.models import User
from bankcrm.roles import Role
from bankcrm.validators import normalise_mobile
from customers.models import MOBILE_INDEX, Account, Customer, Transaction
from service.models import Ticket

pytestmark = pytest.mark.django_db


def seed(customers=300):
    out = io.StringIO()
    call_command("seed_demo", customers=customers, stdout=out)
    return out.getvalue()


def counts():
    return (
        Customer.objects.count(),
        Account.objects.count(),
        Transaction.objects.count(),
        Ticket.objects.count(),
        User.objects.count(),
    )


def test_seed_creates_a_user_per_role_and_prints_the_logins():
    output = seed()
    for username, role in [
        ("rm", Role.RELATIONSHIP_MANAGER),
        ("branch_manager", Role.BRANCH_MANAGER),
        ("agent", Role.SERVICE_AGENT),
        ("supervisor", Role.SERVICE_SUPERVISOR),
        ("compliance", Role.COMPLIANCE_OFFICER),
        ("admin", Role.ADMIN),
    ]:
        user = User.objects.get(username=username)
        assert user.has_role(role)
        assert user.check_password("Bankcrm-Demo-2026")
        assert username in output
    assert User.objects.get(username="admin").is_superuser


def test_running_twice_adds_nothing_and_growing_adds_only_the_new():
    seed(300)
    first = counts()
    assert first[0] == 300
    seed(300)
    assert counts() == first
    seed(350)
    assert Customer.objects.count() == 350
    assert Account.objects.count() > first[1]


def test_identifiers_are_stored_encrypted_and_valid():
    seed(300)
    with connection.cursor() as cursor:
        cursor.execute("SELECT national_id, mobile, address FROM customers_customer")
        for row in cursor.fetchall():
            assert all(value.startswith("v1$") for value in row)
    for customer in Customer.objects.all():
        if customer.kind == Customer.Kind.CORPORATE:
            assert uscc.is_valid(customer.national_id)
        else:
            assert ric.is_valid(customer.national_id)
            assert ric.get_birth_date(customer.national_id) == customer.birth_date
        assert normalise_mobile(customer.mobile) == customer.mobile
        assert customer.mobile_masked == f"{customer.mobile[3:6]}****{customer.mobile[-4:]}"


def test_a_customer_is_found_by_the_blind_index_of_a_full_mobile():
    seed(300)
    customer = Customer.objects.order_by("?").first()
    # What a user types (no country code, with spaces) is normalised before hashing.
    typed = customer.mobile.removeprefix("+86")
    typed = f"{typed[:3]} {typed[3:7]} {typed[7:]}"
    found = Customer.objects.get(
        mobile_index=crypto.blind_index(normalise_mobile(typed), purpose=MOBILE_INDEX)
    )
    assert found == customer


def test_demo_rms_have_books_with_history_and_tasks():
    seed(300)
    rm = User.objects.get(username="rm")
    book = Customer.objects.filter(primary_rm=rm)
    assert book.count() == 150
    assert Transaction.objects.filter(customer__in=book).count() > 150 * 10
    assert Ticket.objects.filter(assignee__username="agent").exists()
    assert Ticket.objects.filter(assignee__isnull=True).exists()


def test_demo_books_have_households_and_consents():
    from customers.models import Consent, Relationship

    seed(300)
    book = Customer.objects.filter(primary_rm__username="rm")
    spouses = Relationship.objects.filter(customer__in=book, kind="spouse")
    assert spouses.exists()
    couple = spouses.first()
    assert couple.customer.household_id == couple.related.household_id is not None
    assert Consent.objects.filter(customer__in=book).current().count() >= book.count() // 2


def test_demo_balances_cover_their_history():
    """The 360 chart walks back from today's balance through the flows: never below zero."""
    from django.db.models import Case, DecimalField, F, When

    seed(300)
    for account in Account.objects.filter(kind="current", customer__primary_rm__username="rm"):
        running = account.balance
        flows = account.transactions.annotate(
            signed=Case(
                When(direction="credit", then=F("amount")),
                default=-F("amount"),
                output_field=DecimalField(),
            )
        ).order_by("-booked_at")
        for flow in flows.values_list("signed", flat=True):
            running -= flow
            assert running >= 0, account.pk


def test_the_simulators_events_apply_to_the_demo_customers():
    """The demo's integration sources, core-banking keys and account numbers are the ones
    simulate_core_banking sends: nothing it produces is parked."""
    from customers import simulator
    from customers.ingest.models import InboxEvent, IntegrationSource
    from customers.ingest.services import inbox_process, inbox_store

    seed(300)
    core = IntegrationSource.objects.get(code="core")
    assert IntegrationSource.objects.filter(code="app").exists()
    generator = simulator.Generator(300, master_share=0.2)
    journal = simulator.Journal()
    events = journal.append("core", [generator.next() for _ in range(200)])
    assert all(o.accepted for o in inbox_store(source=core, events=events))
    while inbox_process():
        pass
    statuses = set(InboxEvent.objects.values_list("status", flat=True))
    assert statuses == {InboxEvent.Status.APPLIED}
    kinds = {e["type"] for e in events}
    assert kinds == {"transaction.posted", "customer.updated"}
    posted = [e for e in events if e["type"] == "transaction.posted"]
    assert Transaction.objects.filter(source="core").count() == len(posted)
