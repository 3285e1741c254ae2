"""Anomaly evidence of issue 13: the naive |standardised return| rule on the same days,
recall by span and at the deployed threshold, and the binomial alert-rate band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from riskops.anomaly.evaluate import AnomalyEvaluation, alert_rate_band, evaluate_detector


class ScoreDetector:
    """A fitted stand-in detector that scores one feature column, alerting above a cut."""

    def __init__(self, column: str, threshold: float, alert_rate: float = 0.01) -> None:
        self.column, self.decision_threshold_, self.alert_rate = column, threshold, alert_rate

    def score_samples(self, features: pd.DataFrame) -> np.ndarray:
        return features[self.column].to_numpy(dtype=float)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.score_samples(features) > self.decision_threshold_).astype(int)


@pytest.fixture
def evaluation() -> AnomalyEvaluation:
    # 400 days; two events in the first 300 (training), two in the last 100 (held out)
    days = pd.bdate_range("2010-01-04", periods=400)
    rng = np.random.default_rng(3)
    ret_z = rng.normal(size=400)
    other = rng.normal(size=400)
    events = [20, 150, 330, 380]
    ret_z[[20, 150, 330, 380]] = [-9.0, -8.0, 0.1, -7.0]  # the rule sees three of four
    other[[20, 150, 330, 380]] = [5.0, 0.2, 6.0, 7.0]  # the detector sees another three
    features = pd.DataFrame({"ret_z": ret_z, "other": other}, index=days)
    table = pd.DataFrame({"name": [f"e{i}" for i in events]}, index=days[events])
    return AnomalyEvaluation(features=features, holdout_start=days[300], events=table)


def test_naive_recall_span_recall_and_holdout_recall(evaluation: AnomalyEvaluation) -> None:
    # Given a detector that ranks by "other" and alerts above 6.5 (only day 380 held out)
    detector = ScoreDetector("other", threshold=6.5)
    # When evaluated
    metrics, _ = evaluate_detector(detector, evaluation, stability=False)
    # Then the top 1% is k = 4 days, and each figure is counted by hand
    assert metrics["k"] == 4
    assert metrics["event_recall"] == 0.75  # 20, 330, 380
    assert metrics["naive_event_recall"] == 0.75  # |ret_z|: 20, 150, 380
    assert metrics["naive_precision_at_k"] == 0.75
    assert (metrics["n_events_in_train"], metrics["n_events_holdout"]) == (2, 2)
    assert metrics["event_recall_in_train"] == 0.5  # 20 found, 150 missed
    assert metrics["event_recall_out_of_train"] == 1.0  # 330 and 380 in the top 4
    # and of the two held-out events only 380 crosses the deployed threshold
    assert metrics["event_recall_holdout"] == 0.5


def test_holdout_recall_is_nan_without_held_out_events(evaluation: AnomalyEvaluation) -> None:
    train_only = AnomalyEvaluation(
        features=evaluation.features,
        holdout_start=evaluation.holdout_start,
        events=evaluation.events.iloc[:2],
    )
    metrics, _ = evaluate_detector(ScoreDetector("other", 6.5), train_only, stability=False)
    assert np.isnan(metrics["event_recall_holdout"])
    assert metrics["n_events_holdout"] == 0


def test_alert_band_is_the_binomial_interval() -> None:
    # Given 993 held-out days at a 1% target (the bundled data's hold-out)
    low, high = alert_rate_band(993, 0.01)
    # Then the band is 3 to 19 alerts: each tail outside it has probability <= 0.5%
    assert (round(low * 993), round(high * 993)) == (3, 19)
    assert stats.binom.cdf(2, 993, 0.01) <= 0.005 < stats.binom.cdf(3, 993, 0.01)
    assert stats.binom.sf(19, 993, 0.01) <= 0.005 < stats.binom.sf(18, 993, 0.01)
    # and the one alert in 993 days that the old band (>= 0.1%) accepted falls outside it
    assert low > 1 / 993
