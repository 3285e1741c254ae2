"""Out-of-sample evaluation of variance forecasts: losses, Diebold–Mariano, Mincer–Zarnowitz.

Forecasts ``h`` and the realised proxy ``s`` (e.g. the squared return) are variances in
percent². Both loss functions are robust in the sense of Patton (2011): with an
unbiased but noisy proxy they rank forecasts as the true variance would.

References
----------
Diebold, F. X. and Mariano, R. S. (1995), Comparing predictive accuracy, JBES 13(3).
Harvey, D., Leybourne, S. and Newbold, P. (1997), Testing the equality of prediction
mean squared errors, IJF 13(2).
Mincer, J. and Zarnowitz, V. (1969), The evaluation of economic forecasts.
Patton, A. J. (2011), Volatility forecast comparison using imperfect volatility proxies,
Journal of Econometrics 160(1).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from riskops.errors import BadInputError

__all__ = [
    "BENCHMARK",
    "VARIANCE_METRICS",
    "DieboldMarianoResult",
    "MincerZarnowitzResult",
    "compare_variance_forecasts",
    "diebold_mariano",
    "mincer_zarnowitz",
    "mse",
    "mse_loss",
    "qlike",
    "qlike_loss",
    "rolling_variance_forecasts",
]


def _pair(realised: Any, forecast: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(realised, dtype=float).ravel()
    h = np.asarray(forecast, dtype=float).ravel()
    if s.shape != h.shape or s.size == 0:
        raise BadInputError(f"realised {s.shape} and forecast {h.shape} must be equal, non-empty")
    if not (np.isfinite(s).all() and np.isfinite(h).all()):
        raise BadInputError("realised and forecast must be finite")
    if (h <= 0).any():
        raise BadInputError("variance forecasts must be positive")
    if (s < 0).any():
        raise BadInputError("realised variances must be non-negative")
    return s, h


def qlike_loss(realised: Any, forecast: Any) -> np.ndarray:
    """QLIKE loss of each forecast, ``log h + s / h`` (Patton 2011).

    It is the negative Gaussian log-likelihood up to constants. Patton's normalised
    form ``s/h - log(s/h) - 1`` differs only by ``log s - 1``, which does not depend on
    the forecast (so comparisons and tests are unchanged) but is undefined on days
    with a zero return; this form is finite for every non-negative proxy.
    """
    s, h = _pair(realised, forecast)
    return np.log(h) + s / h


def qlike(realised: Any, forecast: Any) -> float:
    """Mean QLIKE loss (lower is better)."""
    return float(qlike_loss(realised, forecast).mean())


def mse_loss(realised: Any, forecast: Any) -> np.ndarray:
    """Squared error of each variance forecast, ``(s - h)²``."""
    s, h = _pair(realised, forecast)
    return (s - h) ** 2


def mse(realised: Any, forecast: Any) -> float:
    """Mean squared error of the variance forecasts (lower is better)."""
    return float(mse_loss(realised, forecast).mean())


class DieboldMarianoResult(NamedTuple):
    """``stat`` < 0 means the first forecast has the lower expected loss."""

    stat: float
    pvalue: float


def diebold_mariano(loss_a: Any, loss_b: Any, h: int = 1) -> DieboldMarianoResult:
    """Diebold–Mariano test of equal expected loss, with the HLN small-sample correction.

    With ``d_t = loss_a_t - loss_b_t``, the statistic is ``mean(d) / sqrt(V / n)`` where
    ``V = g_0 + 2 sum_{k<h} g_k`` is the long-run variance from the first ``h - 1``
    autocovariances (truncated kernel; the Bartlett kernel if that is not positive).
    Harvey, Leybourne and Newbold (1997) multiply it by
    ``sqrt((n + 1 - 2h + h(h - 1)/n) / n)`` and compare with Student's t, ``n - 1``
    degrees of freedom; the p-value is two-sided. For ``h = 1`` this equals the
    one-sample t-test of ``mean(d) = 0``.

    Parameters
    ----------
    loss_a, loss_b : array-like
        Per-period losses of two forecasts of the same target.
    h : int
        Forecast horizon.

    Returns
    -------
    DieboldMarianoResult
        ``(stat, pvalue)``; ``(0.0, 1.0)`` when the losses are identical.
    """
    a = np.asarray(loss_a, dtype=float).ravel()
    b = np.asarray(loss_b, dtype=float).ravel()
    if a.shape != b.shape:
        raise BadInputError(f"loss series differ in length: {a.shape} vs {b.shape}")
    h = int(h)
    n = a.size
    if h < 1 or n < h + 2:
        raise BadInputError(f"need a horizon >= 1 and more than h + 1 losses (n={n}, h={h})")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise BadInputError("losses must be finite")
    d = a - b
    d_bar = d.mean()
    centred = d - d_bar
    gamma = np.array([centred[k:] @ centred[: n - k] / n for k in range(h)])
    variance = gamma[0] + 2 * gamma[1:].sum()
    if variance <= 0 and h > 1:
        weights = 1 - np.arange(1, h) / h
        variance = gamma[0] + 2 * (weights * gamma[1:]).sum()
    if variance <= 0 or not np.isfinite(variance):
        if np.allclose(d, 0):
            return DieboldMarianoResult(0.0, 1.0)
        raise BadInputError("the loss differential has no variance")
    dm = d_bar / np.sqrt(variance / n)
    correction = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = float(dm * correction)
    pvalue = float(2 * stats.t.sf(abs(stat), df=n - 1))
    return DieboldMarianoResult(stat, pvalue)


class MincerZarnowitzResult(NamedTuple):
    """OLS ``realised = alpha + beta * forecast``; ``pvalue`` of ``alpha = 0, beta = 1``."""

    alpha: float
    beta: float
    r2: float
    pvalue: float


def mincer_zarnowitz(realised: Any, forecast: Any, cov_type: str = "HC0") -> MincerZarnowitzResult:
    """Mincer–Zarnowitz regression of the realised proxy on the forecast.

    An unbiased, efficient forecast has ``alpha = 0`` and ``beta = 1``; the joint Wald
    test is reported as statsmodels' ``f_test`` does, ``F = W / 2`` on ``(2, n - 2)``
    degrees of freedom.

    Parameters
    ----------
    realised, forecast : array-like
    cov_type : {"HC0", "classic"}
        White's heteroskedasticity-robust covariance (the default: squared returns are
        strongly heteroskedastic) or the classical OLS one.
    """
    s, f = _pair(realised, forecast)
    n = s.size
    if n < 3:
        raise BadInputError("Mincer–Zarnowitz needs at least 3 observations")
    X = np.column_stack([np.ones(n), f])
    xtx_inv = np.linalg.pinv(X.T @ X)
    coef = xtx_inv @ X.T @ s
    resid = s - X @ coef
    tss = ((s - s.mean()) ** 2).sum()
    r2 = float(1 - (resid @ resid) / tss) if tss > 0 else float("nan")
    if cov_type == "classic":
        cov = xtx_inv * (resid @ resid) / (n - 2)
    elif cov_type == "HC0":
        meat = (X * resid[:, None] ** 2).T @ X
        cov = xtx_inv @ meat @ xtx_inv
    else:
        raise BadInputError(f"cov_type must be HC0 or classic, got {cov_type!r}")
    gap = coef - np.array([0.0, 1.0])
    wald = float(gap @ np.linalg.pinv(cov) @ gap)
    pvalue = float(stats.f.sf(wald / 2, 2, n - 2))
    return MincerZarnowitzResult(float(coef[0]), float(coef[1]), r2, pvalue)


def rolling_variance_forecasts(
    estimator: Any,
    returns: pd.Series,
    start: int | str | pd.Timestamp,
    refit_every: int = 20,
    end: int | str | pd.Timestamp | None = None,
    y: pd.Series | None = None,
    realised: pd.Series | None = None,
    warm_start: bool = True,
) -> pd.DataFrame:
    """Rolling one-step out-of-sample variance forecasts with periodic refits.

    From ``start`` on, a clone of ``estimator`` is fitted on all returns before the
    block (an expanding window) every ``refit_every`` days, and its parameters are kept
    fixed within the block: day ``t``'s forecast uses the returns up to ``t - 1``.

    Parameters
    ----------
    estimator
        Unfitted or fitted; only its specification (``sklearn.base.clone``) is used.
        It needs ``fit(returns, y)`` and ``variance_path(returns)`` (or ``predict``).
    returns : pandas.Series
        Percent returns, indexed by date.
    start, end
        First and last forecast day, as a position or a date (``end`` inclusive,
        default: the last day).
    refit_every : int
        Days between refits.
    y : pandas.Series, optional
        Training target passed to ``fit`` (e.g. a range-based proxy); aligned with
        ``returns``.
    realised : pandas.Series, optional
        The proxy the forecasts are judged against; default the squared return.
    warm_start : bool
        Start each refit from the previous estimates when the estimator takes
        ``starting_values`` (GARCH models): same optimum, fewer iterations.

    Returns
    -------
    pandas.DataFrame
        Indexed by forecast day: ``forecast``, ``realised`` and ``fitted_through``
        (the last training day of the parameters used).
    """
    returns = pd.Series(returns, dtype=float).dropna()
    n = len(returns)
    first = _position(returns.index, start)
    last = n - 1 if end is None else _position(returns.index, end, inclusive_end=True)
    if not 1 <= first <= last < n:
        raise BadInputError(f"bad evaluation window: start={start!r}, end={end!r} for {n} days")
    if int(refit_every) < 1:
        raise BadInputError("refit_every must be at least 1")
    proxy = returns**2 if realised is None else pd.Series(realised).reindex(returns.index)
    forecasts = np.empty(last - first + 1)
    fitted_through = []
    previous = None
    for block_start in range(first, last + 1, int(refit_every)):
        block_end = min(block_start + int(refit_every), last + 1)
        model = clone(estimator)
        if warm_start and previous is not None and "starting_values" in model.get_params():
            model.set_params(starting_values=np.asarray(previous, dtype=float))
        train = returns.iloc[:block_start]
        train_y = None if y is None else y.iloc[:block_start]
        model.fit(train, train_y)
        previous = getattr(model, "params_", None)
        # Row t of the path forecasts day t + 1, from the returns up to t.
        history = returns.iloc[: block_end - 1]
        path = _path(model, history)
        forecasts[block_start - first : block_end - first] = path[block_start - 1 : block_end - 1]
        fitted_through += [returns.index[block_start - 1]] * (block_end - block_start)
    window = returns.index[first : last + 1]
    return pd.DataFrame(
        {
            "forecast": forecasts,
            "realised": proxy.iloc[first : last + 1].to_numpy(),
            "fitted_through": fitted_through,
        },
        index=window,
    )


def _path(model: Any, history: pd.Series) -> np.ndarray:
    if hasattr(model, "variance_path"):
        return np.asarray(model.variance_path(history), dtype=float)
    return np.asarray(model.predict(history.rename("ret").to_frame()), dtype=float)


def _position(index: pd.Index, when: int | str | pd.Timestamp, inclusive_end: bool = False) -> int:
    """Position of a day: the first day on or after ``when``, or for an end, the last
    day on or before it."""
    if isinstance(when, (int, np.integer)):
        return int(when) if when >= 0 else len(index) + int(when)
    if inclusive_end:
        return int(index.searchsorted(pd.Timestamp(when), side="right")) - 1
    return int(index.searchsorted(pd.Timestamp(when)))


BENCHMARK = {
    "model": "garch",
    "mean": "Constant",
    "vol": "GARCH",
    "p": 1,
    "o": 0,
    "q": 1,
    "dist": "normal",
}
"""The volatility family's benchmark (GARCH(1,1), normal innovations): its gate compares a
challenger's forecasts with it, the live record its QLIKE with the champion's."""

VARIANCE_METRICS = (
    "qlike",
    "mse",
    "qlike_benchmark",
    "mse_benchmark",
    "dm_stat",
    "dm_pvalue",
    "mz_alpha",
    "mz_beta",
    "mz_r2",
    "mz_pvalue",
    "mz_wald",
    "mz_se_beta",
    "mz_joint_pvalue",
    "mz_joint_pvalue_asymptotic",
    "n_eval",
)
"""The volatility family's metric names, as :func:`compare_variance_forecasts` returns them."""


def compare_variance_forecasts(
    forecasts: pd.DataFrame, benchmark: pd.DataFrame
) -> dict[str, float]:
    """The volatility family's metrics (:data:`VARIANCE_METRICS`) of ``forecasts`` against
    ``benchmark`` on the same days: QLIKE and MSE of both, the Diebold-Mariano test of equal
    QLIKE, the Mincer-Zarnowitz regression and its joint test.

    ``forecasts`` has ``forecast`` and ``realised`` columns (percent²), ``benchmark`` a
    ``forecast`` column on the same index. The promotion evidence and the live record
    (:mod:`riskops.market.live_backtest`) both call this function.
    """
    if not forecasts.index.equals(benchmark.index):
        raise BadInputError("forecasts and benchmark cover different days")
    realised = forecasts["realised"].to_numpy()
    model_q = qlike_loss(realised, forecasts["forecast"])
    bench_q = qlike_loss(realised, benchmark["forecast"])
    model_se = mse_loss(realised, forecasts["forecast"])
    bench_se = mse_loss(realised, benchmark["forecast"])
    dm = diebold_mariano(model_q, bench_q, h=1)
    mz = mincer_zarnowitz(realised, forecasts["forecast"])
    from riskops.stats.forecast_comparison import mincer_zarnowitz_test

    joint = mincer_zarnowitz_test(realised, forecasts["forecast"].to_numpy(), seed=0)
    return {
        "qlike": float(model_q.mean()),
        "mse": float(model_se.mean()),
        "qlike_benchmark": float(bench_q.mean()),
        "mse_benchmark": float(bench_se.mean()),
        "dm_stat": dm.stat,
        "dm_pvalue": dm.pvalue,
        "mz_alpha": mz.alpha,
        "mz_beta": mz.beta,
        "mz_r2": mz.r2,
        "mz_pvalue": mz.pvalue,
        "mz_wald": joint.wald,
        "mz_se_beta": joint.se_beta,
        "mz_joint_pvalue": joint.pvalue,
        "mz_joint_pvalue_asymptotic": joint.pvalue_asymptotic,
        "n_eval": float(len(forecasts)),
    }
