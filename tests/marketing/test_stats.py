"""The A/B statistics against hand-computed examples."""

import math

import pytest

from marketing.stats import chi2_sf, chi_squared, minimum_sample, uplift


def test_chi_squared_two_by_two_by_hand():
    """A: 30 of 200 converted, B: 50 of 200. Pooled rate 80/400 = 0.2; expected 40
    converted and 160 not in each. χ² = 2·(10²/40) + 2·(10²/160) = 5 + 1.25 = 6.25, one
    degree of freedom: p = erfc(√3.125) = 0.012419..."""
    result = chi_squared([(30, 200), (50, 200)])
    assert result.statistic == pytest.approx(6.25)
    assert result.df == 1
    assert result.p_value == pytest.approx(0.0124193, abs=1e-6)


def test_chi_squared_two_by_three_by_hand():
    """10/100, 20/100, 30/100: pooled 0.2, expected 20 and 80 each. χ² = (100+0+100)/20
    + (100+0+100)/80 = 10 + 2.5 = 12.5 on 2 df: p = e^(-6.25) = 0.0019305."""
    result = chi_squared([(10, 100), (20, 100), (30, 100)])
    assert result.statistic == pytest.approx(12.5)
    assert result.p_value == pytest.approx(math.exp(-6.25))


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (9.487729036781154, 4, 0.05),
        (11.070497693516351, 5, 0.05),
        (0.0, 3, 1.0),
    ],
)
def test_survival_function_at_known_critical_values(x, df, p):
    assert chi2_sf(x, df) == pytest.approx(p, abs=1e-9)


def test_no_test_without_variation():
    assert chi_squared([(0, 100), (0, 100)]) is None
    assert chi_squared([(5, 100)]) is None
    assert chi_squared([(5, 100), (0, 0)]) is None


def test_minimum_sample_by_hand():
    """10% vs 15%: mean 0.125; (1.95996·√(2·0.125·0.875) + 0.84162·√(0.09+0.1275))² / 0.05²
    = (0.916688 + 0.392506)² / 0.0025 = 685.6 → 686 per group."""
    assert minimum_sample(0.10, 0.15) == 686
    assert minimum_sample(0.1, 0.1) is None


def test_uplift():
    assert uplift(0.15, 0.10) == pytest.approx(0.5)
    assert uplift(0.15, 0) is None
