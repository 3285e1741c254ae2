"""Jeffreys, exact binomial and normal-approximation calibration tests: published values,
scipy.stats, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from riskops.errors import BadInputError
from riskops.stats import binomial as b

# MathWorks, Risk Management Toolbox, ``risk.validation.jeffreysTest``, example "Jeffreys
# test on aggregated PD data" (R2026a): ten rating grades of PDRatingGradeData.csv,
# obligors, mean PD and defaults per grade. The published result at the 95% level rejects
# the PD of the first four grades and of none of the others.
MATHWORKS_N = [56, 79, 68, 54, 45, 40, 40, 34, 37, 47]
MATHWORKS_PD = [
    0.027845,
    0.07689,
    0.12764,
    0.17523,
    0.2268,
    0.27502,
    0.327,
    0.37635,
    0.41964,
    0.47274,
]
MATHWORKS_D = [6, 18, 16, 21, 11, 14, 10, 13, 19, 22]
MATHWORKS_REJECTED = [True] * 4 + [False] * 6


def test_jeffreys_matches_the_deep_credit_risk_worked_example() -> None:
    # Given Baesens, Rösch & Scheule, *Deep Credit Risk* (2021), "Jeffreys prior test"
    # (training.deepcreditrisk.com): 6 obligors, 2 defaults, a PD of 3.67%
    # When the Jeffreys p-value is computed
    pvalue = b.jeffreys_pvalue(2, 6, 0.0367)
    # Then it is the published 0.0044 (Beta(2.5, 4.5) at 0.0367)
    assert round(pvalue, 4) == 0.0044
    assert pvalue == pytest.approx(stats.beta.cdf(0.0367, 2.5, 4.5), rel=1e-12)


def test_jeffreys_rejects_the_grades_mathworks_publishes() -> None:
    # Given the MathWorks example's ten grades
    # When each grade's Jeffreys p-value is compared with 5%
    pvalues = b.jeffreys_pvalue(MATHWORKS_D, MATHWORKS_N, MATHWORKS_PD)
    # Then exactly the published first four grades are rejected
    assert list(pvalues < 0.05) == MATHWORKS_REJECTED


def test_jeffreys_equals_scipy_beta_cdf_on_worked_examples() -> None:
    # Given grades from 0 to all defaults, small and large
    d = np.array([0, 1, 5, 30, 120, 40])
    n = np.array([50, 200, 100, 1000, 1000, 40])
    p = np.array([0.01, 0.002, 0.03, 0.025, 0.1, 0.9])
    # When computed at once
    got = b.jeffreys_pvalue(d, n, p)
    # Then each is the Beta(d + 1/2, n - d + 1/2) distribution function at the PD
    want = stats.beta.cdf(p, d + 0.5, n - d + 0.5)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_exact_binomial_equals_scipy_binomtest_greater() -> None:
    # Given worked examples, including zero defaults
    cases = [(0, 50, 0.01), (3, 50, 0.01), (30, 1000, 0.025), (120, 1000, 0.1), (7, 40, 0.05)]
    for d, n, p in cases:
        # When the exact one-sided p-value is computed
        got = b.binomial_pvalue(d, n, p)
        # Then it is scipy's one-sided binomial test of "too many defaults"
        want = stats.binomtest(d, n, p, alternative="greater").pvalue
        assert got == pytest.approx(want, rel=1e-10), (d, n, p)


def test_zero_defaults_never_reject() -> None:
    assert b.binomial_pvalue(0, 10_000, 0.05) == 1.0
    assert b.binomial_normal_pvalue(0, 10_000, 0.05) > 0.5
    assert b.jeffreys_pvalue(0, 10_000, 0.05) > 0.5


def test_normal_approximation_is_wp14_formula_by_hand() -> None:
    # Given 30 defaults in 1,000 obligors at a PD of 2.5%
    d, n, p = 30, 1000, 0.025
    # When the normal approximation is computed
    got = b.binomial_normal_pvalue(d, n, p)
    # Then it is 1 - Phi((30 - 25) / sqrt(1000 * 0.025 * 0.975)) = 1 - Phi(1.0127)
    z = (30 - 25) / math.sqrt(1000 * 0.025 * 0.975)
    assert got == pytest.approx(1.0 - stats.norm.cdf(z), rel=1e-12)
    assert got == pytest.approx(0.15560, abs=1e-5)


def test_critical_defaults_exact_is_the_smallest_rejecting_count() -> None:
    for n, p in [(100, 0.01), (1000, 0.025), (250, 0.2), (37, 0.42)]:
        # When the exact k* at 95% is computed
        k = int(b.binomial_critical_defaults(n, p, 0.95))
        # Then P(D >= k*) <= 5% < P(D >= k* - 1)
        assert stats.binom.sf(k - 1, n, p) <= 0.05 < stats.binom.sf(k - 2, n, p)
        # And rejecting at k* is rejecting on the p-value
        assert b.binomial_pvalue(k, n, p) <= 0.05 < b.binomial_pvalue(k - 1, n, p)


def test_critical_defaults_normal_is_wp14_formula() -> None:
    # k* = n PD + Phi^-1(q) sqrt(n PD (1 - PD)) (BCBS WP14, 2005)
    got = b.binomial_critical_defaults(1000, 0.025, 0.99, method="normal")
    assert got == pytest.approx(25 + stats.norm.ppf(0.99) * math.sqrt(24.375), rel=1e-12)


def test_traffic_lights_thresholds_and_missing() -> None:
    lights = b.traffic_light([0.5, 0.05, 0.049, 0.001, 0.0009, float("nan")])
    assert list(lights) == ["green", "green", "yellow", "yellow", "red", "not_evaluated"]
    assert b.traffic_light(0.2, yellow_below=0.3, red_below=0.1) == "yellow"
    with pytest.raises(BadInputError, match="red_below"):
        b.traffic_light(0.2, yellow_below=0.01, red_below=0.05)


def test_calibration_tests_rows_and_empty_grade() -> None:
    # Given two grades, one empty
    tests = b.calibration_tests(["G1", "G2"], [100, 0], [6, 0], [0.02, 0.05])
    # Then the empty grade is not evaluated and the other is tested
    assert tests.jeffreys_light == ("yellow", "not_evaluated")
    assert math.isnan(tests.jeffreys_pvalue[1])
    assert tests.jeffreys_pvalue[0] == pytest.approx(stats.beta.cdf(0.02, 6.5, 94.5))
    assert tests.rows()[0]["label"] == "G1"
    assert tests.to_dict()["jeffreys_pvalue"][1] is None


def test_bad_counts_are_refused_naming_the_field() -> None:
    with pytest.raises(BadInputError, match="defaults"):
        b.jeffreys_pvalue(5, 3, 0.1)
    with pytest.raises(BadInputError, match="pd"):
        b.binomial_pvalue(1, 3, 1.5)


counts = st.integers(min_value=1, max_value=3000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
)
pds = st.floats(min_value=1e-4, max_value=0.9999)


@settings(max_examples=200, deadline=None)
@given(counts, pds)
def test_more_defaults_never_raise_the_pvalues(nd: tuple[int, int], p: float) -> None:
    # One more default is more evidence that the PD is too low: every p-value falls.
    n, d = nd
    assert b.jeffreys_pvalue(d + 1, n, p) <= b.jeffreys_pvalue(d, n, p)
    assert b.binomial_pvalue(d + 1, n, p) <= b.binomial_pvalue(d, n, p)
    assert b.binomial_normal_pvalue(d + 1, n, p) <= b.binomial_normal_pvalue(d, n, p)


@settings(max_examples=200, deadline=None)
@given(counts, pds, pds)
def test_a_higher_pd_never_lowers_the_pvalues(nd: tuple[int, int], p1: float, p2: float) -> None:
    n, d = nd
    low, high = sorted((p1, p2))
    assert b.jeffreys_pvalue(d, n, high) >= b.jeffreys_pvalue(d, n, low)
    assert b.binomial_pvalue(d, n, high) >= b.binomial_pvalue(d, n, low) - 1e-15
    assert 0.0 <= b.jeffreys_pvalue(d, n, low) <= 1.0
