"""Diebold-Mariano with Newey-West errors, HAC regressions and the Mincer-Zarnowitz test.

Known values: hand computations of the Newey-West (1987) Bartlett-kernel variance, and
statsmodels' HAC covariance (``cov_type="HAC", use_correction=False``), itself checked
against Newey and West's formula; the lag rule of Newey and West (1994).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from riskops.stats.forecast_comparison import (
    diebold_mariano,
    long_run_variance,
    mincer_zarnowitz_test,
    newey_west_lags,
    ols_hac,
    wald_test,
)


@pytest.mark.parametrize(("n", "lags"), [(100, 4), (250, 4), (500, 5), (1000, 6)])
def test_newey_west_lag_rule(n: int, lags: int) -> None:
    # Newey and West (1994): floor(4 (n / 100)^(2/9)); 4 * 10^(2/9) = 6.67 at n = 1,000
    assert newey_west_lags(n) == lags


def test_diebold_mariano_newey_west_by_hand() -> None:
    # d = 1..5, one lag: mean 3; centred -2..2, g0 = 10/5 = 2, g1 = (2 + 0 + 0 + 2)/5 = 0.8;
    # Bartlett weight 1 - 1/2: V = 2 + 2 * 0.5 * 0.8 = 2.8; DM = 3 / sqrt(2.8 / 5) = 4.00892
    result = diebold_mariano(np.arange(1.0, 6.0), np.zeros(5), lags=1)
    assert result.long_run_variance == pytest.approx(2.8)
    assert result.statistic == pytest.approx(3 / np.sqrt(2.8 / 5))
    assert result.statistic == pytest.approx(4.008919, rel=1e-6)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(4.008919, 4), rel=1e-5)
    one_sided = diebold_mariano(np.arange(1.0, 6.0), np.zeros(5), lags=1, alternative="greater")
    assert one_sided.pvalue == pytest.approx(result.pvalue / 2, rel=1e-9)


@pytest.mark.parametrize("lags", [0, 3, 8])
def test_diebold_mariano_matches_a_constant_regression_with_statsmodels_hac(lags: int) -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(lags)
    e = rng.normal(size=601)
    d = 0.1 + e[1:] + 0.5 * e[:-1]
    fitted = sm.OLS(d, np.ones((d.size, 1))).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}
    )
    result = diebold_mariano(d, np.zeros(d.size), lags=lags)
    assert result.statistic == pytest.approx(float(fitted.tvalues[0]), rel=1e-10)
    assert long_run_variance(d, lags) / d.size == pytest.approx(float(fitted.bse[0]) ** 2)


@settings(max_examples=40, deadline=None)
@given(
    a=arrays(np.float64, 40, elements=st.floats(0, 10)),
    b=arrays(np.float64, 40, elements=st.floats(0, 10)),
)
def test_diebold_mariano_is_antisymmetric_and_a_probability(a: np.ndarray, b: np.ndarray) -> None:
    forward, backward = diebold_mariano(a, b), diebold_mariano(b, a)
    assert forward.statistic == pytest.approx(-backward.statistic, abs=1e-9)
    assert 0.0 <= forward.pvalue <= 1.0
    less = diebold_mariano(a, b, alternative="less").pvalue
    greater = diebold_mariano(a, b, alternative="greater").pvalue
    if np.isfinite(forward.statistic):
        assert less + greater == pytest.approx(1.0)


def test_ols_hac_and_wald_match_statsmodels() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    x = np.exp(rng.normal(0, 0.5, 500))
    y = x * rng.standard_t(6, 500) ** 2 * (4 / 6)
    X = sm.add_constant(x)
    fitted = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": 5, "use_correction": False})
    ours = ols_hac(y, X, lags=5)
    np.testing.assert_allclose(ours.coef, fitted.params, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ours.cov), fitted.cov_params(), rtol=1e-8)
    reference = fitted.wald_test((np.eye(2), np.array([0.0, 1.0])), use_f=False, scalar=True)
    ours_wald = wald_test(ours.coef, ours.cov, np.eye(2), [0.0, 1.0])
    assert ours_wald.statistic == pytest.approx(float(reference.statistic), rel=1e-8)
    assert ours_wald.pvalue == pytest.approx(float(reference.pvalue), rel=1e-6)


def test_mincer_zarnowitz_test_wald_is_the_hac_wald_and_the_p_value_its_bootstrap() -> None:
    rng = np.random.default_rng(1)
    h = np.exp(rng.normal(0, 0.5, 500))
    s = h * rng.standard_t(6, 500) ** 2 * (4 / 6)
    result = mincer_zarnowitz_test(s, h, lags=5, bootstraps=199, seed=3)
    fit = ols_hac(s, np.column_stack([np.ones(500), h]), lags=5)
    assert result.wald == pytest.approx(wald_test(fit.coef, fit.cov, np.eye(2), [0, 1]).statistic)
    assert result.pvalue_asymptotic == pytest.approx(stats.chi2.sf(result.wald, 2))
    # A p-value of a Monte Carlo test: a multiple of 1 / (B + 1), same seed same value
    assert (result.pvalue * 200) == pytest.approx(round(result.pvalue * 200))
    assert mincer_zarnowitz_test(s, h, lags=5, bootstraps=199, seed=3) == result


def test_the_true_variance_passes_and_a_forecast_off_by_two_is_refused() -> None:
    # Given 1,000 days of GARCH(1,1)-t(6) returns
    rng = np.random.default_rng(11)
    z = rng.standard_t(6, 1000) / np.sqrt(6 / 4)
    var, true, r = 1.0, np.empty(1000), np.empty(1000)
    for t in range(1000):
        true[t] = var
        r[t] = np.sqrt(var) * z[t]
        var = 0.02 + 0.08 * r[t] ** 2 + 0.9 * var
    # Then the true variance is not refused at 1%, twice or half the variance is
    assert mincer_zarnowitz_test(r**2, true).pvalue >= 0.01
    assert mincer_zarnowitz_test(r**2, 2 * true).pvalue < 0.01
    assert mincer_zarnowitz_test(r**2, 0.5 * true).pvalue < 0.01
