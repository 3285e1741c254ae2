"""VolatilityFamily: the contract the lifecycle and the gates rely on."""

from __future__ import annotations

import json
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from riskops.data.market import MarketDataset, load_market
from riskops.errors import BadInputError
from riskops.families import get_family
from riskops.families.base import TrainOptions
from riskops.market.volatility import GarchVolatility
from riskops.volatility.family import METRICS, VolatilityFamily

EXTRA = {"eval_days": 200, "refit_every": 100}


@pytest.fixture(scope="module")
def sp500() -> MarketDataset:
    full = load_market(bundled="sp500")
    return full.window(start=full.returns.index[-1200])


@pytest.fixture(scope="module")
def gjr_outcome(sp500: MarketDataset, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("gjr")
    return VolatilityFamily().fit(sp500, TrainOptions(model="gjr", extra=EXTRA), workdir)


def test_family_is_registered_with_its_names() -> None:
    family = get_family("volatility")
    assert isinstance(family, VolatilityFamily)
    assert family.registered_name == "market_volatility"
    assert family.domain == "market"
    assert family.models == ("garch", "gjr", "egarch", "har_lightgbm", "lstm", "transformer")
    assert family.primary_metric == "qlike"
    assert family.pyfunc_predict_fn == "predict"


def test_fit_reports_the_metrics_and_evidence_the_gates_read(gjr_outcome, sp500) -> None:
    outcome = gjr_outcome
    assert set(outcome.metrics) == set(METRICS) == {
        "qlike", "mse", "qlike_benchmark", "mse_benchmark", "dm_stat", "dm_pvalue",
        "mz_alpha", "mz_beta", "mz_r2", "mz_pvalue", "n_eval",
    }  # fmt: skip
    assert all(np.isfinite(v) for v in outcome.metrics.values())
    assert outcome.metrics["n_eval"] == 200
    assert 0 <= outcome.metrics["dm_pvalue"] <= 1
    # dm_stat < 0 exactly when the model's mean QLIKE is below the benchmark's
    better = outcome.metrics["qlike"] < outcome.metrics["qlike_benchmark"]
    assert (outcome.metrics["dm_stat"] < 0) == better
    evidence = outcome.evidence
    assert set(evidence["params"]) == {"mu", "omega", "alpha[1]", "gamma[1]", "beta[1]", "nu"}
    assert evidence["benchmark"]["dist"] == "normal"
    assert evidence["benchmark"]["p"] == evidence["benchmark"]["q"] == 1
    dates = sp500.series().index
    assert evidence["eval_window"] == [str(dates[-200].date()), str(dates[-1].date())]
    assert evidence["forecasts"]["n"] == 200
    assert evidence["forecasts"]["refits"] == 2
    assert outcome.model_kind == "gjr"
    json.dumps(outcome.evidence, allow_nan=False)
    json.dumps(outcome.params)


def test_artifacts_and_examples(gjr_outcome, sp500) -> None:
    table = pd.read_parquet(gjr_outcome.artifact_dir / "forecasts.parquet")
    assert list(table.columns) == ["realised", "forecast", "benchmark", "fitted_through"]
    assert len(table) == 200
    # The realised proxy of the evaluation is the squared return of each day
    assert_allclose(table["realised"], sp500.series().iloc[-200:] ** 2)
    assert (gjr_outcome.artifact_dir / "forecast_vs_realised.png").stat().st_size > 0
    example = gjr_outcome.input_example
    assert list(example.columns) == ["ret"]
    assert len(example) == 250
    out = gjr_outcome.estimator.predict(example)
    assert out.shape == (250,)
    assert np.all(out > 0)
    assert list(gjr_outcome.reference.columns) == ["ret", "abs_ret", "rv_5", "rv_22"]


def test_metrics_match_a_manual_recomputation(gjr_outcome, sp500) -> None:
    # Given the forecast table, the metrics follow from the loss definitions
    from riskops.market.evaluation import diebold_mariano, qlike_loss

    table = pd.read_parquet(gjr_outcome.artifact_dir / "forecasts.parquet")
    q_model = np.log(table["forecast"]) + table["realised"] / table["forecast"]
    q_bench = np.log(table["benchmark"]) + table["realised"] / table["benchmark"]
    assert gjr_outcome.metrics["qlike"] == pytest.approx(q_model.mean())
    assert gjr_outcome.metrics["qlike_benchmark"] == pytest.approx(q_bench.mean())
    dm = diebold_mariano(
        qlike_loss(table["realised"], table["forecast"]),
        qlike_loss(table["realised"], table["benchmark"]),
    )
    assert gjr_outcome.metrics["dm_stat"] == pytest.approx(dm.stat)
    # and the first block's forecasts are those of a GJR fitted on the training span
    returns = sp500.series()
    manual = GarchVolatility(o=1, dist="t").fit(returns.iloc[:-200])
    path = manual.variance_path(returns.iloc[:-101])
    assert_allclose(table["forecast"].iloc[:100], path.iloc[-100:], rtol=1e-4)


def test_evaluate_compares_like_with_like(gjr_outcome) -> None:
    family = VolatilityFamily()
    # The challenger's own specification gives back its metrics
    again = family.evaluate(gjr_outcome.estimator, gjr_outcome.evaluation)
    assert again.keys() == gjr_outcome.metrics.keys()
    assert again["qlike"] == pytest.approx(gjr_outcome.metrics["qlike"], rel=1e-6)
    # The benchmark's specification ties with the benchmark
    tie = family.evaluate(
        GarchVolatility().fit(pd.Series([0.1, -0.2] * 200)), gjr_outcome.evaluation
    )
    assert tie["qlike"] == pytest.approx(tie["qlike_benchmark"])
    assert tie["dm_stat"] == 0.0
    assert tie["dm_pvalue"] == 1.0


def test_drift_inputs(gjr_outcome, sp500) -> None:
    family = VolatilityFamily()
    recent = family.recent_window(sp500)
    features = family.features(recent)
    assert len(features) == 250
    assert features.index[-1] == sp500.series().index[-1]
    # Recent rows equal the rows of the full feature frame (the warm-up is included)
    assert_allclose(features, family.features(sp500).iloc[-250:])
    scores = family.score(gjr_outcome.estimator, features)
    assert scores.index.equals(features.index)
    assert np.all(scores > 0)


def test_har_writes_shap_artifacts_and_pickles(sp500, tmp_path: Path) -> None:
    outcome = VolatilityFamily().fit(
        sp500, TrainOptions(model="har_lightgbm", extra=EXTRA), tmp_path
    )
    shap_dir = tmp_path / "shap"
    assert (shap_dir / "shap_values.parquet").exists()
    assert (shap_dir / "shap_importance_bar.png").exists()
    assert set(outcome.evidence["params"]) == {"n_trees", "gain_share"}
    assert outcome.evidence["proxy"] == "range"  # the bundled S&P 500 has highs and lows
    # The registered estimator survives cloudpickle, as MLflow stores it
    restored = cloudpickle.loads(cloudpickle.dumps(outcome.estimator))
    assert_allclose(
        restored.predict(outcome.input_example), outcome.estimator.predict(outcome.input_example)
    )


def test_long_history_from_a_price_csv(tmp_path: Path) -> None:
    # Given a long index history as a date + price CSV (8000 simulated business days)
    sim = GarchVolatility().simulate(8000, params=[0.04, 0.02, 0.09, 0.89], random_state=8)
    prices = 100 * np.cumprod(1 + sim["data"].to_numpy() / 100)
    dates = pd.bdate_range("1985-01-01", periods=8000)
    path = tmp_path / "index.csv"
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": prices}).to_csv(path, index=False)
    dataset = load_market(path, date_col="Date", price_col="Close")
    # When the family trains on it
    outcome = VolatilityFamily().fit(
        dataset,
        TrainOptions(model="garch", dist="normal", extra={"eval_days": 300, "refit_every": 150}),
        tmp_path / "out",
    )
    # Then it evaluates the last 300 days and recovers the simulated dynamics
    assert outcome.metrics["n_eval"] == 300
    assert outcome.evidence["proxy"] == "squared"
    params = outcome.evidence["params"]
    assert params["alpha[1]"] + params["beta[1]"] == pytest.approx(0.98, abs=0.02)
    # and, being the benchmark's specification, ties with the benchmark
    assert outcome.metrics["dm_stat"] == 0.0


def test_short_history_and_bad_options_are_refused(sp500, tmp_path: Path) -> None:
    family = VolatilityFamily()
    short = sp500.window(start=sp500.returns.index[-200])
    with pytest.raises(BadInputError, match="at least"):
        family.fit(short, TrainOptions(), tmp_path)
    with pytest.raises(BadInputError, match="model"):
        family.fit(sp500, TrainOptions(model="figarch"), tmp_path)
    with pytest.raises(BadInputError, match="dist"):
        family.fit(sp500, TrainOptions(model="garch", dist="ged"), tmp_path)
    with pytest.raises(BadInputError, match="refit_every"):
        family.fit(sp500, TrainOptions(extra={"refit_every": 0}), tmp_path)


def test_deep_models_explain_how_to_install_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from riskops.volatility.family import make_volatility_model

    # Given an environment without PyTorch
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "riskops.market.deep", raising=False)
    # Then asking for a deep model says what to do
    with pytest.raises(ImportError, match="make install-deep"):
        make_volatility_model("lstm")


def test_importing_the_family_stays_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, riskops.families, riskops.volatility.family\n"
        "heavy = [m for m in ('arch', 'lightgbm', 'torch', 'shap', 'matplotlib', 'mlflow')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
