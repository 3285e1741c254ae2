"""Every built-in VaR, volatility and anomaly model is stored with skops (issue 16, item 4).

Each model is trained through the real lifecycle (MLflow on SQLite in ``tmp_path``) on a
small window of the bundled S&P 500 data (``arch.data.sp500``), written as a user CSV. The
registered version must say ``serialization_format: skops`` in its ``MLmodel``, its model
file must be a skops archive naming only types on RiskOps's allow-list (no pickle stream
in it, so nothing runs on load), and ``Registry.load_version`` must give back a model that
forecasts what the trained one did: the next-day VaR/ES recorded in ``evidence.json`` at
training, the anomaly scores logged in ``scores.parquet``, and for the volatility models
the forecasts of a fresh fit of the same specification on the same returns.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from riskops.data import DataSource
from riskops.families import trusted_types
from riskops.families.base import TrainOptions
from riskops.lifecycle import Lifecycle
from riskops.registry import Registry
from riskops.settings import Settings

PICKLE_PROTOCOL_2_PLUS = b"\x80"


def _sp500_csv(path: Path, days: int) -> Path:
    import arch.data.sp500

    raw = arch.data.sp500.load().iloc[-days:]
    frame = pd.DataFrame(
        {
            "Date": raw.index.strftime("%Y-%m-%d"),
            "Close": raw["Adj Close"].to_numpy(),
            "High": raw["High"].to_numpy() * raw["Adj Close"].to_numpy() / raw["Close"].to_numpy(),
            "Low": raw["Low"].to_numpy() * raw["Adj Close"].to_numpy() / raw["Close"].to_numpy(),
            "Volume": raw["Volume"].to_numpy(),
        }
    )
    frame.to_csv(path, index=False)
    return path


def _source(path: Path, ohlcv: bool = False) -> DataSource:
    extra = {"high_col": "High", "low_col": "Low", "volume_col": "Volume"} if ohlcv else {}
    return DataSource(domain="market", path=path, date_col="Date", price_col="Close", **extra)


def _stored_as_skops(settings: Settings, name: str, version: int) -> Path:
    """The local copy of the version's model folder, after checking its format."""
    import mlflow
    from mlflow.models import Model

    registry = Registry(settings)
    local = Path(
        mlflow.artifacts.download_artifacts(
            registry.get_version(name, version).source, dst_path=str(settings.home / "dl")
        )
    )
    flavor = Model.load(str(local)).flavors["sklearn"]
    assert flavor["serialization_format"] == "skops"
    model_file = local / flavor["pickled_model"]
    assert model_file.name == "model.skops"
    assert not (local / "model.pkl").exists()
    return model_file


def _no_pickle_and_trusted_types_only(model_file: Path) -> None:
    import skops.io as sio

    # A skops file is a zip of JSON (schema.json) and .npy arrays saved without pickle.
    with zipfile.ZipFile(model_file) as archive:
        names = archive.namelist()
        assert "schema.json" in names
        for member in names:
            data = archive.read(member)
            if member.endswith(".npy"):
                header = data[:10].decode("latin1")
                assert header.startswith("\x93NUMPY")
                assert "'O'" not in data[:128].decode("latin1")  # no object (pickled) arrays
            else:
                assert not data.startswith(PICKLE_PROTOCOL_2_PLUS), member
    assert set(sio.get_untrusted_types(file=str(model_file))) <= set(trusted_types())


def _run_json(settings: Settings, run_id: str, name: str) -> dict:
    import mlflow

    path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=name, dst_path=str(settings.home / "json")
    )
    return json.loads(Path(path).read_text())


def _reviewers_read_the_estimates(settings: Settings, run_id: str, estimator) -> None:  # type: ignore[no-untyped-def]
    """An arch-based model logs its specification and named estimates in plain JSON."""
    described = _run_json(settings, run_id, "model_parameters.json")
    assert described["params"] == {str(k): float(v) for k, v in estimator.params_.items()}
    assert {"mean", "vol", "p", "o", "q", "dist"} <= set(described["specification"])


@pytest.fixture(scope="module")
def sp500_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sp500_csv(tmp_path_factory.mktemp("data") / "sp500.csv", 800)


@pytest.mark.parametrize("model", ["historical", "fhs", "garch_t", "quantile_lightgbm"])
def test_each_var_model_is_stored_with_skops_and_forecasts_the_same_after_loading(
    settings: Settings, sp500_csv: Path, model: str
) -> None:
    # Given a VaR model trained through the lifecycle on 800 days of the S&P 500
    options = TrainOptions(model=model, extra={"eval_days": 150, "refit_every": 75})
    trained = Lifecycle(settings).train("var", source=_source(sp500_csv), options=options)
    # Then the registered file is skops, on trusted types only, with no pickle inside
    model_file = _stored_as_skops(settings, "market_var", trained.version)
    _no_pickle_and_trusted_types_only(model_file)
    # And the verified load forecasts exactly the next-day VaR/ES recorded at training
    loaded = Registry(settings).load_version("market_var", trained.version)
    recorded = _run_json(settings, trained.run_id, "evidence.json")["next_day"]
    forecast = loaded.estimator.forecast(levels=(0.95, 0.99))
    for level, tag in ((0.95, "95"), (0.99, "99")):
        key = next(k for k in recorded if k.endswith(tag))
        assert forecast.loc[level, "var"] == pytest.approx(recorded[key]["var"], rel=1e-12)
        assert forecast.loc[level, "es"] == pytest.approx(recorded[key]["es"], rel=1e-12)
    # And its pyfunc prediction on the logged example is a finite one-row forecast
    out = loaded.predict_example()
    assert np.isfinite(np.asarray(out, dtype=float)).all()
    if model in ("fhs", "garch_t"):
        _reviewers_read_the_estimates(settings, trained.run_id, loaded.estimator)


@pytest.mark.parametrize("model", ["garch", "gjr", "egarch", "har_lightgbm"])
def test_each_volatility_model_is_stored_with_skops_and_forecasts_the_same_after_loading(
    settings: Settings, sp500_csv: Path, model: str
) -> None:
    # Given a volatility model trained through the lifecycle on 800 days of the S&P 500
    options = TrainOptions(model=model, extra={"eval_days": 100, "refit_every": 100})
    trained = Lifecycle(settings).train("volatility", source=_source(sp500_csv), options=options)
    # Then the registered file is skops, on trusted types only, with no pickle inside
    model_file = _stored_as_skops(settings, "market_volatility", trained.version)
    _no_pickle_and_trusted_types_only(model_file)
    # And the loaded model forecasts what a fresh fit of its specification on the same
    # returns forecasts (the fits are deterministic)
    loaded = Registry(settings).load_version("market_volatility", trained.version).estimator
    fresh = clone(loaded).fit(loaded.returns_)
    example = loaded.returns_.iloc[-250:].to_frame("ret")
    np.testing.assert_allclose(loaded.predict(example), fresh.predict(example), rtol=1e-12)
    np.testing.assert_allclose(
        loaded.forecast_variance(horizon=5), fresh.forecast_variance(horizon=5), rtol=1e-12
    )
    if hasattr(fresh, "params_"):
        pd.testing.assert_series_equal(loaded.params_, fresh.params_, rtol=1e-12)
        _reviewers_read_the_estimates(settings, trained.run_id, loaded)


@pytest.mark.parametrize("model", ["isolation_forest", "lof", "autoencoder", "ensemble"])
def test_each_anomaly_detector_is_stored_with_skops_and_scores_the_same_after_loading(
    settings: Settings, sp500_csv: Path, model: str
) -> None:
    from riskops.anomaly.features import build_features
    from riskops.data import load

    # Given a detector trained through the lifecycle on 800 days of S&P 500 OHLCV data
    source = _source(sp500_csv, ohlcv=True)
    options = TrainOptions(model=model, seed=1, extra={"explain_sample": 50})
    trained = Lifecycle(settings).train("anomaly", source=source, options=options)
    # Then the registered file is skops, on trusted types only, with no pickle inside
    model_file = _stored_as_skops(settings, "market_anomaly", trained.version)
    _no_pickle_and_trusted_types_only(model_file)
    # And the loaded detector scores every day exactly as logged at training
    import mlflow

    scores = pd.read_parquet(
        mlflow.artifacts.download_artifacts(
            run_id=trained.run_id,
            artifact_path="scores.parquet",
            dst_path=str(settings.home / "sc"),
        )
    )
    loaded = Registry(settings).load_version("market_anomaly", trained.version).estimator
    features = build_features(load(source))  # type: ignore[arg-type]
    np.testing.assert_allclose(
        loaded.score_samples(features), scores["score"].to_numpy(), rtol=1e-12
    )
