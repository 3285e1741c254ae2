"""Rolling one-day-ahead VaR/ES backtests, and the fast GARCH estimator they rest on.

:class:`RollingBacktest` walks forward through a return series: on each refit day it
fits the estimator on the window of history (expanding, or the last ``window`` days),
starting from the previous fit's parameters when the estimator supports warm starts,
and on every day it forecasts the next day's VaR and ES with the current parameters,
conditional on all history so far.

Refitting a GARCH-t model every day is what makes such backtests slow: arch rebuilds
its model, searches starting values and runs SLSQP with numerical gradients for every
fit. :func:`fit_garch` estimates exactly arch's model -- constant mean, GARCH(1,1) or
GJR-GARCH(1,1,1), normal or standardised Student's t innovations, arch's backcast,
bounds and stationarity constraint -- but computes the variance recursion and its
derivatives as linear filters (``scipy.signal.lfilter``) and gives SLSQP the analytic
gradient. In a walk-forward sequence each fit starts from the previous optimum with
quasi-Newton steps on the previous fit's inverse Hessian: one more day moves the optimum
little, so about three likelihood evaluations replace a full optimisation.
``bench/bench_rolling.py`` compares it with a cold ``arch_model(...).fit()`` every day.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, signal, special, stats

__all__ = [
    "GarchFit",
    "RollingBacktest",
    "fit_garch",
    "garch_backcast",
    "garch_variance",
    "level_tag",
    "rolling_forecasts",
    "std_t_quantile_es",
]

_DISTS = ("normal", "t")


def level_tag(level: float) -> str:
    """Column suffix of a level: 0.99 -> ``"99"``, 0.975 -> ``"97.5"``."""
    return _level_tag(float(level))


@functools.lru_cache(maxsize=256)
def _level_tag(level: float) -> str:
    # A handful of levels, tagged several times per live observation.
    return format(round(level * 100, 6), "g")


def garch_backcast(resids: np.ndarray) -> float:
    """arch's backcast: exponentially weighted (0.94) mean of the first 75 squared residuals."""
    tau = min(75, resids.shape[0])
    w = 0.94 ** np.arange(tau)
    return float(np.sum(resids[:tau] ** 2 * (w / w.sum())))


def _unpack(theta: np.ndarray, o: int) -> tuple[float, float, float, float, float]:
    mu, omega, alpha = theta[0], theta[1], theta[2]
    gamma = theta[3] if o else 0.0
    beta = theta[3 + o]
    return mu, omega, alpha, gamma, beta


def garch_variance(
    theta: np.ndarray, y: np.ndarray, backcast: float, o: int = 0
) -> tuple[np.ndarray, float]:
    """Conditional variances of ``y`` and the variance of the next day.

    ``sigma2_t = omega + (alpha + gamma 1{e_{t-1} < 0}) e_{t-1}^2 + beta sigma2_{t-1}``
    with ``e_t = y_t - mu``; before the sample, ``e^2`` and ``sigma2`` are the backcast
    and the indicator is 1/2 (arch's convention).
    """
    mu, omega, alpha, gamma, beta = _unpack(theta, o)
    e = y - mu
    e2 = e * e
    shock = alpha * e2 + (gamma * e2 * (e < 0) if o else 0.0)
    x = np.empty(y.size)
    x[0] = omega + (alpha + 0.5 * gamma) * backcast
    x[1:] = omega + shock[:-1]
    sigma2 = signal.lfilter([1.0], [1.0, -beta], x, zi=[beta * backcast])[0]
    nxt = omega + shock[-1] + beta * sigma2[-1]
    return sigma2, float(nxt)


def _loglik_terms(
    theta: np.ndarray, y: np.ndarray, backcast: float, o: int, dist: str
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Log-likelihood and the pieces of its per-observation scores.

    Returns ``(ll, d, dl_ds2, dl_de, dl_dnu)``: the total log-likelihood,
    ``d[k, t] = d sigma2_t / d theta_k`` for the mean and variance parameters, and the
    per-observation derivatives of the log-density with respect to ``sigma2_t``,
    ``e_t`` and (t only) ``nu``.
    """
    mu, _omega, alpha, gamma, beta = _unpack(theta, o)
    n = y.size
    e = y - mu
    e2 = e * e
    neg = (e < 0).astype(float) if o else np.zeros(n)
    sigma2, _ = garch_variance(theta, y, backcast, o)
    # Steps outside the admissible region can make variances non-positive; a floor
    # keeps the objective finite and the optimiser steps back.
    sigma2 = np.maximum(sigma2, 1e-12)
    # d sigma2_t / d theta follows the same filter: D_t = c_t + beta D_{t-1}. Rows are
    # parameters, so that each filtered series is contiguous.
    c = np.zeros((4 + o, n))
    c[0, 1:] = -2.0 * (alpha + gamma * neg[:-1]) * e[:-1]
    c[1] = 1.0
    c[2, 0], c[2, 1:] = backcast, e2[:-1]
    if o:
        c[3, 0], c[3, 1:] = 0.5 * backcast, e2[:-1] * neg[:-1]
    c[-1, 0], c[-1, 1:] = backcast, sigma2[:-1]
    d = signal.lfilter([1.0], [1.0, -beta], c, axis=-1)
    dl_dnu = None
    if dist == "t":
        nu = theta[-1]
        const = (
            special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(np.pi * (nu - 2))
        )
        k = e2 / (sigma2 * (nu - 2))
        log1pk = np.log1p(k)
        ll = n * const - 0.5 * np.sum(np.log(sigma2)) - 0.5 * (nu + 1) * np.sum(log1pk)
        den = sigma2 * (nu - 2) + e2
        dl_ds2 = -0.5 / sigma2 + 0.5 * (nu + 1) * e2 / (sigma2 * den)
        dl_de = -(nu + 1) * e / den
        dconst = 0.5 * (special.digamma((nu + 1) / 2) - special.digamma(nu / 2)) - 0.5 / (nu - 2)
        dl_dnu = dconst - 0.5 * log1pk + 0.5 * (nu + 1) * k / ((nu - 2) * (1 + k))
    else:
        ll = -0.5 * (n * np.log(2 * np.pi) + np.sum(np.log(sigma2)) + np.sum(e2 / sigma2))
        dl_ds2 = -0.5 / sigma2 + 0.5 * e2 / sigma2**2
        dl_de = -e / sigma2
    return float(ll), d, dl_ds2, dl_de, dl_dnu


def _negloglik(
    theta: np.ndarray, y: np.ndarray, backcast: float, o: int, dist: str
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood per observation and its analytic gradient."""
    ll, d, dl_ds2, dl_de, dl_dnu = _loglik_terms(theta, y, backcast, o, dist)
    grad = d @ dl_ds2
    grad[0] -= np.sum(dl_de)  # de/dmu = -1
    if dl_dnu is not None:
        grad = np.append(grad, np.sum(dl_dnu))
    # Per observation, so that the tolerance means the same for every sample size.
    return -ll / y.size, -grad / y.size


def _score_scale(
    theta: np.ndarray, y: np.ndarray, backcast: float, o: int, dist: str
) -> np.ndarray:
    """Root mean square of the per-observation scores: the square root of the
    outer-product (BHHH) approximation of the Hessian's diagonal."""
    _, d, dl_ds2, dl_de, dl_dnu = _loglik_terms(theta, y, backcast, o, dist)
    scores = d * dl_ds2
    scores[0] -= dl_de
    if dl_dnu is not None:
        scores = np.vstack([scores, dl_dnu])
    scale = np.sqrt(np.mean(scores * scores, axis=1))
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


@dataclass(frozen=True)
class GarchFit:
    """A fitted constant-mean GARCH(1,1) / GJR-GARCH(1,1,1).

    ``params`` are in arch's order and names (``mu, omega, alpha[1], [gamma[1],]
    beta[1], [nu]``); ``sigma2`` the in-sample conditional variances and
    ``next_sigma2`` the variance of the day after the sample.
    """

    params: np.ndarray
    names: tuple[str, ...]
    o: int
    dist: str
    backcast: float
    loglikelihood: float
    sigma2: np.ndarray
    next_sigma2: float
    iterations: int
    converged: bool
    inv_hessian: np.ndarray | None = None
    """Inverse Hessian of the per-observation negative log-likelihood at ``params``
    (a warm-start fit's by-product, used by the next warm start's Newton steps)."""

    @property
    def nu(self) -> float | None:
        return float(self.params[-1]) if self.dist == "t" else None

    def std_resid(self, y: np.ndarray) -> np.ndarray:
        return (y - self.params[0]) / np.sqrt(self.sigma2)


def _names(o: int, dist: str) -> tuple[str, ...]:
    names = ["mu", "omega", "alpha[1]"] + (["gamma[1]"] if o else []) + ["beta[1]"]
    return tuple(names + (["nu"] if dist == "t" else []))


def _starting_values(y: np.ndarray, o: int, dist: str) -> np.ndarray:
    var = float(np.var(y))
    alpha, gamma, beta = (0.03, 0.09, 0.88) if o else (0.08, 0.0, 0.9)
    persistence = alpha + 0.5 * gamma + beta
    sv = [float(np.mean(y)), var * (1 - persistence), alpha] + ([gamma] if o else []) + [beta]
    if dist == "t":
        kurt = float(stats.kurtosis(y, fisher=False))
        sv.append(max((4.0 * kurt - 6.0) / (kurt - 3.0) if kurt > 3.75 else 12.0, 4.0))
    return np.asarray(sv, dtype=float)


def fit_garch(
    y: np.ndarray,
    *,
    o: int = 0,
    dist: str = "t",
    start: np.ndarray | GarchFit | None = None,
    ftol: float = 1e-10,
    maxiter: int = 500,
) -> GarchFit:
    """Maximum-likelihood estimate of arch's constant-mean GARCH(1,1) (``o=1``: GJR).

    Parameters
    ----------
    y
        Returns in percent.
    o
        0 for GARCH(1,1), 1 for GJR-GARCH(1,1,1).
    dist
        ``"t"`` (standardised Student's t) or ``"normal"``.
    start
        A warm start: starting values in arch's order, or the previous fit itself.
        Given a previous :class:`GarchFit`, the estimate is first sought by Newton
        steps from its optimum with its inverse Hessian (BFGS-updated as it goes);
        one more observation moves the optimum little, so two or three likelihood
        evaluations usually do. When they do not converge inside the admissible region
        (e.g. a parameter on its bound), SLSQP takes over from there. Invalid starting
        values are ignored.
    ftol
        SLSQP's tolerance on the per-observation negative log-likelihood.

    Returns
    -------
    GarchFit
    """
    y = np.ascontiguousarray(y, dtype=float)
    if o not in (0, 1):
        raise ValueError(f"o must be 0 or 1, got {o!r}")
    if dist not in _DISTS:
        raise ValueError(f"dist must be one of {_DISTS}, got {dist!r}")
    if y.size < 10:
        raise ValueError("need at least 10 returns to fit a GARCH model")
    centred = y - y.mean()
    backcast = garch_backcast(centred)
    mean_sq = float(np.mean(centred**2))
    bounds = [(None, None), (1e-8 * mean_sq, 10.0 * mean_sq), (0.0, 1.0)]
    bounds += [(-1.0, 2.0)] * o + [(0.0, 1.0)] + [(2.05, 500.0)] * (dist == "t")
    # alpha + gamma / 2 + beta <= 1, and alpha + gamma >= 0 (arch's constraints).
    a = np.zeros((1 + o, len(bounds)))
    a[0, 2], a[0, 3 + o] = -1.0, -1.0
    if o:
        a[0, 3] = -0.5
        a[1, 2], a[1, 3] = 1.0, 1.0
    b = np.array([1.0] + [0.0] * o)
    lo = np.array([-np.inf if lb is None else lb for lb, _ in bounds])
    hi = np.array([np.inf if ub is None else ub for _, ub in bounds])

    def admissible(theta: np.ndarray) -> bool:
        inside = theta.shape == lo.shape and np.all((theta >= lo) & (theta <= hi))
        return bool(inside and np.all(a @ theta + b >= 0))

    previous = start if isinstance(start, GarchFit) else None
    sv = None
    if start is not None:
        cand = np.asarray(previous.params if previous is not None else start, dtype=float)
        sv = cand if admissible(cand) else None
    if sv is not None and previous is not None and previous.inv_hessian is not None:
        newton = _newton(sv, previous.inv_hessian, y, backcast, o, dist, admissible)
        if newton is not None:
            theta, value, inv_hessian, evaluations = newton
            return _make_fit(theta, y, backcast, o, dist, value, evaluations, inv_hessian)
    if sv is None:
        sv = _starting_values(y, o, dist)
    # SLSQP starts from an identity Hessian; in units of the score's spread (u = theta *
    # scale) the Hessian is close to the identity, which saves iterations and gives a
    # tighter optimum for the same tolerance.
    scale = _score_scale(sv, y, backcast, o, dist)
    scaled_bounds = [
        (None if lb is None else lb * s, None if ub is None else ub * s)
        for (lb, ub), s in zip(bounds, scale, strict=True)
    ]
    a_scaled = a / scale

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = _negloglik(u / scale, y, backcast, o, dist)
        return value, grad / scale

    result = optimize.minimize(
        objective,
        sv * scale,
        jac=True,
        method="SLSQP",
        bounds=scaled_bounds,
        constraints=[
            {"type": "ineq", "fun": lambda u: a_scaled @ u + b, "jac": lambda u: a_scaled}
        ],
        options={"ftol": ftol, "maxiter": maxiter},
    )
    theta = np.asarray(result.x, dtype=float) / scale
    curvature: np.ndarray | None = None
    margin = 1e-6 * (1.0 + np.abs(theta))
    off_bounds = np.all((theta - lo > margin) & (hi - theta > margin))
    interior = bool(off_bounds and np.all(a @ theta + b > 1e-8))
    if start is not None and interior:
        # Inside a walk-forward refit sequence: keep the curvature for the next one. At a
        # bound (e.g. GJR's alpha at 0) Newton steps cannot help, so SLSQP stays in charge.
        curvature = _inverse_hessian(theta, y, backcast, o, dist)
    fit = _make_fit(theta, y, backcast, o, dist, float(result.fun), int(result.nit), curvature)
    return replace(fit, converged=bool(result.success))


def _make_fit(
    theta: np.ndarray,
    y: np.ndarray,
    backcast: float,
    o: int,
    dist: str,
    value: float,
    iterations: int,
    inv_hessian: np.ndarray | None,
) -> GarchFit:
    sigma2, nxt = garch_variance(theta, y, backcast, o)
    return GarchFit(
        params=theta,
        names=_names(o, dist),
        o=o,
        dist=dist,
        backcast=backcast,
        loglikelihood=float(-value * y.size),
        sigma2=sigma2,
        next_sigma2=nxt,
        iterations=iterations,
        converged=True,
        inv_hessian=inv_hessian,
    )


def _inverse_hessian(
    theta: np.ndarray, y: np.ndarray, backcast: float, o: int, dist: str
) -> np.ndarray | None:
    """Inverse of the Hessian by central differences of the analytic gradient, or
    ``None`` when it is not positive definite (e.g. at a bound)."""
    k = theta.size
    hessian = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(abs(theta[j]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = (
            _negloglik(up, y, backcast, o, dist)[1] - _negloglik(down, y, backcast, o, dist)[1]
        ) / (2 * h)
    hessian = 0.5 * (hessian + hessian.T)
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(hessian)


def _newton(
    theta: np.ndarray,
    inv_hessian: np.ndarray,
    y: np.ndarray,
    backcast: float,
    o: int,
    dist: str,
    admissible: Any,
    tol: float = 1e-13,
    max_steps: int = 8,
) -> tuple[np.ndarray, float, np.ndarray, int] | None:
    """Quasi-Newton steps with backtracking inside the admissible region.

    Stops when half the Newton decrement ``g' H^-1 g / 2`` (the predicted gain in the
    per-observation objective) is below ``tol``; returns ``None`` when a step cannot
    stay admissible and decrease the objective, so that the caller falls back to SLSQP.
    """
    value, grad = _negloglik(theta, y, backcast, o, dist)
    evaluations = 1
    inv_h = inv_hessian.copy()
    for _ in range(max_steps):
        step = -inv_h @ grad
        decrement = float(-grad @ step)
        if decrement < 0:
            return None
        if 0.5 * decrement < tol:
            return theta, value, inv_h, evaluations
        t = 1.0
        while t > 1e-4:
            cand = theta + t * step
            if admissible(cand):
                new_value, new_grad = _negloglik(cand, y, backcast, o, dist)
                evaluations += 1
                if np.isfinite(new_value) and new_value <= value - 1e-4 * t * decrement:
                    break
            t *= 0.5
        else:
            return None
        s_k, y_k = cand - theta, new_grad - grad
        curvature = float(s_k @ y_k)
        if curvature > 0:
            # BFGS update of the inverse Hessian keeps the curvature current.
            rho = 1.0 / curvature
            eye = np.eye(theta.size)
            left = eye - rho * np.outer(s_k, y_k)
            inv_h = left @ inv_h @ left.T + rho * np.outer(s_k, s_k)
        theta, value, grad = cand, new_value, new_grad
    return None


def std_t_quantile_es(p: float, nu: float) -> tuple[float, float]:
    """Lower ``p``-quantile of the unit-variance Student's t and its ES as a positive loss."""
    q = float(stats.t.ppf(p, nu))
    scale = np.sqrt((nu - 2.0) / nu)
    es = float(stats.t.pdf(q, nu) / p * (nu + q * q) / (nu - 1.0))
    return q * scale, es * scale


class RollingBacktest:
    """Walk-forward one-day-ahead VaR/ES forecasts of any VaR estimator of this package.

    Parameters
    ----------
    estimator
        An unfitted VaR estimator (e.g. :class:`~riskops.market.var.GarchTVaR`); it is
        cloned, never modified.
    window
        ``None`` for an expanding window (all history so far), or the number of most
        recent days each fit sees.
    refit_every
        Refit every this many forecasts; in between, the last parameters are kept and
        only the conditioning history grows.
    warm_start
        Start each refit from the previous fit's parameters, when the estimator supports it.
    levels
        VaR/ES confidence levels to forecast.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        window: int | None = None,
        refit_every: int = 1,
        warm_start: bool = True,
        levels: Sequence[float] = (0.95, 0.99),
    ) -> None:
        self.estimator = estimator
        self.window = window
        self.refit_every = refit_every
        self.warm_start = warm_start
        self.levels = levels

    def run(
        self,
        returns: pd.Series,
        *,
        n_forecasts: int | None = None,
        start: Any = None,
    ) -> pd.DataFrame:
        """Forecast each day from ``start`` (a date or position; default: the last
        ``n_forecasts`` days) to the end of ``returns``.

        Returns
        -------
        pandas.DataFrame
            Indexed by the forecast day: ``ret`` (the realised return), ``var_{lvl}``
            and ``es_{lvl}`` per level (positive losses, percent), and ``refit``
            (whether parameters were re-estimated for that forecast).
        """
        from sklearn.base import clone

        series = pd.Series(returns, dtype=float).dropna()
        values = series.to_numpy()
        first = self._first(series, n_forecasts, start)
        if first < 2 or first >= values.size:
            raise ValueError(f"forecasts must start after day 2 and before the end, got {first}")
        levels = tuple(float(x) for x in self.levels)
        refit_every = max(int(self.refit_every), 1)
        window = None if self.window is None else int(self.window)
        model = clone(self.estimator)
        supports_fast = hasattr(model, "_fit_values") and hasattr(model, "_forecast_values")
        n = values.size - first
        var = np.empty((n, len(levels)))
        es = np.empty((n, len(levels)))
        refit = np.zeros(n, dtype=bool)
        state = None
        for i, t in enumerate(range(first, values.size)):
            lo = 0 if window is None else max(t - window, 0)
            history = values[lo:t]
            if i % refit_every == 0:
                refit[i] = True
                if supports_fast:
                    model._fit_values(history, start=state if self.warm_start else None)
                    state = model._warm_state()
                else:
                    model = clone(self.estimator).fit(series.iloc[lo:t])
            if supports_fast:
                v, e = model._forecast_values(history, levels)
            else:
                frame = model.forecast(series.iloc[lo:t], levels=levels)
                v, e = frame["var"].to_numpy(), frame["es"].to_numpy()
            var[i], es[i] = v, e
        out = pd.DataFrame({"ret": values[first:]}, index=series.index[first:])
        for j, level in enumerate(levels):
            tag = level_tag(level)
            out[f"var_{tag}"] = var[:, j]
            out[f"es_{tag}"] = es[:, j]
        out["refit"] = refit
        return out

    @staticmethod
    def _first(series: pd.Series, n_forecasts: int | None, start: Any) -> int:
        if start is None:
            if n_forecasts is None:
                raise ValueError("give n_forecasts or start")
            return series.size - int(n_forecasts)
        if isinstance(start, (int, np.integer)):
            first = int(start)
        else:
            first = int(series.index.searchsorted(pd.Timestamp(start)))
        if n_forecasts is not None and first + int(n_forecasts) < series.size:
            raise ValueError("start and n_forecasts disagree: the backtest runs to the end")
        return first


def rolling_forecasts(
    estimator: Any,
    returns: pd.Series,
    *,
    n_forecasts: int | None = None,
    start: Any = None,
    window: int | None = None,
    refit_every: int = 1,
    warm_start: bool = True,
    levels: Sequence[float] = (0.95, 0.99),
) -> pd.DataFrame:
    """Shorthand for ``RollingBacktest(estimator, ...).run(returns, ...)``."""
    engine = RollingBacktest(
        estimator, window=window, refit_every=refit_every, warm_start=warm_start, levels=levels
    )
    return engine.run(returns, n_forecasts=n_forecasts, start=start)
