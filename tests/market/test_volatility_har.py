"""HARVolatility and realised-variance proxies."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from riskops.errors import BadInputError, DataValidationError
from riskops.market import HARVolatility
from riskops.market.evaluation import diebold_mariano, qlike_loss
from riskops.market.volatility import GarchVolatility, parkinson_variance, realised_proxy


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    # GARCH returns with strong clustering, so that lagged variances carry information
    sim = GarchVolatility().simulate(2500, params=[0.03, 0.03, 0.12, 0.85], random_state=17)
    return pd.Series(sim["data"].to_numpy(), index=pd.bdate_range("2012-01-02", periods=2500))


@pytest.fixture(scope="module")
def har(returns: pd.Series) -> HARVolatility:
    return HARVolatility(n_estimators=150).fit(returns.iloc[:2000])


def test_linear_har_is_corsis_ols(returns: pd.Series) -> None:
    # Corsi (2009) HAR-RV: RV_{t+1} = b0 + b_d RV_t + b_w mean(RV_{t-4..t}) + b_m mean(RV_{t-21..t})
    import statsmodels.api as sm

    model = HARVolatility(regressor="linear").fit(returns)
    rv = returns**2
    X = pd.DataFrame({"d": rv, "w": rv.rolling(5).mean(), "m": rv.rolling(22).mean()})
    data = pd.concat([X, rv.shift(-1).rename("y")], axis=1).dropna()
    ols = sm.OLS(data["y"], sm.add_constant(data[["d", "w", "m"]])).fit()
    assert_allclose(model.model_.intercept_, ols.params["const"], rtol=1e-8)
    assert_allclose(model.model_.coef_, ols.params[["d", "w", "m"]], rtol=1e-8)


def test_predictions_are_positive_one_step_forecasts(
    har: HARVolatility, returns: pd.Series
) -> None:
    frame = returns.iloc[-250:].to_frame("ret")
    out = har.predict(frame)
    assert out.shape == (250,)
    assert np.all(out > 0)
    # The last row is the next-day forecast from that history
    assert har.forecast_variance(returns.iloc[-250:])[0] == pytest.approx(out[-1])
    # Multi-step forecasts are positive and finite
    path = har.forecast_variance(returns.iloc[-250:], horizon=10)
    assert path.shape == (10,)
    assert np.all(np.isfinite(path) & (path > 0))


def test_har_beats_a_constant_forecast_out_of_sample(
    har: HARVolatility, returns: pd.Series
) -> None:
    # Given the 500 held-out days of a clustered series
    forecast = har.predict(returns.to_frame("ret"))[1999:-1]
    realised = returns.iloc[2000:].to_numpy() ** 2
    constant = np.full(500, (returns.iloc[:2000] ** 2).mean())
    # Then HAR has a significantly lower QLIKE loss than the unconditional variance
    result = diebold_mariano(qlike_loss(realised, forecast), qlike_loss(realised, constant))
    assert result.stat < 0
    assert result.pvalue < 0.05


def test_lightgbm_contributions_add_up_to_the_log_forecast(
    har: HARVolatility, returns: pd.Series
) -> None:
    phi, base, X = har.explain(returns.iloc[-300:])
    assert phi.shape == X.shape == (300, len(har.feature_names_))
    raw = phi.sum(axis=1) + base
    # gamma objective: raw score is the log variance
    assert_allclose(np.exp(raw), har.predict(returns.iloc[-300:].to_frame("ret")), rtol=1e-6)


def test_linear_contributions_add_up_to_the_forecast(returns: pd.Series) -> None:
    model = HARVolatility(regressor="linear").fit(returns)
    phi, base, X = model.explain()
    assert list(X.columns) == ["rv_d", "rv_w", "rv_m"]
    forecasts = model.model_.predict(X)
    assert_allclose(phi.sum(axis=1) + base, forecasts, rtol=1e-10)


def test_training_target_can_be_a_range_proxy(returns: pd.Series) -> None:
    # A target twice the squared return doubles the linear HAR's forecasts
    plain = HARVolatility(regressor="linear").fit(returns)
    doubled = HARVolatility(regressor="linear").fit(returns, 2 * returns**2)
    assert_allclose(doubled.forecast_variance(), 2 * plain.forecast_variance(), rtol=1e-8)
    with pytest.raises(DataValidationError):
        HARVolatility().fit(returns, -(returns**2))


def test_parkinson_known_value_and_scaled_proxy() -> None:
    # Parkinson (1980): sigma² = (ln H/L)² / (4 ln 2); H/L = 1.1 → (100 ln 1.1)² / 2.7726
    high = pd.Series([110.0, 105.0, 101.0])
    low = pd.Series([100.0, 100.0, 100.0])
    assert parkinson_variance(high, low).iloc[0] == pytest.approx(
        (100 * np.log(1.1)) ** 2 / (4 * np.log(2))
    )
    rets = pd.Series([1.0, -2.0, 0.5])
    proxy = realised_proxy(rets, high, low)
    # rescaled so its mean equals the mean squared return
    assert proxy.mean() == pytest.approx((rets**2).mean())
    ratio = parkinson_variance(high, low)
    assert_allclose(proxy / proxy.iloc[0], ratio / ratio.iloc[0], rtol=1e-12)
    assert_allclose(realised_proxy(rets), rets**2)
    calibrated = realised_proxy(rets, high, low, calibrate_on=2)
    assert calibrated.iloc[:2].mean() == pytest.approx((rets.iloc[:2] ** 2).mean())
    with pytest.raises(BadInputError):
        realised_proxy(rets, kind="range")


def test_sklearn_contract(har: HARVolatility, returns: pd.Series) -> None:
    spec = HARVolatility(n_estimators=20)
    assert clone(spec).get_params() == spec.get_params()
    with pytest.raises(NotFittedError):
        spec.predict(returns.iloc[:30].to_frame("ret"))
    restored = pickle.loads(pickle.dumps(har))
    frame = returns.iloc[-60:].to_frame("ret")
    assert_allclose(restored.predict(frame), har.predict(frame))
    with pytest.raises(BadInputError):
        HARVolatility(regressor="xgboost").fit(returns)
    with pytest.raises(DataValidationError):
        HARVolatility().fit(returns.iloc[:40])
