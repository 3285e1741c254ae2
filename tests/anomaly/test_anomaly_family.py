"""The anomaly family end to end on small windows: metric names, evidence, artifacts, CSVs."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskops.anomaly.family import AnomalyFamily
from riskops.data.market import load_market
from riskops.errors import BadInputError
from riskops.families import get_family
from riskops.families.base import TrainOptions

METRICS = {
    "event_recall",
    "precision_at_k",
    "alert_rate_holdout",
    "target_alert_rate",
    "score_stability",
    "n_events",
    "n_days",
}


@pytest.fixture(scope="module")
def crisis_fit(tmp_path_factory: pytest.TempPathFactory):
    """The default ensemble on 2006-2009 US data (holds 2007-02-27 and the 2008 crash)."""
    dataset = load_market(bundled="us_indices").window("2006-01-01", "2009-12-31")
    workdir = tmp_path_factory.mktemp("anomaly")
    options = TrainOptions(seed=1, extra={"explain_sample": 100})
    return get_family("anomaly").fit(dataset, options, workdir)


def test_family_declares_its_contract() -> None:
    family = get_family("anomaly")
    assert isinstance(family, AnomalyFamily)
    assert (family.name, family.registered_name, family.domain) == (
        "anomaly",
        "market_anomaly",
        "market",
    )
    assert family.models == ("ensemble", "isolation_forest", "lof", "autoencoder")
    assert (family.pyfunc_predict_fn, family.primary_metric) == ("predict", "event_recall")


def test_fit_reports_the_named_metrics_and_evidence(crisis_fit) -> None:
    outcome = crisis_fit
    assert set(outcome.metrics) >= METRICS
    assert outcome.model_kind == "ensemble"
    assert outcome.metrics["target_alert_rate"] == pytest.approx(0.01)
    assert outcome.metrics["n_days"] == len(outcome.evaluation.features)
    # 2007-02-27 and the nine 2008 events fall in the window
    assert outcome.metrics["n_events"] == 10
    assert 0 <= outcome.metrics["alert_rate_holdout"] <= 1
    assert 0.5 < outcome.metrics["score_stability"] <= 1
    events = outcome.evidence["events"]
    assert {"date", "name", "rank", "score", "in_top"} <= set(events[0])
    assert sum(e["in_top"] for e in events) / len(events) == outcome.metrics["event_recall"]
    top = outcome.evidence["top_alerts"]
    assert [t["rank"] for t in top] == sorted(t["rank"] for t in top)
    assert all(len(t["drivers"]) == 3 for t in top)
    assert outcome.evidence["alert_threshold"] == outcome.estimator.decision_threshold_
    assert len(outcome.input_example) == 5
    assert list(outcome.input_example.columns) == list(outcome.reference.columns)


def test_fit_writes_the_artifacts(crisis_fit) -> None:
    folder = Path(crisis_fit.artifact_dir)
    for name in ("score_timeline.png", "scores.parquet", "top_alerts.json", "attributions.parquet"):
        assert (folder / name).exists(), name
    assert (folder / "shap" / "shap_values.parquet").exists()
    scores = pd.read_parquet(folder / "scores.parquet")
    assert {"score", "percentile", "alert", "rank", "holdout"} <= set(scores.columns)
    top = json.loads((folder / "top_alerts.json").read_text())
    assert top[0]["date"] == str(scores["score"].idxmax().date())
    shares = pd.read_parquet(folder / "attributions.parquet")
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)


def test_evaluate_reproduces_the_fit_metrics_for_the_same_estimator(crisis_fit) -> None:
    family = AnomalyFamily()
    again = family.evaluate(crisis_fit.estimator, crisis_fit.evaluation)
    assert set(again) == set(crisis_fit.metrics)
    for name, value in crisis_fit.metrics.items():
        assert again[name] == pytest.approx(value, nan_ok=True), name


def test_champion_with_other_features_is_refused(crisis_fit) -> None:
    # Given an evaluation window whose data lack volumes
    evaluation = crisis_fit.evaluation
    narrower = replace(evaluation, features=evaluation.features.drop(columns="volume_change"))
    # Then the champion fitted with volumes cannot be compared on it
    with pytest.raises(BadInputError, match="volume_change"):
        AnomalyFamily().evaluate(crisis_fit.estimator, narrower)


def test_score_and_pyfunc_predict(crisis_fit) -> None:
    family = AnomalyFamily()
    features = crisis_fit.evaluation.features
    scores = family.score(crisis_fit.estimator, features)
    assert scores.index.equals(features.index)
    flags = crisis_fit.estimator.predict(crisis_fit.input_example)
    assert set(np.unique(flags)) <= {0, 1}


def test_close_only_nasdaq_csv_trains(tmp_path: Path) -> None:
    # Given the NASDAQ 2007-2009 as a CSV with a date and a close only
    nasdaq = load_market(bundled="nasdaq").window("2007-01-01", "2009-12-31")
    path = tmp_path / "nasdaq.csv"
    nasdaq.close.rename(columns={"nasdaq": "close"}).rename_axis("date").to_csv(path)
    dataset = load_market(path, date_col="date", price_col="close")
    # When the autoencoder is trained on it
    outcome = AnomalyFamily().fit(
        dataset, TrainOptions(model="autoencoder", seed=3), tmp_path / "work"
    )
    # Then it uses the seven close-based features and still finds 2008's stress days
    assert outcome.reference.shape[1] == 7
    # the nine 2008 events (2007-02-27 falls in the 66-day warm-up)
    assert outcome.metrics["n_events"] == 9
    assert outcome.metrics["event_recall"] > 0


def test_eustocks_trains_without_curated_events(tmp_path: Path) -> None:
    outcome = AnomalyFamily().fit(
        load_market(bundled="eustocks"), TrainOptions(model="lof"), tmp_path
    )
    assert outcome.metrics["n_events"] == 0
    assert math.isnan(outcome.metrics["event_recall"])
    assert 0 <= outcome.metrics["alert_rate_holdout"] <= 1
    assert not (tmp_path / "shap").exists()


def test_unknown_model_and_bad_alert_rate_are_bad_input(tmp_path: Path) -> None:
    dataset = load_market(bundled="sp500").window("2010-01-01", "2011-12-31")
    with pytest.raises(BadInputError, match="model"):
        AnomalyFamily().fit(dataset, TrainOptions(model="kmeans"), tmp_path)
    with pytest.raises(BadInputError, match="alert_rate"):
        AnomalyFamily().fit(dataset, TrainOptions(extra={"alert_rate": 0.9}), tmp_path)


def test_level_sets_the_alert_rate(tmp_path: Path) -> None:
    dataset = load_market(bundled="sp500").window("2010-01-01", "2011-12-31")
    outcome = AnomalyFamily().fit(dataset, TrainOptions(model="lof", level=0.95), tmp_path)
    assert outcome.estimator.alert_rate == pytest.approx(0.05)
    assert outcome.metrics["alert_rate_train"] == pytest.approx(0.05, abs=1 / 300)


@pytest.mark.slow
def test_default_ensemble_ranks_a_majority_of_stress_days_in_its_top_percent(
    tmp_path: Path,
) -> None:
    # Given the bundled S&P 500 + NASDAQ history and the default ensemble
    dataset = load_market(bundled="us_indices")
    # When the family fits it on 1999-2014 and scores 1999-2018
    outcome = AnomalyFamily().fit(dataset, TrainOptions(extra={"explain_sample": 50}), tmp_path)
    # Then most curated stress days (chosen from history, not from scores) are in the top 1%
    assert outcome.metrics["n_events"] == 21
    assert outcome.metrics["event_recall"] > 0.5
    assert outcome.metrics["alert_rate_train"] == pytest.approx(0.01, abs=0.001)
