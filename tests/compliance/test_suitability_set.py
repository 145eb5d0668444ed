"""The set-based form (eligible_customers) agrees with the per-customer function on a seeded
random population that covers every tolerance with every product risk, expired and
missing assessments, the lowest category, special care, severe warnings, tiers and kinds,
for every purpose; and it is one SQL statement however many customers."""

import random
from datetime import date, timedelta

import pytest
from django.utils import timezone

from compliance import warnings
from compliance.models import Purpose, SuitabilityCheck
from compliance.suitability import (
    eligible_customers,
    eligible_customers_recorded,
    suitability_check,
)
from compliance.warning_models import Severity
from customers.models import Customer, Product
from tests import factories
from tests.compliance.suitability_world import assess

pytestmark = pytest.mark.django_db


class Warned(set):
    """Customer ids with a real severe risk warning (a court enforcement signal through
    compliance.warnings), which both forms read."""

    def add(self, customer_id: int) -> None:
        super().add(customer_id)
        warnings.warning_signal_apply(signal=warnings.Signal(
            source="court", signal_id=f"enf-{customer_id}", customer_id=customer_id,
            kind="court_enforcement", severity=Severity.SEVERE,
            occurred_at=timezone.now() - timedelta(hours=1),
        ))  # fmt: skip


@pytest.fixture
def warned(risk_kinds):
    return Warned()


def population(branch, rm, rng: random.Random, warned: set) -> list[Customer]:
    today = timezone.localdate()
    customers = []
    # Every tolerance, valid, once at least; then random mixes of everything.
    plans = [{"level": level} for level in range(1, 6)]
    plans += [
        {
            "level": rng.choice([None, 1, 2, 3, 4, 5]),
            "expired": rng.random() < 0.2,
            "lowest": rng.random() < 0.15,
            "tier": rng.choice(Customer.Tier.values),
            "kind": rng.choice(Customer.Kind.values),
            "elderly": rng.random() < 0.2,
            "warned": rng.random() < 0.2,
        }
        for _ in range(70)
    ]
    for plan in plans:
        customer = factories.customer(
            branch=branch, rm=rm, tier=plan.get("tier", "mass"),
            kind=plan.get("kind", Customer.Kind.INDIVIDUAL),
            birth_date=date(1950, 5, 5) if plan.get("elderly") else date(1985, 5, 5),
        )  # fmt: skip
        if plan["level"] is not None:
            expires = today - timedelta(days=1) if plan.get("expired") else None
            assess(customer, plan["level"], lowest=plan.get("lowest", False), expires_on=expires)
        if plan.get("warned"):
            warned.add(customer.pk)
        customers.append(customer)
    return customers


def catalogue() -> list[Product]:
    today = timezone.localdate()
    products = [
        factories.product(kind=kind, risk_level=risk)
        for kind in (Product.Kind.FUND, Product.Kind.WEALTH)
        for risk in range(1, 6)
    ]
    products += [
        factories.product(kind="fund", risk_level=3, min_tier="affluent"),
        factories.product(kind="insurance", risk_level=2, min_tier="private"),
        factories.product(kind="bond", risk_level=2, eligible_kinds="individual"),
        factories.product(kind="fund", risk_level=4, eligible_kinds="corporate",
                          private_placement=True),
        factories.product(kind="fund", risk_level=1, sale_ends=today - timedelta(days=1)),
        factories.product(kind="fund", risk_level=1, sale_starts=today + timedelta(days=1)),
        factories.product(kind="fund", risk_level=2, status=Product.Status.SUSPENDED),
    ]  # fmt: skip
    return products


@pytest.mark.parametrize("seed", [18, 2026])
def test_the_set_based_form_agrees_with_the_per_customer_function(seed, branch, rm, warned):
    rng = random.Random(seed)
    customers = population(branch, rm, rng, warned)
    products = catalogue()
    everyone = Customer.objects.filter(pk__in=[c.pk for c in customers])
    pairs = 0
    for product in products:
        for purpose in Purpose.values:
            in_sql = set(
                eligible_customers(everyone, product, purpose=purpose).values_list("pk", flat=True)
            )
            one_by_one = {
                c.pk for c in customers
                if suitability_check(customer=c, product=product, purpose=purpose,
                                     record=False).allowed
            }  # fmt: skip
            assert in_sql == one_by_one, (product.code, product.kind, product.risk_level, purpose)
            pairs += len(customers)
    assert pairs == len(products) * 3 * len(customers)
    # The population did exercise the rules: something was refused for each reason.
    codes = {
        suitability_check(customer=c, product=p, purpose=Purpose.MARKETING, record=False).code
        for c in customers for p in products
    }  # fmt: skip
    assert codes >= {
        "allowed", "risk_exceeds_tolerance", "wealth_hard_block", "lowest_category",
        "assessment_missing_or_expired", "below_min_tier", "wrong_customer_kind",
        "outside_sale_window", "product_not_on_sale", "severe_warning_marketing",
    }  # fmt: skip


def test_the_set_based_form_is_one_statement(branch, rm, warned, django_assert_num_queries):
    customers = population(branch, rm, random.Random(1), warned)
    product = factories.product(kind="fund", risk_level=3, min_tier="affluent")
    # The rule set in force, then the customers: one statement however many.
    with django_assert_num_queries(2) as captured:
        found = list(
            eligible_customers(
                Customer.objects.filter(branch=branch), product, purpose=Purpose.MARKETING
            )
        )
    assert len(found) < len(customers)
    sql = captured.captured_queries[1]["sql"]
    assert "customers_riskprofile" in sql and "compliance_riskwarning" in sql  # one statement


def test_a_set_based_run_is_recorded_as_one_summary_row(branch, rm, warned, compliance_officer):
    population(branch, rm, random.Random(7), warned)
    product = factories.product(kind="fund", risk_level=2)
    scope = Customer.objects.filter(branch=branch)
    eligible, row = eligible_customers_recorded(
        scope, product, purpose=Purpose.MARKETING, actor=compliance_officer
    )
    assert SuitabilityCheck.objects.get() == row
    assert (row.customer, row.code, row.customers_checked) == (None, "set_run", scope.count())
    assert row.customers_allowed == eligible.count() > 0
