"""A/B statistics without SciPy (not a dependency): Pearson's chi-squared test on a 2×k
table of converted / not converted per group, its p-value from the chi-squared survival
function in closed form (integer degrees of freedom), the uplift over the control group,
and the minimum sample per group a difference of the observed size needs (two-sided
α = 0.05, power 0.8, normal approximation).

Survival function of chi-squared with k degrees of freedom at x:
  k even: Q = e^(-x/2) · Σ_{i=0}^{k/2-1} (x/2)^i / i!
  k odd:  Q = erfc(√(x/2)) + √(2x/π) · e^(-x/2) · Σ_{i=1}^{(k-1)/2} x^(i-1) / (1·3·…·(2i-1))
"""

import math
from dataclasses import dataclass

Z_ALPHA = 1.959963984540054  # two-sided 5%
Z_POWER = 0.8416212335729143  # 80% power


def chi2_sf(x: float, df: int) -> float:
    if x <= 0:
        return 1.0
    if df % 2 == 0:
        term = total = 1.0
        for i in range(1, df // 2):
            term *= (x / 2) / i
            total += term
        return min(1.0, math.exp(-x / 2) * total)
    total, term = 0.0, 1.0
    for i in range(1, (df - 1) // 2 + 1):
        term = 1.0 if i == 1 else term * x / (2 * i - 1)
        total += term
    return min(
        1.0, math.erfc(math.sqrt(x / 2)) + math.sqrt(2 * x / math.pi) * math.exp(-x / 2) * total
    )


@dataclass(frozen=True)
class ChiSquared:
    statistic: float
    df: int
    p_value: float


def chi_squared(groups: list[tuple[int, int]]) -> ChiSquared | None:
    """Groups as (converted, size); None when the test says nothing (fewer than two groups
    with members, or nobody or everybody converted)."""
    groups = [(c, n) for c, n in groups if n > 0]
    total = sum(n for _c, n in groups)
    converted = sum(c for c, _n in groups)
    if len(groups) < 2 or converted in (0, total):
        return None
    rate = converted / total
    statistic = 0.0
    for c, n in groups:
        for observed, expected in ((c, n * rate), (n - c, n * (1 - rate))):
            statistic += (observed - expected) ** 2 / expected
    df = len(groups) - 1
    return ChiSquared(statistic=statistic, df=df, p_value=chi2_sf(statistic, df))


def minimum_sample(p1: float, p2: float) -> int | None:
    """Per group, to tell conversion rates p1 and p2 apart; None when they are equal."""
    if p1 == p2 or not (0 <= p1 <= 1 and 0 <= p2 <= 1):
        return None
    mean = (p1 + p2) / 2
    a = Z_ALPHA * math.sqrt(2 * mean * (1 - mean))
    b = Z_POWER * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil((a + b) ** 2 / (p1 - p2) ** 2)


def uplift(rate: float, control_rate: float) -> float | None:
    """Relative uplift over control (0.25 = 25% more conversions); None without control."""
    if not control_rate:
        return None
    return rate / control_rate - 1
