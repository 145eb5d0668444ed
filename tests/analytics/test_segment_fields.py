"""Analytics' scores as segment fields: registered by analytics' AppConfig into marketing's
registry, compiled by marketing's unchanged code over the builder's scope."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from analytics.models import CustomerScore, CustomerValue, ModelVersion, ValuePolicy
from analytics.value import SETTINGS_CACHE
from bankcrm.roles import Role
from marketing.audience import segment_customers
from marketing.segments import SEGMENT_FIELDS, clean_tree, explain, fields_by_group
from tests import factories
from tests.marketing.conftest import cond, segment, tree

pytestmark = pytest.mark.django_db


def cifs(seg):
    return set(segment_customers(seg).values_list("cif", flat=True))


def version(name, number, *, status, trainer, activator=None):
    return ModelVersion.objects.create(
        name=name, version=number, status=status, source=ModelVersion.Source.CRM,
        label=name, features=[], holdout="last 20%", rows_train=1, rows_test=1,
        positives_train=1, positives_test=1, metrics={}, baseline_metrics={},
        model_text="", baseline={}, trained_by=trainer, activated_by=activator,
        activated_at=timezone.now() if activator else None,
    )  # fmt: skip


def score(customer, v, value, days_ago=0):
    return CustomerScore.objects.create(
        customer=customer, model_version=v, model_name=v.name, score=value,
        scored_on=timezone.localdate() - timedelta(days=days_ago),
    )  # fmt: skip


def customer_value(customer, *, tier, clv="0", stickiness=0.5, churn=0.1):
    return CustomerValue.objects.create(
        customer=customer, computed_on=timezone.localdate(), aum=Decimal(0),
        stickiness=stickiness, risk_factor=1, value_score=Decimal(0), tier=tier,
        tier_since=timezone.localdate(), margin_per_year=Decimal(0), churn_probability=churn,
        clv=Decimal(clv),
    )  # fmt: skip


@pytest.fixture
def scored(branch, rm, admin_user):
    """A, B, C, D in the branch; the active churn model scored them, a retired one too."""
    trainer = factories.user(Role.ADMIN, branch=branch, username="trainer")
    old = version("churn", 1, status=ModelVersion.Status.RETIRED, trainer=trainer)
    active = version(
        "churn", 2, status=ModelVersion.Status.ACTIVE, trainer=trainer, activator=admin_user
    )
    people = {c: factories.customer(branch=branch, rm=rm, cif=c) for c in "ABCD"}
    score(people["A"], active, 0.80)
    score(people["A"], active, 0.10, days_ago=7)  # older: the latest counts
    score(people["B"], active, 0.20)
    score(people["B"], active, 0.90, days_ago=7)
    score(people["C"], old, 0.95)  # only the retired version scored C
    return people


def test_registered_by_analytics_in_marketings_registry():
    for key in ("score_churn", "score_potential", "value_tier", "clv",
                "high_value_low_stickiness", "high_value_high_churn"):  # fmt: skip
        assert SEGMENT_FIELDS.get(key) is not None, key
    with translation.override("en"):
        groups = dict(fields_by_group())
    assert "score_churn" in {f.key for f in groups["Scores"]}


def test_churn_probability_condition_holds_the_right_customers(scored, marketing_manager):
    at_least = segment(marketing_manager, tree(cond("score_churn", "gte", "50")))
    assert cifs(at_least) == {"A"}  # B's high score is older; C's is a retired model's
    at_most = segment(marketing_manager, tree(cond("score_churn", "lte", "50")))
    assert cifs(at_most) == {"B"}  # no score of the active model: no numeric match
    between = segment(marketing_manager, tree(cond("score_churn", "between", ["15", "85"])))
    assert cifs(between) == {"A", "B"}
    with translation.override("en"):
        assert explain(at_least.conditions) == "Churn risk (6 months) is at least 50 %"


def test_value_fields(branch, rm, marketing_manager):
    SETTINGS_CACHE.forget()
    ValuePolicy.objects.update_or_create(
        pk=1, defaults={"high_value_tier": "wealth", "high_churn": Decimal("0.3"),
                        "low_stickiness": Decimal("0.35")},
    )  # fmt: skip
    people = {c: factories.customer(branch=branch, rm=rm, cif=c) for c in "PWSAM"}
    customer_value(people["P"], tier="private", clv="900000", churn=0.5)  # high churn
    customer_value(people["W"], tier="wealth", clv="300000", stickiness=0.2)  # low stickiness
    customer_value(people["S"], tier="wealth", clv="250000")  # high value, steady
    customer_value(people["A"], tier="affluent", clv="5000", stickiness=0.1, churn=0.9)
    # M has no value row yet.

    def members(*conditions):
        return cifs(segment(marketing_manager, tree(*conditions)))

    assert members(cond("value_tier", "in", ["wealth", "private"])) == {"P", "W", "S"}
    assert members(cond("value_tier", "not_in", ["wealth", "private"])) == {"A", "M"}
    assert members(cond("clv", "gte", "250000")) == {"P", "W", "S"}
    assert members(cond("high_value_low_stickiness", "yes")) == {"W"}
    assert members(cond("high_value_high_churn", "yes")) == {"P"}
    assert members(cond("high_value_high_churn", "no")) == {"W", "S", "A", "M"}
    with pytest.raises(ValidationError):
        clean_tree(tree(cond("value_tier", "in", ["platinum"])))
    SETTINGS_CACHE.forget()


def test_segment_query_reads_the_score_index(scored, marketing_manager):
    from django.db import connection

    seg = segment(marketing_manager, tree(cond("score_churn", "gte", "50")))
    sql, params = segment_customers(seg).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "customer_score_latest_idx" in plan
