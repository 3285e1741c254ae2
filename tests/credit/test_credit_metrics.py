"""Credit metrics against published values and hand arithmetic, plus properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskops.credit import metrics as m

# Hanley & McNeil (1982), "The meaning and use of the area under a receiver operating
# characteristic (ROC) curve", Radiology 143:29-36, Table 1: 109 CT images rated on a
# five-point scale (1 = definitely normal ... 5 = definitely abnormal). The paper
# reports the area (Wilcoxon statistic) W = 0.893.
HANLEY_MCNEIL_NORMAL = [33, 6, 6, 11, 2]
HANLEY_MCNEIL_ABNORMAL = [3, 2, 2, 11, 33]


def _hanley_mcneil() -> tuple[np.ndarray, np.ndarray]:
    ratings = np.arange(1, 6)
    score = np.concatenate(
        [np.repeat(ratings, HANLEY_MCNEIL_NORMAL), np.repeat(ratings, HANLEY_MCNEIL_ABNORMAL)]
    )
    y = np.concatenate([np.zeros(58, int), np.ones(51, int)])
    return y, score.astype(float)


def test_auc_matches_hanley_mcneil_published_value() -> None:
    # Given the published rating table
    y, score = _hanley_mcneil()
    # When the AUC is computed (ties count one half)
    value = m.auc(y, score)
    # Then it is the published 0.893, and exactly the Mann-Whitney count by hand:
    # pairs (abnormal > normal) = 2*33 + 2*39 + 11*45 + 33*56 = 2487,
    # ties = 3*33 + 2*6 + 2*6 + 11*11 + 33*2 = 310, so W = (2487 + 310/2) / (58*51).
    assert value == pytest.approx((2487 + 310 / 2) / (58 * 51), abs=1e-12)
    assert round(value, 3) == 0.893
    assert m.gini(y, score) == pytest.approx(2 * value - 1, abs=1e-12)


def test_ks_on_hanley_mcneil_table_by_hand() -> None:
    # Given the same table: cumulative shares up to rating 3 are 45/58 (normal) and
    # 7/51 (abnormal), the widest gap of the two empirical distributions
    y, score = _hanley_mcneil()
    # When / Then
    assert m.ks_statistic(y, score) == pytest.approx(45 / 58 - 7 / 51, abs=1e-12)


def test_ks_auc_gini_on_a_small_example_by_hand() -> None:
    # Given defaults scored 0.9, 0.8, 0.4 and non-defaults 0.7, 0.3, 0.2, 0.1
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    score = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1])
    # When / Then: at t = 0.3 three of four non-defaults and no default lie at or
    # below t, so KS = 3/4; 11 of 12 (default, non-default) pairs are ordered right
    # (0.4 < 0.7 is the one miss), so AUC = 11/12 and Gini = 2*11/12 - 1 = 5/6.
    assert m.ks_statistic(y, score) == pytest.approx(0.75)
    assert m.auc(y, score) == pytest.approx(11 / 12)
    assert m.gini(y, score) == pytest.approx(5 / 6)


def test_psi_of_shares_by_hand() -> None:
    # Given expected shares of 25% per quartile and actual shares 10/20/30/40%
    expected = [0.25, 0.25, 0.25, 0.25]
    actual = [0.10, 0.20, 0.30, 0.40]
    # When / Then: PSI = sum (a - e) ln(a / e), term by term
    by_hand = (
        (0.10 - 0.25) * math.log(0.10 / 0.25)  # 0.137444
        + (0.20 - 0.25) * math.log(0.20 / 0.25)  # 0.011157
        + (0.30 - 0.25) * math.log(0.30 / 0.25)  # 0.009116
        + (0.40 - 0.25) * math.log(0.40 / 0.25)  # 0.070501
    )
    assert by_hand == pytest.approx(0.228218, abs=1e-6)
    assert m.psi_from_shares(expected, actual) == pytest.approx(by_hand, abs=1e-12)


def test_psi_uses_expected_deciles_and_epsilon_for_empty_bins() -> None:
    # Given expected scores 0..99 (decile edges 9.9, 19.8, ..., 89.1, ten per bin) and
    # actual scores 10..109: the first decile is empty, the last holds 20 of 100
    expected = np.arange(100.0)
    actual = np.arange(100.0) + 10
    # When
    value = m.psi(expected, actual)
    # Then: the empty bin counts as share epsilon = 1e-4, the eight middle bins
    # contribute nothing, and PSI = (1e-4 - 0.1) ln(1e-4 / 0.1) + (0.2 - 0.1) ln 2
    eps = m.PSI_EPSILON
    by_hand = (eps - 0.1) * math.log(eps / 0.1) + (0.2 - 0.1) * math.log(2.0)
    assert by_hand == pytest.approx(0.759400, abs=1e-6)
    assert value == pytest.approx(by_hand, abs=1e-12)


def test_ece_brier_log_loss_by_hand() -> None:
    # Given five PDs in four equal-width bins:
    # [0, .1): pd .05, y 0 -> gap .05 (weight 1/5); [.1, .2): pds .15, .15, y 0, 1 -> gap
    # .35 (2/5); [.8, .9): .85, y 1 -> .15 (1/5); [.9, 1]: .95, y 1 -> .05 (1/5)
    y = np.array([0, 0, 1, 1, 1])
    pd_ = np.array([0.05, 0.15, 0.15, 0.85, 0.95])
    # When / Then: ECE = .2*.05 + .4*.35 + .2*.15 + .2*.05 = 0.19
    assert m.expected_calibration_error(y, pd_) == pytest.approx(0.19)
    # Brier: (.05^2 + .15^2 + .85^2 + .15^2 + .05^2) / 5
    assert m.brier(y, pd_) == pytest.approx((0.0025 + 0.0225 + 0.7225 + 0.0225 + 0.0025) / 5)
    # Log loss of two confident right answers: -(ln .9 + ln .9) / 2
    assert m.log_loss([0, 1], [0.1, 0.9]) == pytest.approx(-math.log(0.9))


def test_grade_table_orders_grades_by_number_and_flags_inversions() -> None:
    # Given ten applicants in three grades, labels deliberately out of order
    grades = np.array(["G10", "G2", "G1", "G1", "G2", "G2", "G10", "G10", "G1", "G2"])
    y = np.array([1, 0, 0, 0, 1, 0, 1, 0, 0, 0])
    pd_ = np.array([0.6, 0.2, 0.05, 0.02, 0.25, 0.15, 0.7, 0.5, 0.04, 0.18])
    # When
    table = m.grade_table(y, pd_, grades)
    # Then: G1 (0 of 3), G2 (1 of 4), G10 (2 of 3) in numeric order, rates rising
    assert table["grade"].tolist() == ["G1", "G2", "G10"]
    assert table["n"].tolist() == [3, 4, 3]
    assert table["defaults"].tolist() == [0, 1, 2]
    assert table["default_rate"].tolist() == pytest.approx([0.0, 0.25, 2 / 3])
    assert table["pd_max"].tolist() == pytest.approx([0.05, 0.25, 0.7])
    assert m.grades_monotone(table)
    # And a worse grade with fewer defaults is an inversion
    y_inverted = np.array([0, 0, 1, 1, 0, 0, 1, 0, 1, 0])
    assert not m.grades_monotone(m.grade_table(y_inverted, pd_, grades))


def test_calibration_curve_bins_hold_every_row() -> None:
    # Given 1,000 seeded PDs and outcomes drawn from them
    rng = np.random.default_rng(0)
    pd_ = rng.uniform(size=1000)
    y = (rng.uniform(size=1000) < pd_).astype(int)
    # When
    curve = m.calibration_curve(y, pd_, n_bins=10)
    # Then: ten quantile bins of 100 rows, observed rates close to mean PDs
    assert curve["n"].tolist() == [100] * 10
    assert curve["defaults"].sum() == y.sum()
    assert np.all(np.abs(curve["observed_rate"] - curve["mean_pd"]) < 0.15)


scores = arrays(float, st.integers(20, 200), elements=st.floats(0, 1, allow_nan=False, width=32))


@settings(max_examples=40, deadline=None)
@given(score=scores, seed=st.integers(0, 2**16))
def test_ks_equals_scipy_two_sample_ks_and_auc_equals_mann_whitney(
    score: np.ndarray, seed: int
) -> None:
    from scipy.stats import ks_2samp, mannwhitneyu

    # Given random outcomes with both classes present
    y = np.random.default_rng(seed).integers(0, 2, size=len(score))
    if y.min() == y.max():
        y[0] = 1 - y[0]
    # When / Then: KS is scipy's two-sample statistic, AUC is U / (n1 n0)
    expected_ks = ks_2samp(score[y == 1], score[y == 0]).statistic
    assert m.ks_statistic(y, score) == pytest.approx(expected_ks, abs=1e-12)
    u = mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert m.auc(y, score) == pytest.approx(u / (y.sum() * (len(y) - y.sum())), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    expected=arrays(float, st.integers(30, 300), elements=st.floats(-5, 5, width=32)),
    actual=arrays(float, st.integers(30, 300), elements=st.floats(-5, 5, width=32)),
)
def test_psi_is_nonnegative_zero_on_itself_and_a_jeffreys_divergence(
    expected: np.ndarray, actual: np.ndarray
) -> None:
    from scipy.stats import entropy

    # Given two samples / When / Then: PSI(x, x) = 0 and PSI >= 0
    assert m.psi(expected, expected) == pytest.approx(0.0, abs=1e-12)
    assert m.psi(expected, actual) >= 0.0
    # And on shares without empty bins, PSI = KL(a || e) + KL(e || a)
    rng = np.random.default_rng(len(expected))
    e, a = rng.dirichlet(np.ones(10)) + 1e-3, rng.dirichlet(np.ones(10)) + 1e-3
    e, a = e / e.sum(), a / a.sum()
    assert m.psi_from_shares(e, a) == pytest.approx(entropy(a, e) + entropy(e, a), rel=1e-9)


def test_only_significant_grade_reversals_count() -> None:
    # Given the bundled LightGBM's G2/G3 inversion (11/157 vs 6/115 defaults: Fisher one-sided
    # p ~ 0.3) and a gross inversion (50/100 vs 5/100: p < 1e-12)
    import pandas as pd

    from riskops.credit.metrics import significant_grade_reversals

    noise = pd.DataFrame({"n": [141, 157, 115], "defaults": [1, 11, 6]})
    gross = pd.DataFrame({"n": [100, 100, 100], "defaults": [2, 50, 5]})
    # Then only the gross one counts
    assert significant_grade_reversals(noise) == 0
    assert significant_grade_reversals(gross) == 1


probabilities = arrays(
    float, st.integers(30, 300), elements=st.floats(0.001, 0.999, allow_nan=False)
)


@settings(max_examples=40, deadline=None)
@given(pd_=probabilities, seed=st.integers(0, 2**16))
def test_brier_log_loss_and_the_calibration_curve_are_scikit_learns(
    pd_: np.ndarray, seed: int
) -> None:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, log_loss

    pd_ = pd_.astype(float)
    y = (np.random.default_rng(seed).uniform(size=len(pd_)) < pd_).astype(int)
    assert m.brier(y, pd_) == pytest.approx(np.mean((pd_ - y) ** 2), rel=1e-12, abs=1e-15)
    assert m.brier(y, pd_) == brier_score_loss(y, pd_, labels=[0, 1])
    assert m.log_loss(y, pd_) == pytest.approx(log_loss(y, pd_, labels=[0, 1]), rel=1e-12)
    # Equal-width bins, no PD on an inner edge: the same bins, the same two means
    on_edge = np.isclose(pd_ * 10, np.round(pd_ * 10))
    pd_, y = pd_[~on_edge], y[~on_edge]
    ours = m.calibration_curve(y, pd_, n_bins=10, strategy="uniform")
    observed, predicted = calibration_curve(y, pd_, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(ours["observed_rate"], observed, rtol=1e-12)
    np.testing.assert_allclose(ours["mean_pd"], predicted, rtol=1e-12)


def test_the_score_calibrator_predicts_what_scikit_learns_fitted_estimators_predict() -> None:
    # ScoreCalibrator fits scikit-learn's LogisticRegression (Platt) or IsotonicRegression and
    # predicts without their input validation (the one-applicant hot path): same numbers.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    from riskops.credit.calibration import ScoreCalibrator

    rng = np.random.default_rng(3)
    score = rng.normal(size=2000)
    y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-(0.8 * score - 1.0)))).astype(int)
    new = rng.normal(scale=1.5, size=500)
    floor = 0.0003
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(score[:, None], y)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, y)
    for method, expected in (
        ("sigmoid", platt.predict_proba(new[:, None])[:, 1]),
        ("isotonic", iso.predict(new)),
    ):
        ours = ScoreCalibrator(method, floor=floor).fit(score, y).transform(new)
        np.testing.assert_allclose(ours, np.clip(expected, floor, 1 - floor), rtol=1e-10)
