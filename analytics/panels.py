"""The 360 page's analytics section (registered in bankcrm.registry.CUSTOMER_PANELS): the
value tier with its components and what would move the customer up, the churn risk, the
lifetime value and each active model's latest score with its three reasons. Only for roles
that may see assets (analytics.access); two queries (the tiers and policy are cached).
And the supervisor page's follow-ups of negative satisfaction comments
(bankcrm.registry.SUPERVISOR_SECTIONS)."""

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from analytics import access, reasons, value
from analytics.models import CustomerScore, CustomerValue

COMPONENTS = {
    "products": _("Kinds of product held"),
    "tenure": _("Tenure"),
    "salary": _("Salary credited here"),
    "autopay": _("Automatic payments"),
    "digital": _("Digital banking"),
}
FOLLOW_UPS_SHOWN = 50
MODEL_NAMES = {
    "churn": _("Churn risk (6 months)"),
    "potential": _("Potential to move up a tier (12 months)"),
    "propensity_wealth": _("Likely to buy a wealth product (3 months)"),
    "propensity_time_deposit": _("Likely to open a time deposit (3 months)"),
    "propensity_loan": _("Likely to take a loan (3 months)"),
    "propensity_card": _("Likely to take a card (3 months)"),
    "propensity_current": _("Likely to open a current account (3 months)"),
}


def latest_scores(customer) -> list[CustomerScore]:
    """The latest score of each model for the customer (one index scan per customer)."""
    return list(
        CustomerScore.objects.filter(customer=customer)
        .select_related("model_version")
        .only(
            "model_name",
            "score",
            "reasons",
            "scored_on",
            "model_version__version",
            "model_version__name",
        )
        .order_by("model_name", "-scored_on")
        .distinct("model_name")
    )


def customer_value(request, customer) -> dict | None:
    if not access.can_see_scores(request.user, customer):
        return None
    current = CustomerValue.objects.filter(customer=customer).first()
    scores = latest_scores(customer)
    policy = value.policy()
    levels = value.tiers()
    english = (get_language() or "").startswith("en")
    tier = next((t for t in levels if current and t.code == current.tier), None)
    churn = next((s for s in scores if s.model_name == "churn"), None)
    return {
        "template": "analytics/_customer_panel.html",
        "value": current,
        "tier_name": (tier.name_en if english else tier.name) if tier else "",
        "move_up": value.what_moves_up(current, levels, policy) if current else None,
        "english": english,
        "churn": churn,
        "churn_high": churn is not None and churn.score >= float(policy.high_churn),
        "scores": [
            (s, MODEL_NAMES.get(s.model_name, s.model_name), reasons.render(s.reasons))
            for s in scores
        ],
        "components": COMPONENTS,
    }


def supervisor_follow_ups(request) -> dict | None:
    """bankcrm.registry.SUPERVISOR_SECTIONS: the open follow-ups of negative satisfaction
    comments, oldest first, with the comment and its score (one query)."""
    if not access.can_follow_up(request.user):
        return None
    rows = (
        access.follow_ups_for_user(request.user)
        .open()
        .select_related("ticket", "ticket__survey", "customer")
        .only(
            "pk", "satisfaction", "score", "created_at", "ticket__number", "ticket__subject",
            "ticket__survey__comment", "customer__name", "customer__cif",
        )
        .order_by("created_at", "pk")[:FOLLOW_UPS_SHOWN]
    )  # fmt: skip
    return {"template": "analytics/_supervisor_follow_ups.html", "follow_ups": rows}
