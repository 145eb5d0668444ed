"""Value tier and customer lifetime value (CLV): the formulas.

Value score (CNY) = AUM × stickiness multiplier × risk factor, where
- AUM is the average daily balance over the last 90 days across deposits (current, time),
  wealth products, funds and insurance, in CNY (analytics.features: aum_adb90);
- stickiness s in [0, 1] is the weighted sum (ValuePolicy weights, normalised to 1) of:
  kinds of product held (4 or more = 1), tenure (10 years or more = 1), a salary credit in
  the last 90 days, an automatic payment in the last 90 days, and the share of
  transactions in the app or online (half or more = 1);
- the multiplier is 1 + w × (s − 0.5) with w the stickiness weight (0.4: ±20%);
- the risk factor is 1, or the policy's factor for a loan 30+ or 90+ days overdue.
The tier is the highest TierThreshold whose `min_value` the score reaches (private banking
from 6M, wealth from 500k, affluent from 50k, mass: admin-editable). What moves a customer
up: the AUM that reaches the next threshold at today's multiplier, and the stickiness
components not yet earned.

CLV (CNY) = m × Σ_{t=1..H} (r / (1 + d))^t, where m is the yearly margin of the products
held (Σ balance × ProductMargin.margin_percent + fee_per_year per account), r = (1 − p)²
the yearly retention from the 6-month churn probability p (the active churn model's score,
or the policy's default), d the discount rate and H the horizon in years.
"""

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from analytics.models import ProductMargin, TierThreshold, ValuePolicy
from bankcrm.cache import TTLCache

# Read by every 360 page and home page: kept a minute per process, forgotten at once in the
# process that saves a change (analytics/apps.py connects the signals).
SETTINGS_CACHE = TTLCache(60)

DEFAULT_TIERS = [
    # code, name, English name, from value score, tier on the customer record
    ("private", "私人银行", "Private banking", Decimal(6_000_000), "private"),
    ("wealth", "财富客户", "Wealth", Decimal(500_000), "wealth"),
    ("affluent", "富裕客户", "Affluent", Decimal(50_000), "affluent"),
    ("mass", "大众客户", "Mass", Decimal(0), "mass"),
]
DEFAULT_MARGINS = {
    # kind: (yearly margin % of balance, yearly fee per account)
    "current": (Decimal("1.500"), Decimal(0)),
    "time_deposit": (Decimal("0.600"), Decimal(0)),
    "wealth": (Decimal("0.800"), Decimal(0)),
    "loan": (Decimal("2.000"), Decimal(0)),
    "card": (Decimal(0), Decimal(300)),
}


@dataclass(frozen=True)
class Tier:
    code: str
    name: str
    name_en: str
    min_value: float
    customer_tier: str


def tiers() -> list[Tier]:
    """The tiers, lowest first (the defaults while the table is empty)."""
    return SETTINGS_CACHE.get("tiers", load_tiers)


def policy() -> ValuePolicy:
    return SETTINGS_CACHE.get("policy", ValuePolicy.current)


def load_tiers() -> list[Tier]:
    rows = [
        Tier(t.code, t.name, t.name_en, float(t.min_value), t.customer_tier)
        for t in TierThreshold.objects.order_by("min_value")
    ]
    if not rows:
        rows = [Tier(c, n, e, float(v), ct) for c, n, e, v, ct in reversed(DEFAULT_TIERS)]
    return rows


def tier_ranks(values: np.ndarray, levels: list[Tier] | None = None) -> np.ndarray:
    """The index (0 = lowest) of the tier each value reaches."""
    levels = levels or tiers()
    bounds = np.array([t.min_value for t in levels])
    return np.maximum(np.searchsorted(bounds, values, side="right") - 1, 0)


def margins() -> dict[str, tuple[float, float]]:
    rows = {m.kind: (float(m.margin_percent), float(m.fee_per_year))
            for m in ProductMargin.objects.all()}  # fmt: skip
    return rows or {k: (float(p), float(f)) for k, (p, f) in DEFAULT_MARGINS.items()}


@dataclass
class Values:
    """Per customer (aligned with the feature frame's ids)."""

    aum: np.ndarray
    stickiness: np.ndarray
    components: dict[str, np.ndarray]  # each in [0, 1]
    multiplier: np.ndarray
    risk_factor: np.ndarray
    score: np.ndarray
    rank: np.ndarray


def stickiness_weights(policy: ValuePolicy) -> dict[str, float]:
    raw = {
        "products": float(policy.weight_products), "tenure": float(policy.weight_tenure),
        "salary": float(policy.weight_salary), "autopay": float(policy.weight_autopay),
        "digital": float(policy.weight_digital),
    }  # fmt: skip
    total = sum(raw.values()) or 1.0
    return {k: v / total for k, v in raw.items()}


def compute_values(frame, overdue_days: np.ndarray, policy: ValuePolicy, levels: list[Tier]):
    """The value score and tier of every row of `frame` (analytics.features.FeatureFrame);
    `overdue_days` is the most overdue loan of each customer today (0 if none)."""
    col = frame.column
    components = {
        "products": np.clip(col("product_kinds") / 4, 0, 1),
        "tenure": np.clip(np.nan_to_num(col("tenure_days")) / 3650, 0, 1),
        "salary": (col("salary_90") > 0).astype(float),
        "autopay": (col("autopay_90") > 0).astype(float),
        "digital": np.clip(np.nan_to_num(col("digital_share")) * 2, 0, 1),
    }
    weights = stickiness_weights(policy)
    stickiness = sum(weights[k] * v for k, v in components.items())
    multiplier = 1 + float(policy.stickiness_weight) * (stickiness - 0.5)
    risk = np.where(
        overdue_days >= 90,
        float(policy.overdue_90_factor),
        np.where(overdue_days >= 30, float(policy.overdue_30_factor), 1.0),
    )
    aum = np.maximum(np.nan_to_num(col("aum_adb90")), 0)
    score = aum * multiplier * risk
    return Values(aum, stickiness, components, multiplier, risk, score, tier_ranks(score, levels))


def clv(margin_per_year: np.ndarray, churn_6m: np.ndarray, policy: ValuePolicy) -> np.ndarray:
    """Discounted lifetime value (module docstring)."""
    retention = (1 - np.clip(churn_6m, 0, 1)) ** 2
    q = retention / (1 + float(policy.discount_rate))
    years = policy.horizon_years
    # Σ_{t=1..H} q^t, with q = 1 handled (no discounting and no churn cannot happen, but
    # keep the formula total).
    factor = np.where(np.isclose(q, 1), years, q * (1 - q**years) / np.where(q == 1, 1, 1 - q))
    return margin_per_year * factor


def what_moves_up(value, levels: list[Tier], policy: ValuePolicy) -> dict | None:
    """For the 360 page: the next tier, the AUM that reaches it at today's multiplier, and
    the stickiness components not earned (each with how much it would add to the score)."""
    rank = next((i for i, t in enumerate(levels) if t.code == value.tier), 0)
    if rank + 1 >= len(levels):
        return None
    nxt = levels[rank + 1]
    factor = (float(value.value_score) / float(value.aum)) if value.aum else 1.0
    factor = factor or 1.0
    needed = max(nxt.min_value / factor - float(value.aum), 0)
    weights, w = stickiness_weights(policy), float(policy.stickiness_weight)
    missing = [
        {"component": k, "gain": weights[k] * w * (1 - value.components.get(k, 0))}
        for k in ("salary", "products", "autopay", "digital")
        if value.components.get(k, 0) < 1
    ]
    return {"tier": nxt, "aum_needed": needed, "missing": missing}
