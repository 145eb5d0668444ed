"""The RM's and branch manager's home-page list of high-value customers with low
stickiness or a high churn risk (registered in bankcrm.registry.HOME_SECTIONS): three
queries however large the book."""

from django.utils.translation import get_language

from analytics import access, value
from analytics.models import CustomerValue
from customers.access import customers_for_user

LIST_SIZE = 10


def at_risk_customers(request) -> dict | None:
    user = request.user
    if not access.can_see_scores(user):
        return None
    policy = value.policy()
    levels = value.tiers()
    codes = [t.code for t in levels]
    high = codes[codes.index(policy.high_value_tier) :] if policy.high_value_tier in codes else []
    rows = (
        CustomerValue.objects.filter(
            customer__in=customers_for_user(user).values("pk"), tier__in=high
        )
        .at_risk(policy)
        .select_related("customer")
        .only("customer__name", "customer__cif", "tier", "clv", "stickiness", "churn_probability")
        .order_by("-clv")[:LIST_SIZE]
    )
    return {
        "template": "analytics/_home_at_risk.html",
        "rows": rows,
        "policy": policy,
        "tiers": {t.code: t for t in levels},
        "english": (get_language() or "").startswith("en"),
    }
