"""Risk tolerance C1-C5: the mapping of the four former levels (migration 0013), the
questionnaire's result, expiry, the lowest category, one current assessment per customer,
the 65+ flag, the SQL form the suitability engine uses, and the 360 page."""

import importlib
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers import selectors, services
from customers.models import (
    LEGACY_RISK_LEVELS,
    Customer,
    RiskProfile,
    RiskQuestionnaire,
    born_on_or_before_for_age,
)
from tests import factories

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module("customers.migrations.0014_risk_tolerance_c1_c5")


def test_the_former_levels_map_to_the_c_level_that_allows_no_more():
    assert MIGRATION.LEGACY == LEGACY_RISK_LEVELS == {
        "conservative": 1, "balanced": 3, "growth": 4, "aggressive": 5
    }  # fmt: skip
    # The migration's SQL does what the table says (and leaves "" empty).
    with connection.cursor() as cursor:
        for old, new in [*LEGACY_RISK_LEVELS.items(), ("", None)]:
            cursor.execute(f"SELECT {MIGRATION._CASE.format(col='%s')}", [old])
            assert cursor.fetchone()[0] == new, old


def test_questionnaire_v2_is_active_and_v1_still_reads_through_the_mapping():
    v1 = RiskQuestionnaire.objects.get(version=1)
    v2 = RiskQuestionnaire.objects.get(is_active=True)
    assert (v1.is_active, v2.version, v2.validity_days) == (False, 2, None)
    top = {q["key"]: 2 for q in v1.questions}  # 16 points
    assert services.risk_score(v1, top)[1] == 4  # v1's band "growth" -> C4
    assert services.risk_score(v2, top)[:2] == (16, 4)
    lowest = {**top, "loss": 0}
    assert services.risk_score(v2, lowest)[2] is True
    assert services.risk_score(v2, {q["key"]: 0 for q in v2.questions})[1] == 1


def _assess(customer, **answers):
    questionnaire = RiskQuestionnaire.objects.get(is_active=True)
    chosen = {q["key"]: 2 for q in questionnaire.questions} | answers
    return services.risk_profile_assess(
        actor=None, customer=customer, questionnaire=questionnaire, answers=chosen
    )


def test_an_assessment_is_current_until_the_next_and_expires_after_a_year(customer, settings):
    today = timezone.localdate()
    first = _assess(customer)
    assert first.expires_on == today + timedelta(days=365)
    settings.RISK_ASSESSMENT_VALIDITY_DAYS = 30
    second = _assess(customer, loss=3)
    first.refresh_from_db()
    assert (first.is_current, second.is_current) == (False, True)
    assert second.expires_on == today + timedelta(days=30)
    customer.refresh_from_db()
    assert (customer.risk_level, customer.risk_expires_on) == (second.level, second.expires_on)

    current = selectors.current_risk_assessment(customer)
    assert (current.level, current.expired, current.profile_id) == (second.level, False, second.pk)
    assert current.questionnaire_version == 2 and current.max_product_risk == second.level
    on_last_day = selectors.current_risk_assessment(customer, on=second.expires_on)
    assert on_last_day.level == second.level
    after = selectors.current_risk_assessment(customer, on=second.expires_on + timedelta(1))
    assert (after.level, after.assessed_level, after.expired) == (None, second.level, True)
    assert after.max_product_risk == 1  # an expired assessment allows R1 only

    # Never two current assessments, whatever writes them.
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskProfile.objects.filter(pk=first.pk).update(is_current=True)


def test_the_lowest_category_allows_r1_only(customer):
    profile = _assess(customer, age=2, experience=3, horizon=3, loss=0, share=3)
    assert profile.lowest_category and profile.level >= 3
    current = selectors.current_risk_assessment(customer)
    assert current.lowest_category and current.max_product_risk == 1


def test_no_assessment_is_missing_and_allows_r1_only(customer):
    current = selectors.current_risk_assessment(customer)
    assert current.missing and current.level is None and current.max_product_risk == 1


@pytest.mark.parametrize(
    ("born", "on", "special"),
    [
        (date(1961, 6, 15), date(2026, 6, 15), True),  # 65 today
        (date(1961, 6, 16), date(2026, 6, 15), False),  # 65 tomorrow
        (date(1960, 2, 29), date(2025, 3, 1), True),  # a leap-day birthday: 1 March
        (date(1960, 2, 29), date(2025, 2, 28), False),
        (date(1959, 2, 28), date(2024, 2, 29), True),  # 65 years before 29 Feb: 28 Feb
    ],
)
def test_aged_65_or_over_needs_special_care(branch, born, on, special):
    customer = factories.customer(branch=branch, birth_date=born)
    assert (customer.birth_date <= born_on_or_before_for_age(65, on)) is special
    assert selectors.current_risk_assessment(customer, on=on).needs_special_care is special
    found = Customer.objects.aged_at_least(65, on).filter(pk=customer.pk).exists()
    assert found is special


def test_the_sql_form_agrees_with_the_per_customer_reading(branch):
    today = timezone.localdate()
    people = {
        "none": factories.customer(branch=branch),
        "c4": factories.customer(branch=branch, birth_date=date(1990, 1, 1)),
        "lowest": factories.customer(branch=branch),
        "expired": factories.customer(
            branch=branch, birth_date=today.replace(year=today.year - 70)
        ),
        "c5": factories.customer(branch=branch),
    }
    _assess(people["c4"], age=0, experience=3, horizon=3, loss=2, share=3)  # 16: C4
    _assess(people["lowest"], age=2, experience=3, horizon=3, loss=0, share=3)
    _assess(people["expired"], age=2, experience=3, horizon=3, loss=3, share=3)
    RiskProfile.objects.filter(customer=people["expired"]).update(expires_on=today - timedelta(1))
    _assess(people["c5"], age=2, experience=3, horizon=3, loss=3, share=3)
    rows = {
        c.pk: (c.max_product_risk, c.special_care)
        for c in selectors.with_max_product_risk(
            Customer.objects.filter(pk__in=[c.pk for c in people.values()])
        )
    }
    for name, customer in people.items():
        reading = selectors.current_risk_assessment(customer)
        assert rows[customer.pk] == (reading.max_product_risk, reading.needs_special_care), name
    assert rows[people["c5"].pk][0] == 5 and rows[people["c4"].pk][0] == 4
    assert rows[people["expired"].pk] == (1, True)


def test_the_360_page_shows_the_level_expiry_and_flags(client, login, rm, customer):
    customer.birth_date = date(1950, 3, 1)
    customer.save(update_fields=["birth_date"])
    profile = _assess(customer, age=2, experience=3, horizon=3, loss=0, share=3)
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="lowest-category"' in page and 'data-testid="special-care"' in page
    assert "C4" in page.split('data-testid="risk-badge"')[1][:200]
    RiskProfile.objects.filter(pk=profile.pk).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    expiry = page.split('data-testid="risk-expiry"')[0].rsplit("<span", 1)[1]
    assert "text-danger" in expiry
    assert 'data-testid="warnings"' in page
