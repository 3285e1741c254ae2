"""VaR and volatility models saved as plain data: skops round trips that forecast identically.

The fitted state of the market models is arrays, lists and scalars (``PlainState``); arch's
model and result objects are rebuilt from the specification and ``params_`` on demand. These
tests load every built-in model back with ``skops.io.loads`` trusting only RiskOps's
allow-list and check that it forecasts exactly what the fitted model forecasts.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from riskops.families import trusted_types
from riskops.market.var import FilteredHistoricalVaR, GarchTVaR, HistoricalVaR, QuantileVaR
from riskops.market.volatility import GarchVolatility, HARVolatility
from riskops.serialization import from_plain, to_plain

TIGHT = {"rtol": 1e-12, "atol": 0.0}


def _skops_round_trip(model):  # type: ignore[no-untyped-def]
    data = sio.dumps(model)
    untrusted = set(sio.get_untrusted_types(data=data))
    assert untrusted <= set(trusted_types()), untrusted - set(trusted_types())
    return sio.loads(data, trusted=list(trusted_types()))


@pytest.fixture(scope="module")
def sp500_returns() -> pd.Series:
    import arch.data.sp500

    return 100 * arch.data.sp500.load()["Adj Close"].pct_change().dropna()


@pytest.fixture(scope="module")
def recent(sp500_returns: pd.Series) -> pd.Series:
    return sp500_returns.iloc[-900:-100]


# -- pandas objects as plain data ----------------------------------------------------------

_INDEXES = st.sampled_from(["business", "daily_utc", "range", "labels", "irregular"])


def _index(kind: str, n: int) -> pd.Index:
    if kind == "business":
        return pd.bdate_range("2020-01-01", periods=n, name="date")
    if kind == "daily_utc":
        return pd.date_range("2021-03-01", periods=n, freq="D", tz="Europe/Zurich")
    if kind == "range":
        return pd.RangeIndex(5, 5 + 3 * n, 3)
    if kind == "labels":
        return pd.Index([f"p{i}" for i in range(n)], name="param")
    days = np.sort(np.random.default_rng(n).choice(10 * n + 10, size=n, replace=False))
    return pd.DatetimeIndex(np.datetime64("2019-01-01") + days.astype("timedelta64[D]"))


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=30
    ),
    kind=_INDEXES,
    name=st.sampled_from([None, "ret", "params"]),
)
def test_a_series_survives_the_plain_form_and_a_skops_file_exactly(values, kind, name) -> None:
    # Given any float Series on the index kinds the models keep
    series = pd.Series(values, index=_index(kind, len(values)), name=name, dtype=float)
    # When it is stored as plain data, through skops with no type trusted beyond its defaults
    data = sio.dumps({"state": to_plain(series)})
    assert sio.get_untrusted_types(data=data) == []
    back = from_plain(sio.loads(data, trusted=[])["state"])
    # Then it comes back identical: values bit for bit, index (with its frequency), name
    pd.testing.assert_series_equal(back, series, check_exact=True, check_freq=True)


def test_a_frame_survives_the_plain_form() -> None:
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, np.nan], "b": [3, 4, 5]}, index=pd.bdate_range("2020-01-01", periods=3)
    )
    back = from_plain(sio.loads(sio.dumps(to_plain(frame)), trusted=[]))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


# -- volatility models ---------------------------------------------------------------------

GARCH_SPECS = [
    {"dist": "normal"},
    {"o": 1, "dist": "t"},
    {"mean": "Zero", "dist": "skewt"},
    {"vol": "EGARCH", "o": 1, "dist": "t", "random_state": 7, "simulations": 200},
]


@pytest.mark.parametrize("spec", GARCH_SPECS, ids=lambda s: "-".join(map(str, s.values())))
def test_a_loaded_garch_forecasts_exactly_what_the_fitted_one_does(recent, spec) -> None:
    # Given a fitted arch model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = GarchVolatility(**spec).fit(recent)
    # When it goes through a skops file (trusted types only)
    loaded = _skops_round_trip(fitted)
    # Then its parameters are the same floats under the same names
    pd.testing.assert_series_equal(loaded.params_, fitted.params_, check_exact=True)
    # and it forecasts the same, on its own history and on a new one, one and five days on
    new = recent.iloc[-300:] * 1.1
    for history in (None, new):
        for horizon in (1, 5):
            assert_allclose(
                loaded.forecast_variance(history, horizon=horizon),
                fitted.forecast_variance(history, horizon=horizon),
                **TIGHT,
            )
    frame = new.to_frame("ret")
    assert_allclose(loaded.predict(frame), fitted.predict(frame), **TIGHT)
    assert_allclose(loaded.distribution_ppf([0.01, 0.5]), fitted.distribution_ppf([0.01, 0.5]))


def test_the_rebuilt_arch_result_reproduces_the_fitted_one(recent) -> None:
    # Given a fitted GJR-GARCH with Student's t innovations, loaded back from skops
    fitted = GarchVolatility(o=1, dist="t").fit(recent)
    loaded = _skops_round_trip(fitted)
    assert "_result" not in loaded.__dict__  # arch's objects are never in the file
    # When arch's result is rebuilt from the plain parameters
    rebuilt = loaded.result_
    # Then it is arch's fixed-parameter result with the fitted values of the estimation
    assert type(rebuilt).__name__ == "ARCHModelFixedResult"
    assert rebuilt.loglikelihood == pytest.approx(fitted.result_.loglikelihood, rel=1e-12)
    assert_allclose(rebuilt.conditional_volatility, fitted.result_.conditional_volatility, **TIGHT)
    assert_allclose(rebuilt.std_resid, fitted.result_.std_resid, **TIGHT)
    assert loaded.result_ is rebuilt  # built once, then cached


def test_a_loaded_model_rebuilds_arch_documentations_log_likelihood(sp500_returns) -> None:
    # Reference: arch documentation, "Introduction to ARCH Models": GARCH(1,1), constant mean,
    # normal, S&P 500 2000-01-01..2014-01-01: Log-Likelihood -5141.39 (3520 observations).
    returns = sp500_returns.loc["2000-01-01":"2014-01-01"].iloc[1:]
    fitted = GarchVolatility(dist="normal").fit(returns)
    # When the model is saved without arch's objects and loaded back
    loaded = pickle.loads(pickle.dumps(fitted))
    assert "_result" not in loaded.__dict__
    # Then the result rebuilt from its parameters has the published log-likelihood
    assert loaded.result_.loglikelihood == pytest.approx(-5141.39, abs=0.01)


@pytest.mark.parametrize("regressor", ["lightgbm", "linear"])
def test_a_loaded_har_forecasts_exactly_what_the_fitted_one_does(recent, regressor) -> None:
    fitted = HARVolatility(regressor=regressor, n_estimators=40).fit(recent)
    loaded = _skops_round_trip(fitted)
    frame = recent.iloc[-200:].to_frame("ret")
    assert_allclose(loaded.predict(frame), fitted.predict(frame), **TIGHT)
    assert_allclose(loaded.forecast_variance(horizon=5), fitted.forecast_variance(horizon=5))
    pd.testing.assert_series_equal(loaded.returns_, fitted.returns_, check_exact=True)


# -- VaR models ----------------------------------------------------------------------------

VAR_MODELS = [
    HistoricalVaR(window=250),
    GarchTVaR(),
    GarchTVaR(o=1),
    FilteredHistoricalVaR(),
    FilteredHistoricalVaR(o=0, dist="normal", window=300),
    GarchTVaR(volatility=GarchVolatility(o=1, dist="t")),
    FilteredHistoricalVaR(volatility=GarchVolatility(vol="EGARCH", o=1, dist="t")),
    QuantileVaR(n_estimators=40, es_folds=2),
]


@pytest.mark.parametrize("spec", VAR_MODELS, ids=lambda m: repr(m).replace(" ", ""))
def test_a_loaded_var_model_forecasts_exactly_what_the_fitted_one_does(recent, spec) -> None:
    from sklearn.base import clone

    # Given a fitted VaR model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = clone(spec).fit(recent)
    # (the quantile model answers only the levels it was trained for)
    levels = (0.95, 0.99) if isinstance(spec, QuantileVaR) else (0.95, 0.975, 0.99)
    # When it goes through a skops file (trusted types only) and through a pickle
    for loaded in (_skops_round_trip(fitted), pickle.loads(pickle.dumps(fitted))):
        # Then VaR and ES are the same on the training history and on a new one
        for history in (None, recent.iloc[-400:] * 0.9):
            before = fitted.forecast(history, levels=levels)
            after = loaded.forecast(history, levels=levels)
            pd.testing.assert_frame_equal(after, before, check_exact=False, rtol=1e-12)
        frame = recent.iloc[-100:].to_frame("ret")
        pd.testing.assert_frame_equal(loaded.predict(frame), fitted.predict(frame))


def test_a_subclass_attribute_without_a_plain_form_still_pickles_and_falls_back(recent) -> None:
    from riskops.serialization import CLOUDPICKLE, choose_format

    # Given a user's VaR subclass keeping an object Series (no plain form)
    class LabelledVaR(HistoricalVaR):
        def _fit_values(self, y, start=None):  # type: ignore[no-untyped-def]
            self.labels_ = pd.Series(["calm", "stress"], dtype=object)
            return super()._fit_values(y, start)

    fitted = LabelledVaR(window=250).fit(recent)
    # Then it still pickles as it is, and the format chosen is cloudpickle, not an error
    import cloudpickle

    restored = pickle.loads(cloudpickle.dumps(fitted))
    pd.testing.assert_series_equal(restored.labels_, fitted.labels_)
    example = recent.iloc[-250:].to_frame("ret")
    assert choose_format(fitted, example, "predict", trusted_types()) == CLOUDPICKLE


# -- stored class paths --------------------------------------------------------------------


def test_every_trusted_riskops_class_lives_at_the_path_stored_files_name() -> None:
    """A skops file names each class by module and name: homes written before a module was
    split into a package hold those names, so they must keep resolving, to the class
    itself, and the classes must keep writing them."""
    import importlib
    import importlib.util

    # The deep models' module imports PyTorch (CI installs it; tests/market/test_online_deep.py)
    deep = importlib.util.find_spec("torch") is not None
    checked = []
    for name in trusted_types():
        module, _, attribute = name.rpartition(".")
        if not name.startswith("riskops.") or (module == "riskops.market.deep" and not deep):
            continue
        cls = getattr(importlib.import_module(module), attribute)
        assert f"{cls.__module__}.{cls.__qualname__}" == name
        checked.append(name)
    assert "riskops.market.volatility.GarchVolatility" in checked
    assert "riskops.anomaly.models.IsolationForestDetector" in checked


@pytest.mark.parametrize("model", [GarchVolatility(), HARVolatility(n_estimators=20)])
def test_a_volatility_model_is_stored_under_the_module_path_homes_already_hold(
    recent, model
) -> None:
    # Given a model fitted now, after market/volatility.py became a package
    fitted = model.fit(recent)
    # When it is written with skops
    data = sio.dumps(fitted)
    # Then the file names it as the files written before the split do
    stored = set(sio.get_untrusted_types(data=data))
    assert f"riskops.market.volatility.{type(model).__name__}" in stored
    assert not any(".volatility.garch." in t or ".volatility.har." in t for t in stored)
