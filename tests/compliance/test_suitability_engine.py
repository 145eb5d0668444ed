"""The suitability engine, rule by rule: every C×R pair (fund and wealth), the lowest category,
missing and expired assessments, the sale window in local dates, tier and kind, the marketing
block of a severe warning, what an allowed sale requires, the customer's insistence, the
records, and rule versions."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone, translation

from compliance import warnings
from compliance.models import Purpose, SuitabilityCheck, SuitabilityRuleSet
from compliance.suitability import ruleset_add_version, suitability_check
from compliance.warning_models import Severity
from customers.models import Customer, Product
from tests import factories
from tests.compliance.suitability_world import assess, customer_at

pytestmark = pytest.mark.django_db


def verdict(customer, product, purpose=Purpose.SALE, **kwargs):
    return suitability_check(customer=customer, product=product, purpose=purpose, **kwargs)


@pytest.mark.parametrize("kind", [Product.Kind.FUND, Product.Kind.WEALTH])
def test_every_tolerance_admits_exactly_the_risks_up_to_its_level(kind, branch, rm):
    products = {r: factories.product(kind=kind, risk_level=r) for r in range(1, 6)}
    for level in range(1, 6):
        customer = customer_at(branch, rm, level)
        for risk, product in products.items():
            v = verdict(customer, product, record=False)
            assert v.allowed is (risk <= level), (level, risk)
            if risk > level:
                expected = "wealth_hard_block" if kind == Product.Kind.WEALTH else (
                    "risk_exceeds_tolerance")  # fmt: skip
                assert v.code == expected, (level, risk)
                assert v.overridable is (kind == Product.Kind.FUND)
            else:
                assert (v.code, v.reasons) == ("allowed", ())


def test_the_lowest_category_admits_r1_only_whatever_the_level(branch, rm):
    customer = factories.customer(branch=branch, rm=rm)
    assess(customer, 5, lowest=True)
    assert verdict(customer, factories.product(kind="fund", risk_level=1)).allowed
    v = verdict(customer, factories.product(kind="fund", risk_level=2), record=False)
    assert (v.allowed, v.code, v.overridable) == (False, "lowest_category", False)
    # Even a customer who insists: the lowest category is no mismatch one may confirm.
    v = verdict(customer, factories.product(kind="fund", risk_level=2), customer_insists=True)
    assert not v.allowed


@pytest.mark.parametrize("expired", [True, False])
def test_a_missing_or_expired_assessment_admits_r1_only(expired, branch, rm):
    customer = factories.customer(branch=branch, rm=rm)
    if expired:
        assess(customer, 5, expires_on=timezone.localdate() - timedelta(days=1))
    assert verdict(customer, factories.product(kind="fund", risk_level=1)).allowed
    v = verdict(customer, factories.product(kind="fund", risk_level=2), customer_insists=True)
    assert (v.allowed, v.code) == (False, "assessment_missing_or_expired")
    with translation.override("zh-hans"):
        text = str(v.reasons[0])
    assert ("过期" if expired else "风险测评") in text, text


def test_valid_through_its_expiry_day(branch, rm):
    customer = factories.customer(branch=branch, rm=rm)
    today = timezone.localdate()
    assess(customer, 3, expires_on=today)
    product = factories.product(kind="fund", risk_level=3)
    assert verdict(customer, product).allowed
    tomorrow = timezone.now() + timedelta(days=1)
    assert verdict(customer, product, at=tomorrow, record=False).code == (
        "assessment_missing_or_expired"
    )


def test_a_private_placement_needs_24_hours_of_cooling_off_and_a_recording(branch, rm):
    customer = customer_at(branch, rm, 4)
    product = factories.product(kind="fund", risk_level=3, private_placement=True)
    at = timezone.now()
    v = verdict(customer, product, at=at)
    assert v.allowed
    assert v.requirements.cooling_off_until == at + timedelta(hours=24)
    assert v.requirements.dual_recording and v.requirements.special_warning
    assert "24" in v.warning_text and "冷静期" in v.warning_text
    # Not a private placement: no cooling-off.
    ordinary = verdict(customer, factories.product(kind="fund", risk_level=3))
    assert ordinary.requirements.cooling_off_until is None


def test_dual_recording_for_recorded_kinds_at_r4_or_for_special_care(branch, rm):
    young = customer_at(branch, rm, 5, birth_date=date(1990, 1, 1))
    elderly = customer_at(branch, rm, 5, birth_date=date(1950, 1, 1))
    r3_fund = factories.product(kind="fund", risk_level=3)
    r4_fund = factories.product(kind="fund", risk_level=4)
    r4_bond = factories.product(kind="bond", risk_level=4)
    assert not verdict(young, r3_fund).requirements.dual_recording
    assert verdict(young, r4_fund).requirements.dual_recording
    assert not verdict(young, r4_bond).requirements.dual_recording  # not a recorded kind
    care = verdict(elderly, r3_fund)
    assert care.special_care and care.requirements.dual_recording
    assert care.requirements.special_warning


def test_wealth_is_a_hard_block_and_a_fund_may_be_sold_when_the_customer_insists(branch, rm):
    customer = customer_at(branch, rm, 2)
    wealth = factories.product(kind="wealth", risk_level=4)
    fund = factories.product(kind="fund", risk_level=4)
    assert verdict(customer, wealth, customer_insists=True).code == "wealth_hard_block"
    insisted = verdict(customer, fund, customer_insists=True)
    assert insisted.allowed and insisted.requirements.mismatch_confirmation
    assert insisted.requirements.dual_recording
    assert "高于您的风险承受能力" in insisted.warning_text
    # Marketing never passes a mismatch, whatever the customer says.
    marketing = verdict(customer, fund, Purpose.MARKETING, customer_insists=True)
    assert (marketing.allowed, marketing.code) == (False, "risk_exceeds_tolerance")


def test_the_sale_window_is_read_in_local_dates(branch, rm):
    customer = customer_at(branch, rm, 3)
    product = factories.product(
        kind="fund", risk_level=1, sale_starts=date(2026, 12, 2), sale_ends=date(2026, 12, 31)
    )
    # 16:30 UTC on 1 December is 00:30 on 2 December in Shanghai: on sale.
    assert verdict(customer, product, at=datetime(2026, 12, 1, 16, 30, tzinfo=UTC)).allowed
    before = verdict(customer, product, at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    assert (before.allowed, before.code) == (False, "outside_sale_window")
    after = verdict(customer, product, at=datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    assert after.code == "outside_sale_window"
    product.status = Product.Status.SUSPENDED
    v = verdict(customer, product, at=datetime(2026, 12, 10, tzinfo=UTC))
    assert v.code == "product_not_on_sale"


def test_tier_and_kind(branch, rm):
    mass = customer_at(branch, rm, 5, tier=Customer.Tier.MASS)
    affluent = customer_at(branch, rm, 5, tier=Customer.Tier.AFFLUENT)
    company = customer_at(branch, rm, 5, kind=Customer.Kind.CORPORATE)
    for_affluent = factories.product(kind="fund", risk_level=2, min_tier="affluent")
    for_people = factories.product(kind="fund", risk_level=2, eligible_kinds="individual")
    assert verdict(mass, for_affluent).code == "below_min_tier"
    assert verdict(affluent, for_affluent).allowed
    assert verdict(company, for_people).code == "wrong_customer_kind"
    assert verdict(mass, for_people).allowed


def test_a_severe_warning_blocks_marketing_and_not_service_or_sale(branch, rm, risk_kinds):
    customer = customer_at(branch, rm, 3)
    product = factories.product(kind="fund", risk_level=2)
    # A court enforcement signal, severe: compliance.warnings opens the warning.
    warnings.warning_signal_apply(signal=warnings.Signal(
        source="court", signal_id="enf-1", customer_id=customer.pk, kind="court_enforcement",
        severity=Severity.SEVERE, occurred_at=timezone.now() - timedelta(hours=1),
    ))  # fmt: skip
    marketing = verdict(customer, product, Purpose.MARKETING)
    assert (marketing.allowed, marketing.code) == (False, "severe_warning_marketing")
    assert verdict(customer, product, Purpose.SERVICE).allowed
    assert verdict(customer, product, Purpose.SALE).allowed
    other = customer_at(branch, rm, 3)
    assert verdict(other, product, Purpose.MARKETING).allowed


def test_a_block_is_recorded_with_its_reasons_in_chinese_and_an_allowed_check_is_not(branch, rm):
    customer = customer_at(branch, rm, 2)
    fund = factories.product(kind="fund", risk_level=4, code="FUND-R4")
    with translation.override("en"):
        v = verdict(customer, fund, actor=rm)
        assert "above the customer's tolerance" in str(v.reasons[0])  # the reader's language
    row = SuitabilityCheck.objects.get()
    assert (row.actor, row.customer, row.product, row.purpose, row.allowed, row.code) == (
        rm,
        customer,
        fund,
        "sale",
        False,
        "risk_exceeds_tolerance",
    )
    assert row.ruleset.version == 1 and row.branch == branch
    assert "R4" in row.reasons[0] and "C2" in row.reasons[0] and "高于" in row.reasons[0]
    verdict(customer, factories.product(kind="fund", risk_level=1), actor=rm)
    assert SuitabilityCheck.objects.count() == 1
    # Evidence: never changed, never removed.
    with pytest.raises(DatabaseError), transaction.atomic():
        SuitabilityCheck.objects.filter(pk=row.pk).update(code="allowed")
    with pytest.raises(DatabaseError), transaction.atomic():
        SuitabilityCheck.objects.filter(pk=row.pk).delete()


def test_a_new_rule_version_applies_from_its_start_and_the_old_one_stays(branch, rm, admin_user):
    customer = customer_at(branch, rm, 2)
    r3 = factories.product(kind="fund", risk_level=3)
    before = timezone.now()
    assert verdict(customer, r3, record=False).code == "risk_exceeds_tolerance"
    v1 = SuitabilityRuleSet.objects.get(version=1)
    starts = before + timedelta(minutes=1)
    v2 = ruleset_add_version(
        actor=admin_user, values={"matrix": {"1": 1, "2": 3, "3": 3, "4": 4, "5": 5}},
        note="C2 may buy R3", effective_from=starts,
    )  # fmt: skip
    assert v2.version == 2 and v2.created_by == admin_user
    assert verdict(customer, r3, at=before, record=False).ruleset_version == 1
    later = verdict(customer, r3, at=starts + timedelta(seconds=1), record=False)
    assert (later.allowed, later.ruleset_version) == (True, 2)
    v1_after = SuitabilityRuleSet.objects.get(version=1)
    assert v1_after.matrix == v1.matrix == {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
    with pytest.raises(DatabaseError), transaction.atomic():
        SuitabilityRuleSet.objects.filter(pk=v1.pk).update(cooling_off_hours=1)


def test_version_1_holds_the_regulatory_defaults():
    v1 = SuitabilityRuleSet.objects.get(version=1)
    assert v1.matrix == {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
    assert (v1.cooling_off_hours, v1.special_care_age, v1.wealth_hard_block) == (24, 65, True)
    assert (v1.recording_min_risk, sorted(v1.recording_kinds)) == (
        4, ["fund", "insurance", "wealth"]
    )  # fmt: skip
    assert SuitabilityRuleSet.objects.in_force() == v1


def test_an_unknown_purpose_is_a_programming_error(branch, rm):
    customer = customer_at(branch, rm, 3)
    with pytest.raises(ValueError, match="purpose"):
        verdict(customer, factories.product(), "advice")


def test_a_new_version_of_the_rules_names_its_author_in_the_trail_outside_a_request(
    admin_user,
):
    """A shell or a task adding a version has no request middleware to name the user: the
    service does (acting), so the trail does not say 'unknown' for a change of the rules."""
    from compliance.models import DataChange

    new = ruleset_add_version(
        actor=admin_user, values={"matrix": {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}},
    )  # fmt: skip
    change = DataChange.objects.get(
        table_name="compliance_suitabilityruleset", op="I", row_pk=str(new.pk)
    )
    assert change.actor_id == admin_user.pk
