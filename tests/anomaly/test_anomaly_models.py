"""Detectors: planted outliers come first, shares sum as documented, contract, calibration."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError

from riskops.anomaly.models import (
    AnomalyScores,
    AutoencoderDetector,
    EmpiricalTail,
    EnsembleDetector,
    IsolationForestDetector,
    LOFDetector,
    score_frame,
)

FEATURES = ["a", "b", "c", "d", "e"]
# Each planted row is extreme in two features. A row extreme in one feature only and
# central in the others is a known blind spot of isolation forests (most random splits
# fall on features where it is ordinary), so it is used to test explanations instead.
PLANTED = {
    "planted_a": {"a": 9.0, "b": -4.5},
    "planted_c": {"c": -9.0, "d": 4.5},
    "planted_e": {"e": 9.0, "a": -4.5},
}
PROBES = {"probe_a": ("a", 9.0), "probe_c": ("c", -9.0), "probe_e": ("e", 9.0)}


def _detectors() -> dict[str, object]:
    # Small but sufficient: the toy data has 400 rows and five features.
    return {
        "isolation_forest": IsolationForestDetector(n_estimators=100, random_state=0),
        "lof": LOFDetector(n_neighbors=20),
        "autoencoder": AutoencoderDetector(hidden_units=8, bottleneck=2, random_state=0),
        "ensemble": EnsembleDetector(
            isolation_forest=IsolationForestDetector(n_estimators=100),
            lof=LOFDetector(n_neighbors=20),
            autoencoder=AutoencoderDetector(hidden_units=8, bottleneck=2),
            random_state=0,
        ),
    }


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    """400 ordinary rows from two latent factors, then the three planted rows."""
    rng = np.random.default_rng(7)
    latent = rng.normal(size=(400, 2))
    loadings = np.array([[1.0, 0.2], [0.8, -0.3], [0.1, 1.0], [-0.5, 0.7], [0.6, 0.6]])
    ordinary = latent @ loadings.T + 0.3 * rng.normal(size=(400, 5))
    frame = pd.DataFrame(ordinary, columns=FEATURES, index=[f"day{i}" for i in range(400)])
    planted = pd.DataFrame(PLANTED).T.reindex(columns=FEATURES).fillna(0.0)
    return pd.concat([frame, planted])


@pytest.fixture(scope="module")
def probes() -> pd.DataFrame:
    """New rows, each extreme in exactly one feature."""
    rows = {name: {feature: value} for name, (feature, value) in PROBES.items()}
    return pd.DataFrame(rows).T.reindex(columns=FEATURES).fillna(0.0)


@pytest.fixture(scope="module")
def fitted(toy: pd.DataFrame) -> dict[str, object]:
    return {name: detector.fit(toy) for name, detector in _detectors().items()}


@pytest.mark.parametrize("name", list(_detectors()))
def test_planted_outliers_rank_first(name: str, toy: pd.DataFrame, fitted: dict) -> None:
    # Given a detector fitted on the toy data (outliers included, as in real history)
    detector = fitted[name]
    # When every row is scored (higher = more anomalous)
    scores = pd.Series(detector.score_samples(toy), index=toy.index)
    # Then the three planted rows are the three highest
    assert set(scores.nlargest(3).index) == set(PLANTED)


@pytest.mark.parametrize("name", list(_detectors()))
def test_extreme_feature_is_the_main_driver(name: str, probes: pd.DataFrame, fitted: dict) -> None:
    # Given new rows extreme in exactly one feature
    # When they are explained
    explanation = fitted[name].explain(probes, top_k=3)
    # Then the extreme feature is the first driver of each, with the largest share
    main = explanation[explanation["rank"] == 1]
    assert list(main["feature"]) == [feature for feature, _ in PROBES.values()]
    assert (main["share"] > 0.3).all()
    assert (explanation.groupby(level=0)["share"].sum() <= 1 + 1e-9).all()


@pytest.mark.parametrize("name", list(_detectors()))
def test_shares_are_non_negative_and_sum_to_one(name: str, toy: pd.DataFrame, fitted: dict) -> None:
    shares = fitted[name].feature_shares(toy)
    assert list(shares.columns) == FEATURES
    assert (shares.to_numpy() >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)


def test_autoencoder_shares_are_squared_error_over_score(toy: pd.DataFrame, fitted: dict) -> None:
    # Given the autoencoder, whose score is the summed squared reconstruction error
    detector = fitted["autoencoder"]
    standard = detector.scaler_.transform(toy.to_numpy())
    error = (standard - detector.network_.predict(standard)) ** 2
    # Then each share is that feature's squared error over the score
    expected = error / detector.score_samples(toy)[:, None]
    np.testing.assert_allclose(detector.feature_shares(toy).to_numpy(), expected, rtol=1e-9)


def test_isolation_forest_shap_is_additive_in_path_length(toy: pd.DataFrame, fitted: dict) -> None:
    # Liu, Ting and Zhou (2008): s(x) = 2 ** (-E[h(x)] / c(psi)), with
    # c(psi) = 2 H(psi - 1) - 2 (psi - 1) / psi and H(i) = ln(i) + 0.5772156649.
    detector = fitted["isolation_forest"]
    psi = detector.forest_.max_samples_
    c = 2 * (np.log(psi - 1) + 0.5772156649) - 2 * (psi - 1) / psi
    contributions, base = detector.shap_values(toy)
    minus_path = contributions.sum(axis=1) + base
    np.testing.assert_allclose(detector.score_samples(toy), 2 ** (minus_path / c), rtol=1e-3)


def test_higher_score_means_more_anomalous_unlike_sklearn(toy: pd.DataFrame) -> None:
    ours = IsolationForestDetector(n_estimators=50, random_state=3).fit(toy)
    sklearn_forest = IsolationForest(n_estimators=50, random_state=3).fit(toy.to_numpy())
    np.testing.assert_allclose(
        ours.score_samples(toy), -sklearn_forest.score_samples(toy.to_numpy())
    )


@pytest.mark.parametrize("name", list(_detectors()))
def test_threshold_gives_the_target_alert_rate_on_training_data(
    name: str, toy: pd.DataFrame
) -> None:
    # Given a detector calibrated to a 5% alert rate
    detector = clone(_detectors()[name]).set_params(alert_rate=0.05).fit(toy)
    # When the training rows are flagged
    flags = detector.predict(toy)
    # Then 5% of them are alerts, up to one row of rounding
    assert set(np.unique(flags)) <= {0, 1}
    assert abs(flags.mean() - 0.05) <= 1 / len(toy)


@settings(max_examples=15, deadline=None)
@given(alert_rate=st.floats(0.005, 0.3), seed=st.integers(0, 1000))
def test_calibration_holds_for_any_alert_rate(alert_rate: float, seed: int) -> None:
    X = np.random.default_rng(seed).standard_t(df=4, size=(300, 3))
    detector = IsolationForestDetector(n_estimators=20, alert_rate=alert_rate, random_state=seed)
    flags = detector.fit(X).predict(X)
    assert abs(flags.mean() - alert_rate) <= 1 / len(X)


def _plain_params(estimator: object) -> dict:
    """Hyperparameters without the nested estimator objects (compared by identity)."""
    return {
        k: v for k, v in estimator.get_params(deep=True).items() if not hasattr(v, "get_params")
    }


@pytest.mark.parametrize("name", list(_detectors()))
def test_clone_and_pickle_round_trip(name: str, toy: pd.DataFrame, fitted: dict) -> None:
    # Given a fitted detector
    detector = fitted[name]
    # When it is cloned, and when it is pickled and unpickled
    unfitted = clone(detector)
    restored = pickle.loads(cloudpickle.dumps(detector))
    # Then the clone is the unfitted specification and the copy scores identically
    assert _plain_params(unfitted) == _plain_params(detector)
    with pytest.raises(NotFittedError):
        unfitted.score_samples(toy)
    np.testing.assert_array_equal(restored.score_samples(toy), detector.score_samples(toy))
    assert restored.decision_threshold_ == detector.decision_threshold_


def test_ensemble_scores_a_single_row_like_the_batch(toy: pd.DataFrame, fitted: dict) -> None:
    ensemble = fitted["ensemble"]
    batch = ensemble.score_samples(toy)
    single = [ensemble.score_samples(toy.iloc[[i]])[0] for i in (0, 17, 400)]
    np.testing.assert_allclose(single, batch[[0, 17, 400]])


def test_ensemble_is_the_mean_of_member_percentiles(toy: pd.DataFrame, fitted: dict) -> None:
    ensemble = fitted["ensemble"]
    members = ensemble.member_percentiles(toy)
    np.testing.assert_allclose(ensemble.score_samples(toy), members.mean(axis=1))
    assert members.loc[list(PLANTED)].min().min() > 0.99


def test_score_frame_follows_the_output_schema(toy: pd.DataFrame, fitted: dict) -> None:
    frame = score_frame(fitted["ensemble"], toy)
    AnomalyScores.validate(frame)
    assert list(frame.index) == list(toy.index)
    assert frame.loc[list(PLANTED), "alert"].eq(1).all()


def test_columns_must_match_the_training_features(toy: pd.DataFrame, fitted: dict) -> None:
    with pytest.raises(ValueError, match="feature names"):
        fitted["lof"].score_samples(toy.rename(columns={"a": "z"}))


@settings(max_examples=30, deadline=None)
@given(
    reference=st.lists(st.floats(-1e3, 1e3), min_size=5, max_size=60),
    probes=st.lists(st.floats(-2e3, 2e3), min_size=2, max_size=20),
)
def test_empirical_tail_is_monotone_and_inside_zero_one(reference: list, probes: list) -> None:
    tail = EmpiricalTail().fit(np.array(reference))
    probes = np.sort(np.array(probes))
    percentiles = tail.transform(probes)
    # Mathematically below 1; in floating point 1 - exp(-x) rounds to 1 beyond x ~ 37.
    assert ((percentiles > 0) & (percentiles <= 1)).all()
    assert (np.diff(percentiles) >= -1e-12).all()
    top = max(reference)
    above = np.unique(probes[(probes > top) & (probes < top + 20 * tail.tail_scale_)])
    assert (np.diff(tail.transform(above)) > 0).all()


def test_empirical_tail_matches_plotting_positions() -> None:
    # Given scores 1..9, the i-th smallest sits at i / (n + 1)
    tail = EmpiricalTail().fit(np.arange(1.0, 10.0))
    np.testing.assert_allclose(tail.transform(np.array([1.0, 5.0, 9.0])), [0.1, 0.5, 0.9])
    assert tail.transform(np.array([2.5]))[0] == pytest.approx(0.25)


@pytest.mark.parametrize("name", list(_detectors()))
def test_one_pass_scores_and_explains_exactly_like_the_two_calls(
    name: str, toy: pd.DataFrame, probes: pd.DataFrame, fitted: dict
) -> None:
    # Given a fitted detector and new rows
    detector = fitted[name]
    rows = pd.concat([toy.tail(30), probes])
    # When it scores and explains them in one pass
    scores, explained = detector.score_and_explain(rows, top_k=2)
    # Then the frames are those of score_frame and explain
    pd.testing.assert_frame_equal(scores, score_frame(detector, rows), rtol=1e-12)
    pd.testing.assert_frame_equal(explained, detector.explain(rows, 2), rtol=1e-12)


def test_lof_one_pass_score_is_scikit_learns(toy: pd.DataFrame, probes: pd.DataFrame) -> None:
    # Given a fitted LOF (its one-pass score repeats LocalOutlierFactor.score_samples)
    detector = LOFDetector(n_neighbors=15).fit(toy)
    rows = pd.concat([toy.head(40), probes]).to_numpy()
    # When scored in one pass, then the score is minus scikit-learn's
    one_pass, _ = detector._score_and_shares(rows)
    expected = -detector.lof_.score_samples(detector.scaler_.transform(rows))
    np.testing.assert_allclose(one_pass, expected, rtol=1e-12)
