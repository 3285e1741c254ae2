"""Comparing forecasts: Newey-West long-run variances, Diebold-Mariano, HAC regressions.

* :func:`newey_west_lags` -- the automatic lag rule of Newey and West (1994).
* :func:`long_run_variance` -- the Bartlett-kernel (Newey-West, 1987) long-run variance.
* :func:`diebold_mariano` -- equal expected loss of two forecasts (Diebold and Mariano,
  1995), the loss differential's mean over its Newey-West standard error, one- or
  two-sided.
* :func:`ols_hac` / :func:`wald_test` -- least squares with a heteroskedasticity and
  autocorrelation consistent covariance (Newey and West, 1987) and the Wald test of
  linear restrictions.
* :func:`mincer_zarnowitz_test` -- the joint test of intercept 0 and slope 1 of a
  variance forecast's Mincer-Zarnowitz regression, HAC Wald statistic with a bootstrap
  p-value under the forecast itself (below).

Squared returns are a very noisy, heavy-tailed proxy of the variance: the slope of the
Mincer-Zarnowitz regression of the squared return on the true variance falls outside
[0.5, 1.5] in about one 500-day window in nine under Student-t(6) shocks, and the
asymptotic chi-squared(2) of the Wald statistic is not reached at these sizes.
Under the hypothesis that ``h_t`` is the conditional variance, ``s_t = h_t e_t`` with
``e_t`` i.i.d. of mean one; :func:`mincer_zarnowitz_test` draws ``e*`` from the observed
``s_t / h_t`` (rescaled to mean one), rebuilds ``s* = h e*`` and compares the observed
Wald statistic with its bootstrap distribution. The p-value then holds whatever the
shocks' tails (measured: ``bench/bench_gates.py``).

References
----------
Diebold, F. X. and Mariano, R. S. (1995), Comparing predictive accuracy, Journal of
Business and Economic Statistics 13(3), 253-263.
Newey, W. K. and West, K. D. (1987), A simple, positive semi-definite,
heteroskedasticity and autocorrelation consistent covariance matrix, Econometrica 55(3).
Newey, W. K. and West, K. D. (1994), Automatic lag selection in covariance matrix
estimation, Review of Economic Studies 61(4).
Mincer, J. and Zarnowitz, V. (1969), The evaluation of economic forecasts.
Patton, A. J. (2011), Volatility forecast comparison using imperfect volatility proxies,
Journal of Econometrics 160(1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from riskops.stats._result import Result

__all__ = [
    "DieboldMarianoResult",
    "MincerZarnowitzResult",
    "OLSResult",
    "WaldResult",
    "diebold_mariano",
    "long_run_variance",
    "mincer_zarnowitz_test",
    "newey_west_lags",
    "ols_hac",
    "wald_test",
]

Alternative = Literal["two-sided", "less", "greater"]


def newey_west_lags(n: int) -> int:
    """``floor(4 (n / 100)^(2/9))``, Newey and West's (1994) rule for the Bartlett kernel."""
    return math.floor(4.0 * (max(int(n), 1) / 100.0) ** (2.0 / 9.0))


def _autocovariances(x: np.ndarray, lags: int) -> np.ndarray:
    centred = x - x.mean()
    n = centred.size
    return np.array([centred[k:] @ centred[: n - k] / n for k in range(lags + 1)])


def long_run_variance(x: Any, lags: int | None = None) -> float:
    """Newey-West (1987) long-run variance: ``g_0 + 2 sum_k (1 - k / (L + 1)) g_k``.

    Autocovariances ``g_k`` are divided by ``n`` (not ``n - k``), which keeps the estimate
    non-negative. ``lags`` defaults to :func:`newey_west_lags`.
    """
    values = np.asarray(x, dtype=float).ravel()
    if values.size < 2:
        raise ValueError("a long-run variance needs at least two values")
    lags = newey_west_lags(values.size) if lags is None else int(lags)
    lags = max(0, min(lags, values.size - 1))
    gamma = _autocovariances(values, lags)
    weights = 1.0 - np.arange(1, lags + 1) / (lags + 1)
    return float(gamma[0] + 2.0 * (weights * gamma[1:]).sum())


@dataclass(frozen=True)
class DieboldMarianoResult(Result):
    """Diebold-Mariano test of equal expected loss.

    ``statistic`` is ``mean(d) / sqrt(V / n)`` with ``d = loss_a - loss_b`` and ``V`` the
    Newey-West long-run variance of ``d``; negative when forecast A has the lower loss.
    ``pvalue`` is from Student's t with ``n - 1`` degrees of freedom (Harvey, Leybourne
    and Newbold, 1997), for ``alternative``: ``"less"`` is H1 "A has a lower expected
    loss than B", ``"greater"`` H1 "A has a higher expected loss".
    """

    statistic: float
    pvalue: float
    alternative: str
    mean_difference: float
    long_run_variance: float
    lags: int
    n: int


def diebold_mariano(
    loss_a: Any,
    loss_b: Any,
    *,
    lags: int | None = None,
    alternative: Alternative = "two-sided",
) -> DieboldMarianoResult:
    """Diebold and Mariano's (1995) test with Newey-West standard errors.

    Parameters
    ----------
    loss_a, loss_b
        Per-period losses of two forecasts of the same target, same periods.
    lags
        Newey-West lags; default :func:`newey_west_lags` of ``n``.
    alternative
        ``"two-sided"``, ``"less"`` (A better) or ``"greater"`` (A worse).

    Returns
    -------
    DieboldMarianoResult
        Identical losses give a statistic of 0 and a p-value of 1 (two-sided) or 0.5.
    """
    a = np.asarray(loss_a, dtype=float).ravel()
    b = np.asarray(loss_b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"loss series differ in length: {a.shape} vs {b.shape}")
    if a.size < 3:
        raise ValueError("the Diebold-Mariano test needs at least three periods")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("losses must be finite")
    d = a - b
    n = d.size
    lags = newey_west_lags(n) if lags is None else int(lags)
    variance = long_run_variance(d, lags)
    mean = float(d.mean())
    if variance <= 0.0 or not math.isfinite(variance):
        statistic = 0.0 if np.allclose(d, d[0]) and mean == 0.0 else math.copysign(math.inf, mean)
    else:
        statistic = mean / math.sqrt(variance / n)
    t = stats.t(df=n - 1)
    if alternative == "two-sided":
        pvalue = float(2.0 * t.sf(abs(statistic)))
    elif alternative == "less":
        pvalue = float(t.cdf(statistic))
    elif alternative == "greater":
        pvalue = float(t.sf(statistic))
    else:
        raise ValueError(f"alternative must be two-sided, less or greater, not {alternative!r}")
    return DieboldMarianoResult(
        statistic=float(statistic),
        pvalue=min(pvalue, 1.0),
        alternative=alternative,
        mean_difference=mean,
        long_run_variance=variance,
        lags=lags,
        n=n,
    )


@dataclass(frozen=True)
class OLSResult(Result):
    """Least squares with a HAC covariance; ``cov`` is ``(k, k)``, ``coef`` ``(k,)``."""

    coef: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    lags: int
    n: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(np.asarray(self.cov)))


def _hac_meat(X: np.ndarray, u: np.ndarray, lags: int) -> np.ndarray:
    scores = X * u[:, None]
    meat = scores.T @ scores
    for k in range(1, lags + 1):
        weight = 1.0 - k / (lags + 1)
        gamma = scores[k:].T @ scores[:-k]
        meat += weight * (gamma + gamma.T)
    return meat


def ols_hac(y: Any, X: Any, *, lags: int | None = None) -> OLSResult:
    """OLS of ``y`` on ``X`` with the Newey-West (1987) HAC covariance (Bartlett kernel).

    The covariance is ``(X'X)^-1 S (X'X)^-1`` with ``S`` the kernel-weighted sum of the
    score autocovariances, without small-sample correction (statsmodels'
    ``cov_type="HAC", use_correction=False``). ``lags=0`` gives White's HC0.
    """
    yv = np.asarray(y, dtype=float).ravel()
    Xm = np.asarray(X, dtype=float)
    if Xm.ndim == 1:
        Xm = Xm[:, None]
    if Xm.shape[0] != yv.size:
        raise ValueError(f"y has {yv.size} rows and X {Xm.shape[0]}")
    n = yv.size
    lags = newey_west_lags(n) if lags is None else int(lags)
    bread = np.linalg.pinv(Xm.T @ Xm)
    coef = bread @ Xm.T @ yv
    resid = yv - Xm @ coef
    cov = bread @ _hac_meat(Xm, resid, lags) @ bread
    return OLSResult(
        coef=tuple(float(c) for c in coef),
        cov=tuple(tuple(float(v) for v in row) for row in cov),
        lags=lags,
        n=n,
    )


@dataclass(frozen=True)
class WaldResult(Result):
    """Wald test of ``R b = r``: ``statistic`` is chi-squared(``df``) asymptotically."""

    statistic: float
    df: int
    pvalue: float


def wald_test(coef: Any, cov: Any, R: Any, r: Any) -> WaldResult:
    """``(R b - r)' (R V R')^-1 (R b - r)`` against chi-squared with ``rank(R)`` df."""
    b = np.asarray(coef, dtype=float)
    V = np.asarray(cov, dtype=float)
    Rm = np.atleast_2d(np.asarray(R, dtype=float))
    gap = Rm @ b - np.asarray(r, dtype=float).ravel()
    middle = np.linalg.pinv(Rm @ V @ Rm.T)
    statistic = float(gap @ middle @ gap)
    df = int(np.linalg.matrix_rank(Rm))
    return WaldResult(statistic, df, float(stats.chi2.sf(statistic, df)))


@dataclass(frozen=True)
class MincerZarnowitzResult(Result):
    """Mincer-Zarnowitz regression ``realised = alpha + beta forecast`` and its joint test.

    ``wald`` is the HAC Wald statistic of ``alpha = 0, beta = 1``; ``pvalue_asymptotic``
    its chi-squared(2) p-value (reported); ``pvalue`` the bootstrap p-value under the
    forecast (gated; ``(1 + #{W* >= W}) / (B + 1)``).
    """

    alpha: float
    beta: float
    se_alpha: float
    se_beta: float
    wald: float
    pvalue_asymptotic: float
    pvalue: float
    lags: int
    n: int
    bootstraps: int
    seed: int


def _mz_wald_columns(h: np.ndarray, S: np.ndarray, lags: int) -> np.ndarray:
    """HAC Wald statistic of ``alpha = 0, beta = 1`` for each column of ``S`` on ``h``."""
    n = h.size
    X = np.column_stack([np.ones(n), h])
    bread = np.linalg.inv(X.T @ X)
    coef = bread @ X.T @ S  # (2, B)
    U = S - X @ coef  # (n, B)
    # Meat entries for a constant and h: sums of u_t u_{t-k} times 1, h_t, h_{t-k}, h_t h_{t-k}.
    m00 = np.sum(U * U, axis=0)
    m01 = np.sum(U * U * h[:, None], axis=0)
    m11 = np.sum(U * U * (h * h)[:, None], axis=0)
    m10 = m01.copy()
    for k in range(1, lags + 1):
        w = 1.0 - k / (lags + 1)
        cross = U[k:] * U[:-k]
        now, before = h[k:, None], h[:-k, None]
        c00 = cross.sum(axis=0)
        c01 = (cross * before).sum(axis=0)  # x_t[0] x_{t-k}[1]
        c10 = (cross * now).sum(axis=0)  # x_t[1] x_{t-k}[0]
        c11 = (cross * now * before).sum(axis=0)
        m00 += w * 2 * c00
        m11 += w * 2 * c11
        m01 += w * (c01 + c10)
        m10 += w * (c10 + c01)
    gap0 = coef[0]
    gap1 = coef[1] - 1.0
    # V = bread M bread for each column; W = g' V^-1 g = (bread^-1 g)' M^-1 (bread^-1 g).
    inv_bread = X.T @ X
    v0 = inv_bread[0, 0] * gap0 + inv_bread[0, 1] * gap1
    v1 = inv_bread[1, 0] * gap0 + inv_bread[1, 1] * gap1
    det = m00 * m11 - m01 * m10
    safe = np.where(np.abs(det) > 0, det, np.nan)
    wald = (m11 * v0 * v0 - (m01 + m10) * v0 * v1 + m00 * v1 * v1) / safe
    return np.where(np.isfinite(wald), wald, np.inf)


def mincer_zarnowitz_test(
    realised: Any,
    forecast: Any,
    *,
    lags: int | None = None,
    bootstraps: int = 999,
    seed: int = 0,
) -> MincerZarnowitzResult:
    """Joint test that a variance forecast is unbiased with slope one (see the module).

    Parameters
    ----------
    realised
        The non-negative variance proxy (squared returns).
    forecast
        Positive variance forecasts, same periods.
    lags
        Newey-West lags of the HAC covariance; default :func:`newey_west_lags`.
    bootstraps, seed
        Bootstrap replications of the null distribution and their seed.
    """
    s = np.asarray(realised, dtype=float).ravel()
    h = np.asarray(forecast, dtype=float).ravel()
    if s.shape != h.shape or s.size < 10:
        raise ValueError("realised and forecast must have the same length, at least 10")
    if not (np.isfinite(s).all() and np.isfinite(h).all()) or (h <= 0).any() or (s < 0).any():
        raise ValueError("forecasts must be positive and realised values non-negative, finite")
    n = s.size
    lags = newey_west_lags(n) if lags is None else int(lags)
    fit = ols_hac(s, np.column_stack([np.ones(n), h]), lags=lags)
    observed = float(_mz_wald_columns(h, s[:, None], lags)[0])
    ratio = s / h
    shocks = ratio / ratio.mean() if ratio.mean() > 0 else np.ones(n)
    rng = np.random.default_rng([int(seed), n])
    exceed = 0
    done = 0
    for size in [min(250, bootstraps - start) for start in range(0, bootstraps, 250)]:
        draws = shocks[rng.integers(0, n, size=(n, size))]
        null = _mz_wald_columns(h, h[:, None] * draws, lags)
        exceed += int(np.sum(null >= observed - 1e-12))
        done += size
    se = fit.se
    return MincerZarnowitzResult(
        alpha=fit.coef[0],
        beta=fit.coef[1],
        se_alpha=float(se[0]),
        se_beta=float(se[1]),
        wald=observed,
        pvalue_asymptotic=float(stats.chi2.sf(observed, 2)),
        pvalue=float((1 + exceed) / (done + 1)),
        lags=lags,
        n=n,
        bootstraps=int(bootstraps),
        seed=int(seed),
    )
