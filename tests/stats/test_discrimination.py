"""AUC, DeLong's variance (fast algorithm), Hanley-McNeil, the paired DeLong test and the
ECB's current-vs-initial AUC test: published values, an O(n^2) reference, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score

from riskops.errors import BadInputError
from riskops.stats import discrimination as disc

# Hanley & McNeil (1982), "The meaning and use of the area under a receiver operating
# characteristic (ROC) curve", Radiology 143:29-36, Table 1: 109 CT images rated 1-5
# (58 normal, 51 abnormal). The paper reports W = 0.893 and SE(W) = 0.032.
NORMAL = [33, 6, 6, 11, 2]
ABNORMAL = [3, 2, 2, 11, 33]


def _ct_images() -> tuple[np.ndarray, np.ndarray]:
    ratings = np.arange(1, 6)
    score = np.concatenate([np.repeat(ratings, NORMAL), np.repeat(ratings, ABNORMAL)])
    y = np.concatenate([np.zeros(58, int), np.ones(51, int)])
    return y, score.astype(float)


def _reference_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988) by definition, every pair compared (O(m n)):
    psi(x, z) = 1 if x > z, 1/2 if equal; V10 = row means, V01 = column means."""
    scores = np.atleast_2d(scores)
    x, z = scores[:, y == 1], scores[:, y == 0]
    psi = (x[:, :, None] > z[:, None, :]) + 0.5 * (x[:, :, None] == z[:, None, :])
    return psi.mean(axis=2), psi.mean(axis=1)


def _reference_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v10, v01 = _reference_components(y, scores)
    auc = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return auc, cov


def test_hanley_mcneil_published_area_and_standard_error() -> None:
    # Given the CT ratings of Hanley & McNeil's Table 1
    y, score = _ct_images()
    # When the AUC and Hanley-McNeil's standard error are computed
    estimate = disc.delong_auc(y, score)
    # Then they are the published W = 0.893 and SE = 0.032
    assert round(estimate.auc, 3) == 0.893
    assert round(estimate.se_hanley_mcneil, 3) == 0.032
    assert disc.hanley_mcneil_se(estimate.auc, 51, 58) == estimate.se_hanley_mcneil


def test_delong_variance_of_the_ct_ratings_equals_the_pairwise_definition() -> None:
    # Given heavily tied ratings (five values for 109 images)
    y, score = _ct_images()
    # When the fast algorithm runs
    estimate = disc.delong_auc(y, score)
    # Then AUC and variance are those of every pair compared, to round-off
    auc, cov = _reference_covariance(y, score)
    assert estimate.auc == pytest.approx(auc[0], abs=1e-14)
    assert estimate.variance == pytest.approx(cov[0, 0], rel=1e-12)
    assert estimate.auc == pytest.approx(roc_auc_score(y, score), abs=1e-14)


@st.composite
def labelled_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=4, max_value=60))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if y.sum() < 2 or (1 - y).sum() < 2:
        y[:2], y[2:4] = 1, 0
    # Few distinct values: ties within and across classes.
    levels = draw(st.integers(min_value=1, max_value=8))
    scores = np.array(
        draw(st.lists(st.integers(0, levels), min_size=2 * n, max_size=2 * n)), dtype=float
    ).reshape(2, n)
    return y, scores


@settings(max_examples=150, deadline=None)
@given(labelled_scores())
def test_fast_delong_equals_the_pairwise_definition(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = data
    auc, v10, v01 = disc.delong_components(y, scores)
    ref10, ref01 = _reference_components(y, scores)
    np.testing.assert_allclose(v10, ref10, atol=1e-12)
    np.testing.assert_allclose(v01, ref01, atol=1e-12)
    np.testing.assert_allclose(auc, ref10.mean(axis=1), atol=1e-12)


def test_paired_test_equals_the_reference_covariance() -> None:
    # Given two correlated scores of the same 300 applicants
    rng = np.random.default_rng(3)
    latent = rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-latent))).astype(int)
    a = latent + rng.normal(scale=1.0, size=300)
    b = np.round(latent + rng.normal(scale=1.5, size=300), 1)
    # When DeLong's paired test runs
    test = disc.delong_paired_test(y, a, b)
    # Then z is the AUC difference over the reference standard error of the difference
    auc, cov = _reference_covariance(y, np.vstack([a, b]))
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert test.difference == pytest.approx(auc[0] - auc[1], abs=1e-14)
    assert test.z == pytest.approx((auc[0] - auc[1]) / se, rel=1e-10)
    assert test.pvalue == pytest.approx(2 * stats.norm.sf(abs(test.z)), rel=1e-10)
    assert test.pvalue_a_lower == pytest.approx(stats.norm.cdf(test.z), rel=1e-10)


@settings(max_examples=100, deadline=None)
@given(labelled_scores())
def test_paired_delong_of_a_score_with_itself_finds_nothing(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    y, scores = data
    test = disc.delong_paired_test(y, scores[0], scores[0])
    assert test.difference == 0.0
    assert test.z == 0.0
    assert test.pvalue == 1.0
    # A strictly increasing transform ranks alike: the same AUC, no difference either.
    same_ranking = disc.delong_paired_test(y, scores[0], np.exp(scores[0]) * 3 - 1)
    assert same_ranking.difference == 0.0
    assert same_ranking.pvalue == 1.0


@settings(max_examples=100, deadline=None)
@given(labelled_scores())
def test_paired_test_is_antisymmetric(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = data
    ab = disc.delong_paired_test(y, scores[0], scores[1])
    ba = disc.delong_paired_test(y, scores[1], scores[0])
    assert ab.difference == pytest.approx(-ba.difference, abs=1e-14)
    assert ab.z == pytest.approx(-ba.z, abs=1e-9)
    assert ab.pvalue == pytest.approx(ba.pvalue, abs=1e-12)


def test_ecb_auc_test_is_the_instructions_statistic() -> None:
    # Given the CT ratings and an initial AUC of 0.95
    y, score = _ct_images()
    estimate = disc.delong_auc(y, score)
    # When the current AUC is tested against it
    test = disc.auc_vs_initial(y, score, 0.95)
    # Then S = (AUC_init - AUC_curr) / s and the p-value is 1 - Phi(S)
    s = (0.95 - estimate.auc) / estimate.se
    assert test.statistic == pytest.approx(s, rel=1e-12)
    assert test.pvalue == pytest.approx(1 - stats.norm.cdf(s), rel=1e-12)
    assert test.pvalue < 0.05  # 0.893 is significantly below 0.95 on 109 images
    # And Hanley-McNeil's standard error is used on request
    hm = disc.auc_vs_initial(y, score, 0.95, variance="hanley_mcneil")
    assert hm.se == estimate.se_hanley_mcneil
    # An initial AUC below the current one gives a large p-value (one-sided)
    assert disc.auc_vs_initial(y, score, 0.80).pvalue > 0.99


def test_auc_inputs_are_refused_with_the_field_named() -> None:
    with pytest.raises(BadInputError, match="2 positives"):
        disc.delong_auc([1, 0, 0, 0], [0.3, 0.2, 0.1, 0.4])
    with pytest.raises(BadInputError, match="0 or 1"):
        disc.delong_auc([2, 0, 1, 0], [0.3, 0.2, 0.1, 0.4])
    with pytest.raises(BadInputError, match="auc_initial"):
        disc.auc_vs_initial(*_ct_images(), 1.2)
    with pytest.raises(BadInputError, match="variance"):
        disc.auc_vs_initial(*_ct_images(), 0.9, variance="bootstrap")
