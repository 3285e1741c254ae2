"""Expected Shortfall backtests: :func:`acerbi_szekely_z2` (Acerbi and Szekely, 2014, test
2, p-value simulated under the null) and :func:`mcneil_frey` (McNeil and Frey, 2000,
zero-mean test of the exceedance residuals, bootstrap p-value)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from riskops.backtests._common import _check_level, _Result


@dataclass(frozen=True)
class Z2Result(_Result):
    """Acerbi-Szekely test 2; ``statistic`` is Z2 (0 under the null, negative when ES is
    underestimated), ``pvalue`` is the simulated P(Z2 <= observed)."""

    test: str
    statistic: float
    pvalue: float
    passed: bool
    alpha: float
    level: float
    n: int
    exceptions: int
    null_distribution: str
    simulations: int
    seed: int


@dataclass(frozen=True)
class McNeilFreyResult(_Result):
    """McNeil-Frey exceedance-residual test; one-sided, H1: ES underestimated."""

    test: str
    statistic: float
    pvalue: float
    passed: bool
    alpha: float
    exceptions: int
    mean_residual: float
    method: str
    bootstraps: int
    seed: int


def _loss_arrays(returns: Any, var: Any, es: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    loss = -np.asarray(returns, dtype=float)
    v = np.asarray(var, dtype=float)
    e = np.asarray(es, dtype=float)
    if not (loss.shape == v.shape == e.shape) or loss.ndim != 1:
        raise ValueError("returns, var and es must be one-dimensional and of the same length")
    if not (np.isfinite(loss).all() and np.isfinite(v).all() and np.isfinite(e).all()):
        raise ValueError("returns, var and es must be finite")
    if np.any(e <= 0):
        raise ValueError("es must be positive (a loss)")
    return loss, v, e


def _z2(loss: np.ndarray, var: np.ndarray, es: np.ndarray, p: float) -> np.ndarray:
    """Z2 along the last axis: ``1 - sum(L_t 1{L_t > VaR_t} / ES_t) / (T p)``."""
    hit = loss > var
    return 1.0 - np.sum(np.where(hit, loss / es, 0.0), axis=-1) / (loss.shape[-1] * p)


def _tail_shape(dist: str, df: float, p: float) -> tuple[float, float, Any]:
    """Lower-tail quantile and ES (as positive loss) of a unit-variance distribution."""
    if dist == "normal":
        q = float(stats.norm.ppf(p))
        return -q, float(stats.norm.pdf(q) / p), stats.norm
    if dist == "t":
        if df <= 2:
            raise ValueError("the t null needs df > 2 (finite variance)")
        scale = np.sqrt((df - 2.0) / df)
        q = float(stats.t.ppf(p, df))
        es = float(stats.t.pdf(q, df) / p * (df + q**2) / (df - 1.0))
        return -q * scale, es * scale, stats.t(df, scale=scale)
    raise ValueError(f"dist must be 'normal' or 't', got {dist!r}")


def acerbi_szekely_z2(
    returns: Any,
    var: Any,
    es: Any,
    level: float,
    *,
    alpha: float = 0.05,
    dist: str = "t",
    df: float = 5.0,
    simulations: int = 2000,
    seed: int = 0,
) -> Z2Result:
    """Acerbi and Szekely's (2014) test 2 of Expected Shortfall.

    ``Z2 = 1 - sum_t L_t 1{L_t > VaR_t} / (T (1 - level) ES_t)`` has expectation 0
    when VaR and ES are right and is negative when ES underestimates the tail. The
    p-value ``P(Z2 <= observed)`` is simulated (seeded): each day's loss is drawn from
    the location-scale member of ``dist`` (Student's t with ``df`` degrees of freedom
    by default, or normal) whose VaR and ES equal the day's forecasts, so the null
    respects the forecast VaR/ES of every day.

    Parameters
    ----------
    returns, var, es
        Realised returns and the VaR and ES forecasts for the same days (positive losses).
    level
        VaR/ES confidence level.
    alpha
        Size of the test; ``passed`` is ``pvalue >= alpha``.
    dist, df
        Shape of the null distribution.
    simulations, seed
        Number of simulated samples and the seed of the generator.
    """
    level = _check_level(level)
    loss, v, e = _loss_arrays(returns, var, es)
    p = 1.0 - level
    observed = float(_z2(loss, v, e, p))
    q_unit, es_unit, unit = _tail_shape(dist, df, p)
    # Location-scale member with the day's VaR and ES: L = m + s Z, VaR = m + s q, ES = m + s e.
    scale = np.maximum(e - v, 1e-12) / (es_unit - q_unit)
    loc = v - scale * q_unit
    rng = np.random.default_rng(seed)
    z = unit.rvs(size=(int(simulations), loss.size), random_state=rng)
    # Z is a unit-variance return; the loss is its negative.
    sim_loss = loc - scale * z
    null = _z2(sim_loss, v, e, p)
    pvalue = float((1 + np.sum(null <= observed)) / (simulations + 1))
    return Z2Result(
        test="acerbi_szekely_z2",
        statistic=observed,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=int(loss.size),
        exceptions=int(np.sum(loss > v)),
        null_distribution=dist if dist == "normal" else f"t({df:g})",
        simulations=int(simulations),
        seed=int(seed),
    )


def mcneil_frey(
    returns: Any,
    var: Any,
    es: Any,
    *,
    scale: Any = None,
    alpha: float = 0.05,
    method: str = "bootstrap",
    bootstraps: int = 2000,
    seed: int = 0,
) -> McNeilFreyResult:
    """McNeil and Frey's (2000) test that exceedance residuals have mean zero.

    On the days the loss exceeds the VaR, the residual ``L_t - ES_t`` (divided by the
    forecast volatility ``scale`` if given) has mean zero when ES is right; a positive
    mean means ES is underestimated. ``method="bootstrap"`` (the paper's) resamples the
    centred residuals (seeded) for the p-value of the t-statistic; ``method="normal"``
    uses the normal approximation, as ``rugarch::ESTest`` does. With no exception
    there is no evidence against the ES and the p-value is 1 (so too with a single one).
    """
    loss, v, e = _loss_arrays(returns, var, es)
    hit = loss > v
    resid = loss[hit] - e[hit]
    if scale is not None:
        s = np.asarray(scale, dtype=float)
        if s.shape != loss.shape or np.any(s <= 0):
            raise ValueError("scale must be positive and match returns")
        resid = resid / s[hit]
    k = int(resid.size)

    def tstat(x: np.ndarray) -> np.ndarray:
        sd = x.std(axis=-1, ddof=1)
        # Identical residuals (sd 0) carry no evidence: their t-statistic is taken as 0.
        safe = np.where(sd > 0, sd, 1.0)
        return np.where(sd > 0, x.mean(axis=-1) / (safe / np.sqrt(x.shape[-1])), 0.0)

    if k < 2:
        # Fewer than two residuals give no variance, hence no evidence either way.
        stat, pvalue = 0.0, 1.0
    else:
        stat = float(tstat(resid))
        if method == "normal":
            pvalue = float(stats.norm.sf(stat))
        elif method == "bootstrap":
            rng = np.random.default_rng(seed)
            centred = resid - resid.mean()
            draws = centred[rng.integers(0, k, size=(int(bootstraps), k))]
            pvalue = float((1 + np.sum(tstat(draws) >= stat)) / (bootstraps + 1))
        else:
            raise ValueError(f"method must be 'bootstrap' or 'normal', got {method!r}")
    return McNeilFreyResult(
        test="mcneil_frey",
        statistic=stat,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        exceptions=k,
        mean_residual=float(resid.mean()) if k else 0.0,
        method=method,
        bootstraps=int(bootstraps) if method == "bootstrap" else 0,
        seed=int(seed),
    )
