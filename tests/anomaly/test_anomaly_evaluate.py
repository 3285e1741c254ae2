"""Evaluation: event recall and precision by hand, tolerance, stability, no-event windows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from riskops.anomaly.evaluate import (
    AnomalyEvaluation,
    event_metrics,
    event_table,
    score_stability,
    top_k,
)
from riskops.anomaly.models import IsolationForestDetector


@pytest.fixture
def scores() -> pd.Series:
    """200 business days with scores 0..199 in shuffled order."""
    days = pd.bdate_range("2020-01-01", periods=200)
    values = np.random.default_rng(1).permutation(200).astype(float)
    return pd.Series(values, index=days)


def test_top_k_is_the_top_one_percent_rounded_up() -> None:
    assert top_k(200) == 2
    assert top_k(4964) == 50
    assert top_k(10) == 1


def test_recall_and_precision_by_hand(scores: pd.Series) -> None:
    # Given two events: the top day, and the day right after the second-highest day
    ordered = scores.sort_values(ascending=False).index
    second = scores.index.get_loc(ordered[1])
    after_second = (
        scores.index[second + 1] if second + 1 < len(scores) else scores.index[second - 1]
    )
    events = pd.DataFrame(
        {"name": ["hit", "near"]}, index=pd.DatetimeIndex([ordered[0], after_second])
    )
    # When scored against the top 1% (k = 2 of 200 days)
    metrics = event_metrics(scores, events)
    # Then one of two events is found exactly, both within one trading day
    assert metrics["event_recall"] == 0.5
    assert metrics["precision_at_k"] == 0.5
    assert metrics["event_recall_tol1"] == 1.0
    assert metrics["precision_at_k_tol1"] == 1.0
    assert metrics["n_events"] == 2
    table = event_table(scores, events)
    assert table.loc[ordered[0], "rank"] == 1
    assert not table.loc[after_second, "in_top"]


def test_no_events_give_nan_not_zero(scores: pd.Series) -> None:
    metrics = event_metrics(scores, pd.DataFrame({"name": []}, index=pd.DatetimeIndex([])))
    assert metrics["n_events"] == 0
    assert math.isnan(metrics["event_recall"])
    assert math.isnan(metrics["precision_at_k"])


def test_split_holds_out_the_tail() -> None:
    features = pd.DataFrame(
        {"x": np.arange(100.0)}, index=pd.bdate_range("2008-01-01", periods=100)
    )
    evaluation = AnomalyEvaluation.split(features, holdout_fraction=0.2)
    assert len(evaluation.train) == 80
    assert len(evaluation.holdout) == 20
    assert evaluation.train.index.max() < evaluation.holdout.index.min()


def test_stability_is_high_for_clear_structure_and_low_for_noise() -> None:
    # Given data where distance from the centre decides anomaly, and pure noise scores
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=list("abc"))
    detector = IsolationForestDetector(n_estimators=100, random_state=0)
    # Then two refits on different subsamples and seeds rank the rows alike
    assert score_stability(detector, X, X, seed=0) > 0.9
    # and a forest too small to be stable is recognised as less stable
    tiny = IsolationForestDetector(n_estimators=1, max_samples=8, random_state=0)
    assert score_stability(tiny, X, X, seed=0) < score_stability(detector, X, X, seed=0)


def test_alert_rate_is_placed_between_the_two_naive_rules_by_mcnemars_test() -> None:
    from scipy.stats import binomtest

    from riskops.anomaly.evaluate import alert_rate_against_naive

    # Given 100 training days where |ret_z| and |ret| run 0..0.99 (99% quantile 0.9801),
    # then 50 held-out days in a crisis: |ret_z| flags 10 of them, |ret| 30
    train = np.arange(100) / 100
    naive = pd.Series(np.r_[train, np.full(40, 0.5), np.full(10, 3.0)])
    absolute = pd.Series(np.r_[train, np.full(20, 0.5), np.full(30, 3.0)])
    holdout = np.r_[np.zeros(100, bool), np.ones(50, bool)]
    # And a detector flagging 20 held-out days, the last 20 (between the two rules)
    flags = pd.Series(np.r_[np.zeros(130, bool), np.ones(20, bool)])
    result = alert_rate_against_naive(flags, naive, holdout, 0.01, absolute)
    assert result["naive_alert_rate_holdout"] == pytest.approx(10 / 50)
    assert result["abs_return_alert_rate_holdout"] == pytest.approx(30 / 50)
    # Then vs |ret|: 0 days only the detector flags, 10 only the rule: not "more";
    # vs |ret_z|: 10 only the detector, 0 only the rule: not "less"
    more = binomtest(0, 10, 0.5, alternative="greater").pvalue
    less = binomtest(0, 10, 0.5, alternative="greater").pvalue
    assert result["alert_rate_vs_naive_pvalue"] == pytest.approx(min(1.0, 2 * min(more, less)))
    assert result["alert_rate_vs_naive_pvalue"] == pytest.approx(1.0)
    # And a detector flagging every held-out day alerts more than even |ret| explains
    everything = pd.Series(np.r_[np.zeros(100, bool), np.ones(50, bool)])
    noisy = alert_rate_against_naive(everything, naive, holdout, 0.01, absolute)
    expected = 2 * binomtest(20, 20, 0.5, alternative="greater").pvalue
    assert noisy["alert_rate_vs_naive_pvalue"] == pytest.approx(expected)
    assert noisy["alert_rate_vs_naive_pvalue"] < 0.01
