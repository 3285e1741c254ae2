"""Confidence intervals of a ratio of two proportions: Koopman's (1984) score interval
and Katz et al.'s (1978) log interval, against hand computations and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.stats.proportions import ratio_interval


def test_katz_log_interval_by_hand() -> None:
    # log(0.3 / 0.6) +- 1.959964 sqrt(1/30 - 1/100 + 1/60 - 1/100)
    result = ratio_interval(30, 100, 60, 100, method="katz")
    half = 1.959964 * math.sqrt(1 / 30 - 1 / 100 + 1 / 60 - 1 / 100)
    assert result.ratio == pytest.approx(0.5)
    assert result.low == pytest.approx(math.exp(math.log(0.5) - half), rel=1e-6)
    assert result.high == pytest.approx(math.exp(math.log(0.5) + half), rel=1e-6)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(60, 89, 1800, 2291), (10, 40, 30, 35), (3, 30, 25, 40)]
)
def test_score_and_katz_intervals_match_statsmodels(x1: int, n1: int, x2: int, n2: int) -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    score = ratio_interval(x1, n1, x2, n2)
    reference = confint_proportions_2indep(
        x1, n1, x2, n2, method="score", compare="ratio", correction=False
    )
    np.testing.assert_allclose([score.low, score.high], reference, rtol=1e-7)
    katz = ratio_interval(x1, n1, x2, n2, method="katz")
    reference = confint_proportions_2indep(x1, n1, x2, n2, method="log", compare="ratio")
    np.testing.assert_allclose([katz.low, katz.high], reference, rtol=1e-9)


def test_zero_counts_give_open_ends() -> None:
    none_approved = ratio_interval(0, 20, 5, 30)
    assert none_approved.low == 0.0 and none_approved.high > 0
    none_in_the_denominator = ratio_interval(5, 30, 0, 20)
    assert none_in_the_denominator.high == math.inf and none_in_the_denominator.low > 0


@settings(max_examples=60, deadline=None)
@given(
    n1=st.integers(5, 400),
    n2=st.integers(5, 400),
    a=st.floats(0.05, 0.95),
    b=st.floats(0.05, 0.95),
)
def test_interval_holds_the_ratio_and_widens_with_confidence(
    n1: int, n2: int, a: float, b: float
) -> None:
    x1, x2 = max(1, round(a * n1)), max(1, round(b * n2))
    narrow = ratio_interval(x1, n1, x2, n2, confidence=0.8)
    wide = ratio_interval(x1, n1, x2, n2, confidence=0.99)
    assert narrow.low <= narrow.ratio <= narrow.high
    assert wide.low <= narrow.low + 1e-9 and narrow.high <= wide.high + 1e-9
