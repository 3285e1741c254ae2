"""Variance-forecast evaluation: losses, Diebold–Mariano (HLN), Mincer–Zarnowitz, rolling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from riskops.errors import BadInputError
from riskops.market.evaluation import (
    diebold_mariano,
    mincer_zarnowitz,
    mse,
    qlike,
    qlike_loss,
    rolling_variance_forecasts,
)
from riskops.market.volatility import GarchVolatility, HARVolatility

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)


def test_losses_known_values() -> None:
    realised = np.array([1.0, 4.0, 0.0])
    forecast = np.array([2.0, 4.0, 0.5])
    assert qlike(realised, forecast) == pytest.approx(
        np.mean([np.log(2) + 0.5, np.log(4) + 1.0, np.log(0.5) + 0.0])
    )
    assert mse(realised, forecast) == pytest.approx((1 + 0 + 0.25) / 3)


@given(s=positive, h=positive)
def test_qlike_is_minimised_by_the_true_variance(s: float, h: float) -> None:
    # log h + s/h has its minimum at h = s (the reason QLIKE is a proper loss)
    assert qlike_loss([s], [h])[0] >= qlike_loss([s], [s])[0] - 1e-12


def test_losses_reject_non_positive_forecasts() -> None:
    with pytest.raises(BadInputError):
        qlike([1.0], [0.0])
    with pytest.raises(BadInputError):
        mse([1.0, 2.0], [1.0])


def test_diebold_mariano_hand_calculation() -> None:
    # d = 1..5: mean 3, g0 = 2 (divisor n), DM = 3 / sqrt(2/5) = 4.7434; HLN for h = 1
    # multiplies by sqrt((n - 1)/n) = sqrt(4/5), giving 4.2426; two-sided t(4) p-value.
    from scipy import stats

    result = diebold_mariano(np.arange(1.0, 6.0), np.zeros(5), h=1)
    assert result.stat == pytest.approx(3 / np.sqrt(2 / 5) * np.sqrt(4 / 5))
    assert result.stat == pytest.approx(4.242640687)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(4.242640687, 4))


def test_diebold_mariano_h1_equals_one_sample_t_test() -> None:
    # Harvey, Leybourne and Newbold (1997): with h = 1 the corrected DM statistic is the
    # ordinary t statistic of the loss differential, so scipy's t-test is a reference.
    from scipy import stats

    rng = np.random.default_rng(7)
    a, b = rng.gamma(2.0, size=300), rng.gamma(2.1, size=300)
    reference = stats.ttest_1samp(a - b, 0.0)
    result = diebold_mariano(a, b, h=1)
    assert result.stat == pytest.approx(reference.statistic, rel=1e-10)
    assert result.pvalue == pytest.approx(reference.pvalue, rel=1e-8)


@pytest.mark.parametrize("h", [2, 3, 5])
def test_diebold_mariano_multi_step_matches_statsmodels_hac(h: int) -> None:
    # The DM long-run variance is the truncated (uniform-kernel) HAC variance with h - 1
    # lags; statsmodels' OLS on a constant with that HAC covariance gives the original
    # DM statistic, which HLN then scale by sqrt((n + 1 - 2h + h(h-1)/n) / n).
    import statsmodels.api as sm

    rng = np.random.default_rng(h)
    e = rng.normal(size=401)
    d = 0.15 + e[1:] + 0.6 * e[:-1]  # MA(1): serially correlated like multi-step errors
    n = d.size
    ols = sm.OLS(d, np.ones((n, 1))).fit(
        cov_type="HAC", cov_kwds={"maxlags": h - 1, "kernel": "uniform", "use_correction": False}
    )
    hln = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    result = diebold_mariano(d, np.zeros(n), h=h)
    assert result.stat == pytest.approx(ols.tvalues[0] * hln, rel=1e-10)


@settings(max_examples=50, deadline=None)
@given(
    a=arrays(np.float64, 30, elements=st.floats(0, 100)),
    b=arrays(np.float64, 30, elements=st.floats(0, 100)),
)
def test_diebold_mariano_is_antisymmetric(a: np.ndarray, b: np.ndarray) -> None:
    # A constant non-zero differential has no variance: refused (the test below)
    assume(np.ptp(a - b) > 0 or np.allclose(a - b, 0))
    forward = diebold_mariano(a, b)
    backward = diebold_mariano(b, a)
    assert forward.stat == pytest.approx(-backward.stat, abs=1e-9)
    assert forward.pvalue == pytest.approx(backward.pvalue, abs=1e-9)
    assert 0.0 <= forward.pvalue <= 1.0


def test_diebold_mariano_refuses_a_constant_non_zero_differential() -> None:
    with pytest.raises(BadInputError, match="no variance"):
        diebold_mariano(np.full(30, 2.0), np.ones(30))


def test_diebold_mariano_identical_losses() -> None:
    loss = np.linspace(0.1, 2.0, 50)
    assert diebold_mariano(loss, loss) == (0.0, 1.0)


def test_diebold_mariano_detects_a_better_forecast() -> None:
    # Given squared returns of a known variance path, the true variance beats a constant
    rng = np.random.default_rng(11)
    variance = np.exp(rng.normal(0, 0.8, 1000))
    realised = variance * rng.chisquare(1, 1000)
    constant = np.full(1000, realised.mean())
    result = diebold_mariano(qlike_loss(realised, variance), qlike_loss(realised, constant))
    assert result.stat < -3
    assert result.pvalue < 0.01


@pytest.mark.parametrize("cov_type", ["HC0", "classic"])
def test_mincer_zarnowitz_matches_statsmodels(cov_type: str) -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    forecast = np.exp(rng.normal(0, 0.5, 400))
    realised = (0.1 + 0.8 * forecast) * rng.chisquare(1, 400)
    X = sm.add_constant(forecast)
    fitted = sm.OLS(realised, X).fit(cov_type="nonrobust" if cov_type == "classic" else cov_type)
    reference = fitted.f_test((np.eye(2), np.array([0.0, 1.0])))
    result = mincer_zarnowitz(realised, forecast, cov_type=cov_type)
    assert_allclose([result.alpha, result.beta], fitted.params, rtol=1e-10)
    assert result.r2 == pytest.approx(fitted.rsquared, rel=1e-10)
    assert result.pvalue == pytest.approx(float(reference.pvalue), rel=1e-8)


def test_mincer_zarnowitz_of_a_perfect_forecast() -> None:
    forecast = np.linspace(0.5, 3.0, 40)
    result = mincer_zarnowitz(forecast, forecast)
    assert result.alpha == pytest.approx(0.0, abs=1e-10)
    assert result.beta == pytest.approx(1.0)
    assert result.r2 == pytest.approx(1.0)


@pytest.fixture(scope="module")
def simulated_returns() -> pd.Series:
    sim = GarchVolatility().simulate(900, params=[0.05, 0.05, 0.1, 0.85], random_state=5)
    return pd.Series(sim["data"].to_numpy(), index=pd.bdate_range("2015-01-01", periods=900))


def test_rolling_forecasts_keep_parameters_fixed_between_refits(
    simulated_returns: pd.Series,
) -> None:
    # Given one block that covers the whole window
    out = rolling_variance_forecasts(
        GarchVolatility(), simulated_returns, start=700, refit_every=500
    )
    # Then the forecasts are those of a single fit on the first 700 days
    single = GarchVolatility().fit(simulated_returns.iloc[:700])
    path = single.variance_path(simulated_returns.iloc[:-1])
    assert_allclose(out["forecast"].to_numpy(), path.to_numpy()[699:], rtol=1e-10)
    assert_allclose(out["realised"].to_numpy(), simulated_returns.iloc[700:] ** 2)
    assert (out["fitted_through"] == simulated_returns.index[699]).all()
    assert out.index[0] == simulated_returns.index[700]


def test_rolling_forecasts_never_look_ahead(simulated_returns: pd.Series) -> None:
    # Given a shock inserted on day 820
    shocked = simulated_returns.copy()
    shocked.iloc[820] = 15.0
    spec = HARVolatility(regressor="linear")
    base = rolling_variance_forecasts(spec, simulated_returns, start=760, refit_every=40)
    moved = rolling_variance_forecasts(spec, shocked, start=760, refit_every=40)
    # Then forecasts up to and including day 820 are unchanged, and day 821 reacts
    assert_allclose(base["forecast"].iloc[:61], moved["forecast"].iloc[:61])
    assert moved["forecast"].iloc[61] > base["forecast"].iloc[61]
    # and refits happen every 40 days
    assert base["fitted_through"].nunique() == 4


def test_rolling_forecasts_with_dates_and_warm_start(simulated_returns: pd.Series) -> None:
    start, end = simulated_returns.index[800], simulated_returns.index[859]
    out = rolling_variance_forecasts(
        GarchVolatility(o=1), simulated_returns, start=start, end=end, refit_every=30
    )
    assert len(out) == 60
    assert out.index[0] == start
    assert out.index[-1] == end
    cold = rolling_variance_forecasts(
        GarchVolatility(o=1),
        simulated_returns,
        start=start,
        end=end,
        refit_every=30,
        warm_start=False,
    )
    assert_allclose(out["forecast"], cold["forecast"], rtol=1e-3)
    with pytest.raises(BadInputError):
        rolling_variance_forecasts(GarchVolatility(), simulated_returns, start=0)
