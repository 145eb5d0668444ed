"""Analytics' scores as segment fields (marketing.segments.SEGMENT_FIELDS), registered in
AnalyticsConfig.ready(): marketing's builder, compiler and explanation pick them up without
knowing analytics exists.

- Each model's latest score (churn, potential, the propensities) as a percentage: the
  customer's latest CustomerScore of the model's *active* version, one probe of
  customer_score_latest_idx (customer, model_name, scored_on desc) per customer; the active
  version's id is an uncorrelated subquery PostgreSQL runs once. A customer without a score
  of that version matches no numeric condition.
- The value tier, lifetime value and the two "high value" lists of the RM's home page
  (analytics.home, CustomerValueQuerySet.at_risk) from CustomerValue, whose key is the
  customer: a primary-key probe. The tier order and thresholds are read from the policy when
  the condition is compiled, so an admin's change applies at the next resolution.
"""

from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from analytics import value
from analytics.models import CustomerScore, CustomerValue, ModelVersion
from analytics.panels import MODEL_NAMES
from marketing.segments import SEGMENT_FIELDS, Condition, SegmentField, exists_q, number_q

SCORES = _("Scores")
PERCENT = "%"
CNY = _("yuan")


def latest_score(model_name: str):
    """The customer's latest score of the model's active version, in percent."""
    active = ModelVersion.objects.active().filter(name=model_name).values("pk")[:1]
    rows = (
        CustomerScore.objects.filter(
            customer=OuterRef("pk"), model_name=model_name, model_version_id=Subquery(active)
        )
        .order_by("-scored_on")
        .values("score")[:1]
    )
    return Subquery(rows) * 100


def _value_row(**filters) -> Exists:
    return Exists(CustomerValue.objects.filter(customer=OuterRef("pk"), **filters))


def _tier(cond: Condition) -> Exists:
    return _value_row(tier__in=cond.value)


def _tier_choices() -> list[tuple[str, str]]:
    english = (get_language() or "").startswith("en")
    return [(t.code, t.name_en if english else t.name) for t in reversed(value.tiers())]


def high_value_tiers() -> list[str]:
    """The policy's high-value tier and those above it (analytics.home's list)."""
    codes = [t.code for t in value.tiers()]
    high = value.policy().high_value_tier
    return codes[codes.index(high) :] if high in codes else []


def _high_value_low_stickiness(cond: Condition) -> Exists:
    policy = value.policy()
    return _value_row(tier__in=high_value_tiers(), stickiness__lt=policy.low_stickiness)


def _high_value_high_churn(cond: Condition) -> Exists:
    policy = value.policy()
    return _value_row(tier__in=high_value_tiers(), churn_probability__gte=policy.high_churn)


def _clv():
    return Subquery(CustomerValue.objects.filter(customer=OuterRef("pk")).values("clv")[:1])


def _score_q(model_name: str):
    return number_q(latest_score(model_name))


def segment_fields() -> list[SegmentField]:
    fields = [
        SegmentField(f"score_{name}", label, SCORES, "number", _score_q(name), unit=PERCENT,
                     help=_("The latest score of the active model, 0 to 100"))
        for name, label in MODEL_NAMES.items()
    ]  # fmt: skip
    fields += [
        SegmentField("value_tier", _("Value tier (by value score)"), SCORES, "choice",
                     exists_q(_tier), choices=_tier_choices),
        SegmentField("clv", _("Customer lifetime value"), SCORES, "number", number_q(_clv()),
                     unit=CNY),
        SegmentField("high_value_low_stickiness", _("High value, low stickiness"), SCORES,
                     "flag", exists_q(_high_value_low_stickiness)),
        SegmentField("high_value_high_churn", _("High value, high churn risk"), SCORES,
                     "flag", exists_q(_high_value_high_churn)),
    ]  # fmt: skip
    return fields


FIELDS = segment_fields()  # built once: registering the same objects again is harmless


def register() -> None:
    for spec in FIELDS:
        SEGMENT_FIELDS.register(spec, key=spec.key)
