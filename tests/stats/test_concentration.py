"""The Herfindahl index in the ECB's form and its test: the instructions' formulas by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from riskops.errors import BadInputError
from riskops.stats.concentration import herfindahl, herfindahl_test


def test_ecb_formula_by_hand() -> None:
    # Given 100 obligors in three grades, 50 / 30 / 20
    index = herfindahl([50, 30, 20])
    # Then CV = sqrt(K sum (R_i - 1/K)^2) = sqrt(3 * 0.046667) = sqrt(0.14)
    assert index.cv == pytest.approx(math.sqrt(0.14), rel=1e-12)
    # And HI = 1 + ln((CV^2 + 1) / K) / ln K = 1 + ln(0.38) / ln 3 (ECB, 2019, pp. 26-27)
    assert index.hi_ecb == pytest.approx(1 + math.log(0.38) / math.log(3), rel=1e-12)
    assert index.hi_ecb == pytest.approx(0.119268, abs=1e-6)
    # While the plain Herfindahl-Hirschman index is the sum of squared shares
    assert index.sum_of_squares == pytest.approx(0.25 + 0.09 + 0.04, rel=1e-12)


def test_ecb_index_runs_from_uniform_to_one_grade() -> None:
    assert herfindahl([10, 10, 10, 10]).hi_ecb == pytest.approx(0.0, abs=1e-15)
    assert herfindahl([0, 0, 40, 0]).hi_ecb == pytest.approx(1.0, abs=1e-15)
    assert herfindahl([10, 10, 10, 10]).sum_of_squares == pytest.approx(0.25)


def test_ecb_test_statistic_by_hand() -> None:
    # Given an initial 25/25/25/25 distribution that concentrated to 55/15/15/15
    test = herfindahl_test([55, 15, 15, 15], [25, 25, 25, 25])
    # Then z = sqrt(K - 1) (CV_curr - CV_init) / sqrt(CV_curr^2 (1/2 + CV_curr^2))
    cv = math.sqrt(4 * ((0.55 - 0.25) ** 2 + 3 * (0.15 - 0.25) ** 2))
    z = math.sqrt(3) * (cv - 0.0) / math.sqrt(cv**2 * (0.5 + cv**2))
    assert test.statistic == pytest.approx(z, rel=1e-12)
    assert test.pvalue == pytest.approx(1 - stats.norm.cdf(z), rel=1e-12)
    assert test.current.cv == pytest.approx(cv, rel=1e-12)
    # And a current distribution flatter than the initial one is no evidence of concentration
    assert herfindahl_test([25, 25, 25, 25], [55, 15, 15, 15]).pvalue == 1.0


def test_grades_must_match_and_counts_must_be_valid() -> None:
    with pytest.raises(BadInputError, match="initial_counts"):
        herfindahl_test([1, 2, 3], [1, 2])
    with pytest.raises(BadInputError, match="counts"):
        herfindahl([3, -1])
    with pytest.raises(BadInputError, match="counts"):
        herfindahl([0, 0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=20))
def test_ecb_index_is_the_normalised_log_of_the_sum_of_squares(counts: list[int]) -> None:
    if sum(counts) == 0:
        counts[0] = 1
    index = herfindahl(counts)
    k = len(counts)
    assert index.hi_ecb == pytest.approx(
        1 + math.log(index.sum_of_squares) / math.log(k), abs=1e-12
    )
    assert -1e-12 <= index.hi_ecb <= 1 + 1e-12
    assert index.cv**2 == pytest.approx(k * index.sum_of_squares - 1, abs=1e-9)
    shares = np.asarray(counts) / sum(counts)
    assert index.sum_of_squares == pytest.approx(float(np.sum(shares**2)), rel=1e-12)


def test_ecb_statistic_ignores_sample_size_the_monte_carlo_pvalue_does_not() -> None:
    # Given equally filled initial grades (a quantile scale) and a current distribution
    # one obligor away from equal in 8,000
    initial = [1000] * 8
    current = [1001, 999, 1000, 1000, 1000, 1000, 1000, 1000]
    test = herfindahl_test(current, initial)
    # Then the ECB's z is sqrt(K - 1) / sqrt(1/2 + CV^2), about 3.74, "significant"
    cv = test.current.cv
    assert test.statistic == pytest.approx(math.sqrt(7) / math.sqrt(0.5 + cv**2), rel=1e-12)
    assert test.pvalue < 0.001
    # While the Monte Carlo p-value sees a deviation smaller than sampling noise
    assert test.pvalue_mc > 0.5


def test_monte_carlo_pvalue_detects_real_concentration_and_is_seeded() -> None:
    initial = [500] * 8
    concentrated = [300, 300, 500, 500, 500, 500, 700, 700]
    first = herfindahl_test(concentrated, initial, seed=7)
    assert first.pvalue_mc == 1 / 10_000  # no draw as concentrated in 9,999
    assert herfindahl_test(concentrated, initial, seed=7) == first
    with pytest.raises(BadInputError, match="simulations"):
        herfindahl_test(concentrated, initial, simulations=10)
