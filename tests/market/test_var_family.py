"""VaRFamily: the contract the lifecycle relies on, on a short slice of real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from riskops.errors import BadInputError
from riskops.families import get_family
from riskops.families.base import TrainOptions
from riskops.var.family import VaRFamily, backtest_forecasts

METRIC_STEMS = (
    "exceptions",
    "exception_rate",
    "kupiec_stat",
    "kupiec_pvalue",
    "binomial_pvalue",
    "independence_pvalue",
    "independence_mc_pvalue",
    "cc_stat",
    "cc_pvalue",
    "cc_mc_pvalue",
    "traffic_light_plus",
    "es_pvalue",
    "quantile_loss",
)


@pytest.fixture(scope="module")
def dataset():
    from riskops.data.market import load_market

    full = load_market()
    return full.window(start=full.returns.index[3000], end=full.returns.index[3799])


@pytest.fixture(scope="module")
def outcome(dataset, tmp_path_factory):
    options = TrainOptions(model="fhs", extra={"eval_days": 200, "refit_every": 20})
    return VaRFamily().fit(dataset, options, tmp_path_factory.mktemp("var"))


def test_family_is_registered_under_its_names() -> None:
    family = get_family("var")
    assert isinstance(family, VaRFamily)
    assert (family.name, family.registered_name, family.domain) == ("var", "market_var", "market")
    assert family.models == ("fhs", "garch_t", "historical", "quantile_lightgbm")
    assert family.pyfunc_predict_fn == "predict"
    assert family.primary_metric == "kupiec_pvalue"


def test_fit_emits_the_exact_metric_and_evidence_names(outcome) -> None:
    expected = {f"{stem}_{lvl}" for stem in METRIC_STEMS for lvl in (95, 99)}
    regulatory = {
        f"{stem}_{lvl}_last250"
        for stem in ("exceptions", "kupiec_pvalue", "binomial_pvalue", "cc_pvalue")
        for lvl in (95, 99)
    }
    # the 99% exceptions are also tested given the 95% ones
    extra = {"n_eval", "kupiec_pvalue", "tail_pvalue_99"}
    assert expected | regulatory | extra == set(outcome.metrics)
    assert outcome.metrics["n_eval"] == 200
    assert all(np.isfinite(v) for v in outcome.metrics.values())
    evidence = outcome.evidence
    assert evidence["level"] == 0.99
    assert evidence["traffic_light_zone_99"] in ("green", "yellow", "red")
    assert evidence["traffic_light_zone_95"] in ("green", "yellow", "red")
    assert set(evidence["backtests"]) == {"95", "99"}
    pof = evidence["backtests"]["99"]["kupiec_pof"]
    assert pof["pvalue"] == outcome.metrics["kupiec_pvalue_99"]
    recent = evidence["backtests"]["99"]["kupiec_pof_last_250"]
    assert recent["n"] == 200  # the whole window when it is shorter than 250 days
    assert recent["pvalue"] == outcome.metrics["kupiec_pvalue_99_last250"]
    start, end = evidence["eval_window"]
    assert start < end
    json.dumps(evidence)  # logged as evidence.json


def test_metrics_are_the_backtests_of_the_saved_forecasts(outcome) -> None:
    # Given the forecasts written as an artifact, recomputing the backtests gives the metrics.
    forecasts = pd.read_parquet(Path(outcome.artifact_dir) / "forecasts.parquet")
    hits = -forecasts["ret"] > forecasts["var_99"]
    assert outcome.metrics["exceptions_99"] == hits.sum()
    metrics, _ = backtest_forecasts(forecasts, seed=42)
    for key, value in metrics.items():
        assert outcome.metrics[key] == pytest.approx(value)


def test_artifacts_and_lifecycle_fields(outcome) -> None:
    files = {p.name for p in Path(outcome.artifact_dir).iterdir()}
    assert {
        "backtests.csv",
        "forecasts.parquet",
        "exceedances_95.png",
        "exceedances_99.png",
        "traffic_light_history.png",
    } <= files
    table = pd.read_csv(Path(outcome.artifact_dir) / "backtests.csv")
    assert {"kupiec_pof", "conditional_coverage", "traffic_light", "mcneil_frey"} <= set(
        table["test"]
    )
    assert list(outcome.input_example.columns) == ["ret"]
    assert len(outcome.input_example) == 250
    assert list(outcome.reference.columns) == ["ret", "abs_ret", "rv_5", "rv_22"]
    # The registered estimator is refitted on all 800 returns and predicts from the example.
    assert outcome.estimator.n_obs_ == 800
    row = outcome.estimator.predict(outcome.input_example)
    assert row.shape == (1, 2)
    assert row["es"].iloc[0] >= row["var"].iloc[0] > 0


def test_evaluate_reproduces_the_challengers_metrics(outcome) -> None:
    # The champion comparison: same specification, same window, same numbers.
    again = VaRFamily().evaluate(clone(outcome.estimator), outcome.evaluation)
    for key, value in outcome.metrics.items():
        assert again[key] == pytest.approx(value), key


def test_evaluate_another_model_on_the_same_window(dataset, outcome) -> None:
    from riskops.market.var import HistoricalVaR

    champion = HistoricalVaR(window=250).fit(dataset.series())
    other = VaRFamily().evaluate(champion, outcome.evaluation)
    assert set(other) == set(outcome.metrics)
    assert other["n_eval"] == outcome.metrics["n_eval"]


def test_features_score_and_recent_window(dataset, outcome) -> None:
    family = VaRFamily()
    recent = family.recent_window(dataset)
    features = family.features(recent)
    assert len(features) == 250
    score = family.score(outcome.estimator, features)
    assert score.index.equals(features.index)
    assert score.iloc[1:].notna().all()
    # The last score is the estimator's own forecast after the same returns.
    last = outcome.estimator.forecast(features["ret"], levels=(0.99,)).iloc[0]["var"]
    assert score.iloc[-1] == pytest.approx(last)


def test_bad_options_are_refused(dataset, tmp_path) -> None:
    family = VaRFamily()
    with pytest.raises(BadInputError, match="model"):
        family.fit(dataset, TrainOptions(model="nope"), tmp_path)
    with pytest.raises(BadInputError, match="dist"):
        family.fit(dataset, TrainOptions(model="garch_t", dist="normal"), tmp_path)
    with pytest.raises(BadInputError, match="eval_days"):
        family.fit(dataset, TrainOptions(extra={"eval_days": 10}), tmp_path)
    short = dataset.window(end=dataset.returns.index[300])
    with pytest.raises(BadInputError, match="needs at least"):
        family.fit(short, TrainOptions(), tmp_path)


def test_quantile_model_writes_shap_artifacts(dataset, tmp_path) -> None:
    options = TrainOptions(
        model="quantile_lightgbm", extra={"eval_days": 100, "refit_every": 100}, seed=3
    )
    outcome = VaRFamily().fit(dataset, options, tmp_path)
    shap_dir = tmp_path / "shap"
    assert (shap_dir / "shap_values.parquet").exists()
    assert (shap_dir / "shap_global_importance.json").exists()
    assert outcome.params["refit_every"] == 100
    assert outcome.evidence["params"]["es_ratio"]["0.99"] >= 1.0
