"""The fast GARCH estimator against arch, and the rolling backtest engine."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from riskops.market.rolling import (
    RollingBacktest,
    fit_garch,
    garch_backcast,
    garch_variance,
    level_tag,
    rolling_forecasts,
    std_t_quantile_es,
)
from riskops.market.var import GarchTVaR, HistoricalVaR


@pytest.fixture(scope="module")
def sp500() -> pd.Series:
    from riskops.data.market import load_market

    return load_market().series()


def arch_fit(y: np.ndarray, o: int = 0, dist: str = "t"):
    from arch import arch_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return arch_model(y, mean="Constant", vol="GARCH", p=1, o=o, q=1, dist=dist).fit(disp="off")


@pytest.mark.parametrize(("o", "dist"), [(0, "t"), (1, "t"), (0, "normal"), (1, "normal")])
def test_fit_garch_reaches_archs_optimum(sp500: pd.Series, o: int, dist: str) -> None:
    # Given 1,500 days of S&P 500; when both estimators fit the same model...
    y = sp500.to_numpy()[:1500]
    ours = fit_garch(y, o=o, dist=dist)
    ref = arch_fit(y, o, dist)
    # ...then ours is at least as good an optimum, and the parameters agree.
    assert ours.names == tuple(ref.params.index)
    assert ours.loglikelihood >= ref.loglikelihood - 1e-6
    assert ours.loglikelihood == pytest.approx(ref.loglikelihood, abs=1e-3)
    np.testing.assert_allclose(ours.params, ref.params.to_numpy(), rtol=2e-3, atol=2e-4)
    assert ours.converged


@pytest.mark.parametrize(("o", "dist"), [(0, "t"), (1, "t"), (0, "normal"), (1, "normal")])
def test_the_engines_likelihood_is_archs_on_the_same_data(
    sp500: pd.Series, o: int, dist: str
) -> None:
    # Given 1,500 days of S&P 500 and parameter vectors at and away from arch's optimum
    from arch import arch_model

    from riskops.market.rolling import _negloglik

    y = sp500.to_numpy()[:1500]
    model = arch_model(y, mean="Constant", vol="GARCH", p=1, o=o, q=1, dist=dist)
    optimum = arch_fit(y, o, dist).params.to_numpy()
    rng = np.random.default_rng(o)
    backcast = garch_backcast(y - y.mean())  # arch's: the residuals at the sample mean
    for theta in (optimum, *(optimum * rng.uniform(0.9, 1.1, optimum.size) for _ in range(3))):
        # When the engine evaluates its (mean) log-likelihood and arch its fixed-parameter one
        ours = -_negloglik(theta, y, backcast, o, dist)[0] * y.size
        theirs = model.fix(theta).loglikelihood
        # Then they are the same number
        assert ours == pytest.approx(theirs, rel=1e-10), theta


def test_variance_recursion_matches_arch(sp500: pd.Series) -> None:
    # Given arch's estimates and its backcast; the linear-filter recursion reproduces
    # arch's conditional volatility and its one-step forecast.
    y = sp500.to_numpy()[:1200]
    ref = arch_fit(y, o=1)
    theta = ref.params.to_numpy()
    backcast = garch_backcast(y - y.mean())
    sigma2, nxt = garch_variance(theta, y, backcast, o=1)
    np.testing.assert_allclose(np.sqrt(sigma2), ref.conditional_volatility, rtol=1e-10)
    forecast = ref.forecast(horizon=1, reindex=False).variance.iloc[-1, 0]
    assert nxt == pytest.approx(forecast, rel=1e-10)


def test_gradient_is_analytic_derivative(sp500: pd.Series) -> None:
    from scipy.optimize import approx_fprime

    from riskops.market.rolling import _negloglik

    y = sp500.to_numpy()[:800]
    theta = np.array([0.04, 0.02, 0.05, 0.08, 0.87, 7.0])
    backcast = garch_backcast(y - y.mean())
    _, grad = _negloglik(theta, y, backcast, 1, "t")
    numeric = approx_fprime(theta, lambda th: _negloglik(th, y, backcast, 1, "t")[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-6)


def test_std_t_quantile_and_es_against_numerical_integration() -> None:
    from scipy import integrate, stats

    nu, p = 5.0, 0.01
    q, es = std_t_quantile_es(p, nu)
    scale = np.sqrt((nu - 2) / nu)
    unit = stats.t(nu, scale=scale)
    assert unit.std() == pytest.approx(1.0)
    assert unit.cdf(q) == pytest.approx(p)
    tail, _ = integrate.quad(lambda x: -x * unit.pdf(x), -np.inf, q)
    assert es == pytest.approx(tail / p, rel=1e-8)


def test_warm_start_lands_on_the_same_optimum(sp500: pd.Series) -> None:
    y = sp500.to_numpy()[:1500]
    cold = fit_garch(y)
    warm = fit_garch(y, start=fit_garch(y[:-1]).params)
    np.testing.assert_allclose(warm.params, cold.params, rtol=1e-3)
    # Invalid starting values are ignored rather than trusted.
    bad = fit_garch(y, start=np.array([0.0, -1.0, 0.5, 0.6, 1.0]))
    assert bad.loglikelihood == pytest.approx(cold.loglikelihood, abs=1e-3)


@pytest.mark.parametrize("o", [0, 1])
def test_newton_warm_starts_track_the_cold_optimum(sp500: pd.Series, o: int) -> None:
    # Given a walk-forward sequence of warm fits (SLSQP first, then Newton steps from
    # the previous optimum and curvature)...
    y = sp500.to_numpy()[:1600]
    fit = fit_garch(y[:1589], o=o)
    for t in range(1590, 1601):
        fit = fit_garch(y[:t], o=o, start=fit)
    # ...the last one is the optimum a cold fit finds, to the optimiser's tolerance.
    cold = fit_garch(y, o=o, ftol=1e-14)
    assert fit.loglikelihood == pytest.approx(cold.loglikelihood, abs=1e-5)
    np.testing.assert_allclose(fit.params, cold.params, rtol=1e-3, atol=1e-5)
    if o == 0:
        # An interior optimum: Newton steps, a handful of evaluations.
        assert fit.inv_hessian is not None
        assert fit.iterations <= 6


def test_daily_refit_agrees_with_a_cold_arch_loop(sp500: pd.Series) -> None:
    # Given an expanding window over 1,000 days and 12 daily forecasts of the 99% VaR...
    returns = sp500.iloc[:1012]
    out = rolling_forecasts(GarchTVaR(), returns, n_forecasts=12, levels=(0.99,))
    assert out["refit"].all()
    # ...each agrees with arch fitted from scratch on the same history to 0.1%.
    y = returns.to_numpy()
    for i in (0, 5, 11):
        t = 1000 + i
        ref = arch_fit(y[:t])
        var = ref.forecast(horizon=1, reindex=False).variance.iloc[-1, 0]
        q = ref.model.distribution.ppf(0.01, ref.params[["nu"]].to_numpy())
        naive = -(ref.params["mu"] + np.sqrt(var) * q)
        assert out["var_99"].iloc[i] == pytest.approx(naive, rel=1e-3)


def test_fixed_parameters_between_refits(sp500: pd.Series) -> None:
    returns = sp500.iloc[:900]
    out = RollingBacktest(GarchTVaR(), refit_every=5, levels=(0.95, 0.99)).run(
        returns, n_forecasts=10
    )
    assert out["refit"].tolist() == [True, False, False, False, False] * 2
    # The third forecast uses the parameters fitted for the first, on a longer history.
    model = GarchTVaR().fit(returns.iloc[:890])
    expected = model.forecast(returns.iloc[:892], levels=(0.95, 0.99))
    assert out["var_95"].iloc[2] == pytest.approx(expected.loc[0.95, "var"], rel=1e-9)
    assert out["es_99"].iloc[2] == pytest.approx(expected.loc[0.99, "es"], rel=1e-9)
    assert list(out.columns) == ["ret", "var_95", "es_95", "var_99", "es_99", "refit"]
    assert (out["es_99"] >= out["var_99"]).all()


def test_rolling_window_sees_only_the_last_days() -> None:
    # Given returns whose early days are huge losses; a 50-day window never sees them.
    returns = pd.Series(np.r_[np.full(100, -20.0), np.linspace(-1, 1, 100)])
    out = RollingBacktest(HistoricalVaR(window=1000), window=50, levels=(0.99,)).run(
        returns, start=150
    )
    assert (out["var_99"] <= 1.0).all()
    expanding = RollingBacktest(HistoricalVaR(window=1000), levels=(0.99,)).run(returns, start=150)
    np.testing.assert_allclose(expanding["var_99"], 20.0)
    # Historical VaR is the empirical quantile of the window, forecast by forecast.
    last = returns.iloc[149:199].to_numpy()
    assert out["var_99"].iloc[-1] == pytest.approx(-np.quantile(last, 0.01))


def test_start_by_date_and_bad_ranges(sp500: pd.Series) -> None:
    returns = sp500.iloc[:400]
    day = returns.index[390]
    out = RollingBacktest(HistoricalVaR(), levels=(0.95,)).run(returns, start=day)
    assert out.index[0] == day
    assert len(out) == 10
    with pytest.raises(ValueError, match="n_forecasts"):
        RollingBacktest(HistoricalVaR()).run(returns)
    with pytest.raises(ValueError, match="start"):
        RollingBacktest(HistoricalVaR()).run(returns, n_forecasts=400)


def test_level_tags() -> None:
    assert [level_tag(x) for x in (0.95, 0.99, 0.975)] == ["95", "99", "97.5"]
