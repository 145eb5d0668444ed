"""The demo data: what `make run` loads. One seed of 300 customers serves the module (it
took 5-7 s a test when each test seeded its own): it is made in a transaction that the
module rolls back at its end, and each test runs in a savepoint of it, as Django's
setUpTestData does, so what a test writes is gone after it."""

import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from stdnum import luhn
from stdnum.cn import ric, uscc

from bankcrm import crypto
from bankcrm.models import User
from bankcrm.roles import Role
from bankcrm.validators import normalise_mobile
from compliance import chain
from compliance.models import DataChange
from customers.models import MOBILE_INDEX, Account, Customer, Interaction, Transaction
from service.models import Ticket
from tests.factories import link_audit_rows

pytestmark = pytest.mark.django_db
CUSTOMERS = 300


def seed(customers=CUSTOMERS):
    # What the previous seed's commit did: its deferred triggers have run (a bulk load
    # switches a table's audit trigger off, which PostgreSQL refuses with events pending).
    link_audit_rows()
    out = io.StringIO()
    call_command("seed_demo", customers=customers, stdout=out)
    return out.getvalue()


def catalogue() -> set[tuple]:
    """The demo tables' indexes and constraints, by name, with their columns."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indrelid::regclass::text, indexrelid::regclass::text, indkey::text,"
            " indisunique FROM pg_index WHERE indrelid::regclass::text LIKE 'customers_%'"
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE conrelid::regclass::text LIKE 'customers_%'"
        )
        return indexes | set(cursor.fetchall())


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The seed's output and the demo tables' catalogue before it."""
    with django_db_blocker.unblock(), transaction.atomic():
        before = catalogue()
        output = seed()
        yield {"output": output, "catalogue": before}
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _seeded(demo):
    """Every test here reads the module's demo."""


def counts():
    return (
        Customer.objects.count(),
        Account.objects.count(),
        Transaction.objects.count(),
        Ticket.objects.count(),
        User.objects.count(),
    )


def test_seed_creates_a_user_per_role_and_prints_the_logins(demo):
    output = demo["output"]
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
    first = counts()
    assert first[0] == 300
    assert "0 customers added (300 already present)" in seed(300)
    assert counts() == first
    seed(350)
    assert Customer.objects.count() == 350
    assert Account.objects.count() > first[1]


def test_identifiers_are_stored_encrypted_and_valid():
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


def test_account_numbers_are_encrypted_valid_and_indexed():
    from customers.models import ACCOUNT_NUMBER_INDEX

    for account in Account.objects.all():
        assert luhn.is_valid(account.number), account.number
        assert account.number_index == crypto.blind_index(
            account.number, purpose=ACCOUNT_NUMBER_INDEX
        )
        assert account.number_masked.endswith(account.number[-4:])
        assert account.number not in account.number_masked


def test_the_bulk_load_is_one_audit_entry_per_table_by_demo_and_the_chain_holds():
    """The COPYed customers, holdings, external ids, interactions and risk assessments are
    recorded as one
    data change each (not one per row, which cost two thirds of the load); what else the
    seed writes goes through the triggers row by row; all of it is by `demo` but the tier
    changes of the nightly value run the demo ends with, which are the run's, and every
    chain verifies."""
    bulk = ["customers_customer", "customers_account", "customers_externalidentity",
            "customers_interaction", "customers_riskprofile"]  # fmt: skip
    loads = {
        change.table_name: change
        for change in DataChange.objects.filter(table_name__in=bulk, actor_label="demo")
    }
    assert set(loads) == set(bulk)
    assert loads["customers_interaction"].changes["rows"] == [None, Interaction.objects.count()]
    customers = Customer.objects.order_by("pk")
    assert loads["customers_customer"].op == DataChange.Op.INSERT
    assert loads["customers_customer"].changes["rows"] == [None, CUSTOMERS]
    assert loads["customers_customer"].row_pk == f"{customers.first().pk}-{customers.last().pk}"
    assert loads["customers_account"].changes["rows"] == [None, Account.objects.count()]
    # (Migrations that wrote data name themselves: they ran before the seed.)
    seeded = DataChange.objects.exclude(actor_label__startswith="migration:")
    assert set(seeded.values_list("actor_label", flat=True)) <= {"demo", "analytics nightly"}
    nightly = seeded.filter(actor_label="analytics nightly")
    assert {(c.table_name, c.op, frozenset(c.changes)) for c in nightly} <= {
        ("customers_customer", "U", frozenset({"tier", "updated_at"}))
    }
    assert DataChange.objects.filter(table_name="bankcrm_user").count() == User.objects.count()
    assert DataChange.objects.filter(table_name="service_ticket").exists()

    link_audit_rows()  # what the seed's commit does
    for table in chain.TABLES:
        report = chain.verify_table(table)
        assert report.ok, report


def test_after_the_load_every_write_is_audited_again():
    customer = Customer.objects.first()
    Customer.objects.filter(pk=customer.pk).update(occupation="教师")
    Account.objects.filter(customer=customer).update(product_name="工资卡账户二")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'customers_%%_audit'"
            " AND tgenabled = 'D'"
        )
        assert cursor.fetchall() == []
    assert DataChange.objects.filter(
        table_name="customers_customer", row_pk=str(customer.pk), op="U"
    ).exists()
    assert DataChange.objects.filter(table_name="customers_account", op="U").exists()


def test_indexes_and_constraints_are_as_the_migrations_made_them(demo):
    """The load fills empty tables without their secondary indexes and keys, then puts
    each back by name."""
    assert catalogue() == demo["catalogue"]


def test_a_customer_is_found_by_the_blind_index_of_a_full_mobile():
    customer = Customer.objects.order_by("?").first()
    # What a user types (no country code, with spaces) is normalised before hashing.
    typed = customer.mobile.removeprefix("+86")
    typed = f"{typed[:3]} {typed[3:7]} {typed[7:]}"
    found = Customer.objects.get(
        mobile_index=crypto.blind_index(normalise_mobile(typed), purpose=MOBILE_INDEX)
    )
    assert found == customer


def test_demo_rms_have_books_with_history_and_tasks():
    rm = User.objects.get(username="rm")
    book = Customer.objects.filter(primary_rm=rm)
    assert book.count() == 150
    assert Transaction.objects.filter(customer__in=book).count() > 150 * 10
    assert Ticket.objects.filter(assignee__username="agent").exists()
    assert Ticket.objects.filter(assignee__isnull=True).exists()


def test_the_demo_rm_sees_risk_warnings():
    from compliance.models import RiskWarning

    warned = RiskWarning.objects.filter(customer__primary_rm__username="rm", status="open")
    assert {"court_enforcement", "litigation", "negative_news"} <= set(
        warned.values_list("kind__code", flat=True)
    )
    # And the bank's own, as the daily sweep raises them (loans overdue, KYC expired).
    assert RiskWarning.objects.filter(source="internal").exists()


def test_demo_books_have_households_and_consents():
    from customers.models import Consent, Relationship

    book = Customer.objects.filter(primary_rm__username="rm")
    spouses = Relationship.objects.filter(customer__in=book, kind="spouse")
    assert spouses.exists()
    couple = spouses.first()
    assert couple.customer.household_id == couple.related.household_id is not None
    assert Consent.objects.filter(customer__in=book).current().count() >= book.count() // 2


def test_demo_accounts_were_opened_before_today():
    """Nothing opened in the future: the nightly figures (as of yesterday) would count no
    assets for such an account, and its customer would be tiered on nothing."""
    from django.utils import timezone

    assert Account.objects.exists()
    assert (
        not Account.objects.filter(opened_on__gte=timezone.localdate())
        .exclude(customer__created_at__date__gte=timezone.localdate())
        .exists()
    )


def test_demo_balances_cover_their_history():
    """The 360 chart walks back from today's balance through the flows: never below zero."""
    from django.db.models import Case, DecimalField, F, When

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
    from customers.ingest.services import inbox_process, inbox_store
    from customers.models.integration import InboxEvent, IntegrationSource

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


def test_the_demo_has_segments_campaigns_and_journeys():
    """Marketing's seeder (order 40): the three kinds of segment, a draft and a launched
    campaign over the demo RMs' customers, the default journeys; a second run adds none."""
    from compliance.models import SuitabilityCheck
    from marketing.models import Campaign, Delivery, Journey, Segment

    def marketing_counts():
        return (Segment.objects.count(), Campaign.objects.count(), Journey.objects.count(),
                Delivery.objects.count())  # fmt: skip

    assert set(Segment.objects.values_list("kind", flat=True)) == {"dynamic", "static",
                                                                   "snapshot"}  # fmt: skip
    assert sorted(Campaign.objects.values_list("status", flat=True)) == ["draft", "sending"]
    launched = Campaign.objects.get(status="sending")
    assert launched.approved_by.username == "compliance" and launched.product.code == "FD-CSI300"
    assert launched.risk_disclosure_document.version == 1
    rows = Delivery.objects.filter(campaign=launched)
    assert rows.filter(status="pending").exists() and rows.filter(status="left_out").exists()
    assert not rows.exclude(customer__primary_rm__username__in=["rm", "rm2"]).exists()
    assert SuitabilityCheck.objects.filter(code="set_run", product=launched.product).count() == 1
    assert Journey.objects.filter(is_active=True).count() == 5
    before = marketing_counts()
    seed(300)
    assert marketing_counts() == before
