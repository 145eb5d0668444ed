"""The suitability pages: query counts that do not grow with the records, the compliance
screen's filters and its audited CSV export, and rule versions edited in admin."""

import csv
import io
from decimal import Decimal

import pytest

from bankcrm.audit import SYSTEM
from bankcrm.models import AccessLog
from compliance.models import DataChange, SuitabilityCheck, SuitabilityRuleSet
from compliance.sales import sale_record
from compliance.suitability import suitability_check
from tests import factories
from tests.compliance.suitability_world import assess, customer_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(branch, other_branch, rm):
    """grow(n): n more blocks and n more sales, in two branches."""
    other_rm = factories.user("relationship_manager", branch=other_branch)

    def grow(n):
        for i in range(n):
            for seller, where in ((rm, branch), (other_rm, other_branch)):
                customer = customer_at(where, seller, 2)
                suitability_check(
                    customer=customer,
                    actor=seller,
                    purpose="sale",
                    product=factories.product(kind="fund", risk_level=4),
                )
                sale_record(
                    actor=seller, context=SYSTEM, customer=customer,
                    product=factories.product(kind="wealth", risk_level=2), amount=Decimal(100),
                    channel="branch", confirmation_method="otp", confirmation_ref=f"OTP-{i}",
                )  # fmt: skip

    return grow


# Session, user, roles, TOTP device; the page's count; the page of checks with actor,
# customer, branch, product, rule set and sale in one query; the branches of the filter.
LIST = 7


def test_the_suitability_screen_counts_the_same_however_many_records(
    client, login, compliance_officer, records, django_assert_num_queries
):
    login(compliance_officer)
    for n in (1, 3):
        records(n)
        for query in ({}, {"verdict": "allowed"}, {"verdict": "blocked", "code":
                                                   "risk_exceeds_tolerance"}):  # fmt: skip
            with django_assert_num_queries(LIST):
                response = client.get("/compliance/suitability/", query)
            assert response.status_code == 200


def test_the_screen_filters_by_verdict_code_product_rm_and_branch(
    client, login, compliance_officer, records, rm, branch
):
    records(2)
    login(compliance_officer)

    def rows(**query):
        response = client.get("/compliance/suitability/", query)
        assert response.status_code == 200
        return response.content.decode().count('data-testid="suitability-row"')

    assert rows() == 8
    assert rows(verdict="blocked") == rows(code="risk_exceeds_tolerance") == 4
    assert rows(verdict="allowed") == 4
    assert rows(rm=rm.username) == 4
    assert rows(branch=branch.pk, verdict="allowed") == 2
    product = SuitabilityCheck.objects.filter(allowed=True).first().product
    assert rows(product=product.code.lower()) == 1
    assert client.get("/compliance/suitability/", {"date_from": "garbage"}).status_code == 400


def test_the_export_is_recorded_with_its_filter_and_row_count(
    client, login, compliance_officer, records
):
    records(2)
    login(compliance_officer)
    response = client.get("/compliance/suitability/export.csv", {"verdict": "allowed"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body)))
    assert len(lines) == 1 + 4
    assert lines[1][12].startswith("SL-") and lines[1][20].startswith("OTP-")
    log = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert (log.actor, log.object_type, log.detail["rows"]) == (
        compliance_officer,
        "compliance.suitability",
        4,
    )
    assert log.detail["filter"] == {"verdict": "allowed"}


# Session, user, roles, delegated ids, the customer, the access-log row and its anomaly
# check, then the products on sale for the form.
SALE_FORM = 8


def test_the_sale_pages_count_the_same_however_much_the_customer_has(
    client, login, rm, customer, django_assert_num_queries
):
    assess(customer, 3)
    product = factories.product(kind="fund", risk_level=2)
    blocked = factories.product(kind="fund", risk_level=5)
    login(rm)
    for _n in range(2):
        for _i in range(3):  # more products, more records of the customer
            factories.product()
            factories.account(customer)
        with django_assert_num_queries(SALE_FORM):
            assert client.get(f"/compliance/customers/{customer.pk}/sales/new/").status_code == 200
        # A writing request's audit context (set and cleared), the form's product, then the
        # rules, the assessment and the block's record.
        data = {"product": blocked.pk, "amount": "100", "channel": "branch", "action": "check"}
        with django_assert_num_queries(SALE_FORM + 6):
            assert client.post(f"/compliance/customers/{customer.pk}/sales/new/",
                               data).status_code == 200  # fmt: skip
        # Recording: the audit context, the form's product, the service's savepoint and its
        # audit context, the product again, rules, assessment, the check, the sale.
        data = {**data, "product": product.pk, "action": "record",
                "confirmation_method": "otp", "confirmation_ref": "OTP-1"}  # fmt: skip
        with django_assert_num_queries(SALE_FORM + 11):
            assert client.post(f"/compliance/customers/{customer.pk}/sales/new/",
                               data).status_code == 302  # fmt: skip


def test_saving_a_rule_set_in_admin_adds_a_version(client, login, admin_user):
    login(admin_user)
    v1 = SuitabilityRuleSet.objects.get(version=1)
    data = {
        "matrix": '{"1": 1, "2": 2, "3": 4, "4": 4, "5": 5}', "cooling_off_hours": "48",
        "special_care_age": "65", "wealth_hard_block": "on", "recording_min_risk": "4",
        "recording_kinds": ["wealth", "fund"], "effective_from_0": "2026-12-01",
        "effective_from_1": "00:00:00", "note": "C3 may buy R4",
    }  # fmt: skip
    response = client.post(f"/admin/compliance/suitabilityruleset/{v1.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    v1.refresh_from_db()
    v2 = SuitabilityRuleSet.objects.get(version=2)
    assert (v1.cooling_off_hours, v2.cooling_off_hours, v2.created_by) == (24, 48, admin_user)
    assert v2.matrix["3"] == 4 and sorted(v2.recording_kinds) == ["fund", "wealth"]
    assert DataChange.objects.filter(table_name="compliance_suitabilityruleset", op="I",
                                     actor_id=admin_user.pk).count() == 1  # fmt: skip
    # A matrix that admits less risk at a higher tolerance is refused.
    bad = {**data, "matrix": '{"1": 2, "2": 1, "3": 3, "4": 4, "5": 5}'}
    assert client.post("/admin/compliance/suitabilityruleset/add/", bad).status_code == 200
    assert SuitabilityRuleSet.objects.count() == 2
