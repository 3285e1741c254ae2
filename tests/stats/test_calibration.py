"""Calibration statistics: hand computations of Spiegelhalter's (1986) z, the
Hosmer-Lemeshow statistic (Hosmer, Lemeshow and Sturdivant, 2013, eq. 5.7) and the
equal-frequency ECE; the Monte Carlo test's size (Dufour, 2006) and power."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from riskops.stats.calibration import (
    bin_labels,
    ece_test,
    expected_calibration_error,
    hosmer_lemeshow,
    spiegelhalter_z,
)


def test_spiegelhalter_z_by_hand() -> None:
    # sum (y - p)(1 - 2p) = -0.12 - 0.12 - 0.08 - 0.08 = -0.40
    # sum (1 - 2p)^2 p (1 - p) = 0.0576 + 0.0336 + 0.0096 + 0.0576 = 0.1584
    result = spiegelhalter_z([1, 0, 1, 0], [0.8, 0.3, 0.6, 0.1])
    assert result.z == pytest.approx(-0.40 / np.sqrt(0.1584))
    assert result.z == pytest.approx(-1.005038, rel=1e-6)
    assert result.pvalue == pytest.approx(2 * stats.norm.sf(1.005038), rel=1e-6)


def test_hosmer_lemeshow_by_hand() -> None:
    # Two groups of four: observed 2 and 4 events, expected 1.0 and 3.0;
    # (2 - 1)^2 / (1 (1 - 1/4)) + (4 - 3)^2 / (3 (1 - 3/4)) = 4/3 + 4/3 = 8/3
    p = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    y = [0, 1, 1, 0, 1, 1, 1, 1]
    validation = hosmer_lemeshow(y, p, groups=2, validation=True)
    assert validation.statistic == pytest.approx(8 / 3)
    assert validation.df == 2 and validation.pvalue == pytest.approx(np.exp(-4 / 3))
    development = hosmer_lemeshow(y, p, groups=2, validation=False)
    assert development.df == 1  # g - 2, at least one


def test_equal_frequency_ece_by_hand() -> None:
    # Two bins of three: mean PDs 0.2 and 0.7, default rates 1/3 and 2/3
    p = [0.1, 0.2, 0.3, 0.6, 0.7, 0.8]
    y = [0, 0, 1, 1, 0, 1]
    assert list(bin_labels(p, 2)) == [0, 0, 0, 1, 1, 1]
    expected = 0.5 * abs(1 / 3 - 0.2) + 0.5 * abs(2 / 3 - 0.7)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected)


def test_tied_probabilities_share_a_bin() -> None:
    labels = bin_labels([0.1] * 6 + [0.5] * 4, n_bins=5)
    assert len(set(labels[:6])) == 1 and len(set(labels[6:])) == 1


def test_an_impossible_outcome_has_the_smallest_p_value() -> None:
    # Every PD 0.05 and every applicant defaulted: no redraw comes close
    result = ece_test(np.ones(40), np.full(40, 0.05), simulations=99, seed=0)
    assert result.ece == pytest.approx(0.95)
    assert result.pvalue == pytest.approx(1 / 100)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(30, 300))
def test_p_value_is_a_monte_carlo_p_value_and_the_interval_holds_the_ece(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, n)
    y = (rng.random(n) < p).astype(float)
    result = ece_test(y, p, simulations=99, seed=seed)
    assert 1 / 100 <= result.pvalue <= 1.0
    assert result.pvalue * 100 == pytest.approx(round(result.pvalue * 100))
    assert result.interval[0] <= result.interval[1]
    assert 0.0 <= result.null_mean <= 1.0


def test_size_at_most_its_level_and_power_against_understated_pds() -> None:
    # 300 held-out sets of 259 rows (German credit's size): correct PDs are refused at
    # 5% in at most 5% of them (+ 3 binomial s.e.); PDs understated by half nearly always
    rng = np.random.default_rng(0)
    refused, caught = [], []
    for i in range(300):
        p = 1 / (1 + np.exp(-(-1.3 + 1.4 * rng.normal(size=259))))
        y = (rng.random(259) < p).astype(float)
        refused.append(ece_test(y, p, simulations=99, seed=i).pvalue < 0.05)
        if i < 60:
            caught.append(ece_test(y, p / 2, simulations=99, seed=i).pvalue < 0.05)
    assert np.mean(refused) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300)
    assert np.mean(caught) >= 0.9
