"""Regulatory backtests of Value-at-Risk and Expected Shortfall forecasts.

Every VaR test takes a boolean exceedance series (``True`` on the days the loss
exceeded the VaR) and the VaR confidence level (0.95, 0.99...), and returns a frozen
result with the statistic, its p-value and a pass/fail decision at size ``alpha``:

* :func:`kupiec_pof` -- Kupiec's (1995) proportion-of-failures likelihood ratio,
  the unconditional coverage test.
* :func:`christoffersen_independence` -- Christoffersen's (1998) first-order Markov
  test that an exception today does not make one tomorrow more likely.
* :func:`conditional_coverage` -- their sum, Christoffersen's joint test.
* :func:`traffic_light` -- the Basel Committee's (1996) green/yellow/red zones with
  the plus-factor to the capital multiplier.

Expected Shortfall is backtested by :func:`acerbi_szekely_z2` (Acerbi and Szekely,
2014, test 2, p-value simulated under the null) and :func:`mcneil_frey` (McNeil and
Frey, 2000, zero-mean test of the exceedance residuals, bootstrap p-value).

Conventions follow MATLAB's ``varbacktest`` and R's ``rugarch::VaRTest``: losses and
VaR are positive numbers, an exception is ``loss > VaR``, and the transition counts
``n_ij`` count days in state ``i`` followed by a day in state ``j`` (1 = exception).
Only NumPy and SciPy are used, so importing this module is cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special, stats

__all__ = [
    "ConditionalCoverageResult",
    "IndependenceResult",
    "McNeilFreyResult",
    "PofResult",
    "TrafficLightResult",
    "Z2Result",
    "acerbi_szekely_z2",
    "christoffersen_independence",
    "conditional_coverage",
    "exceedances",
    "kupiec_pof",
    "mcneil_frey",
    "tick_loss",
    "traffic_light",
]

BASEL_PLUS_FACTORS = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}
"""Basel Committee (1996), Table 2: plus-factors of the yellow zone, 250 days at 99%."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class _Result:
    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-serialisable dict (non-finite numbers become ``None``)."""
        return {k: _jsonable(v) for k, v in asdict(self).items()}  # type: ignore[call-overload]


@dataclass(frozen=True)
class PofResult(_Result):
    """Kupiec's proportion-of-failures test.

    ``statistic`` is the likelihood ratio, asymptotically chi-squared(1); ``passed``
    is ``pvalue >= alpha``.
    """

    test: str
    statistic: float
    pvalue: float
    passed: bool
    alpha: float
    level: float
    n: int
    exceptions: int
    expected: float
    ratio: float
    observed_level: float
    first_exception: int | None


@dataclass(frozen=True)
class IndependenceResult(_Result):
    """Christoffersen's independence test; ``statistic`` is asymptotically chi-squared(1)."""

    test: str
    statistic: float
    pvalue: float
    passed: bool
    alpha: float
    n: int
    exceptions: int
    n00: int
    n01: int
    n10: int
    n11: int
    pi01: float
    pi11: float


@dataclass(frozen=True)
class ConditionalCoverageResult(_Result):
    """Christoffersen's conditional coverage: ``pof_statistic + independence_statistic``,
    asymptotically chi-squared(2)."""

    test: str
    statistic: float
    pvalue: float
    passed: bool
    alpha: float
    level: float
    n: int
    exceptions: int
    pof_statistic: float
    pof_pvalue: float
    independence_statistic: float
    independence_pvalue: float


@dataclass(frozen=True)
class TrafficLightResult(_Result):
    """Basel traffic light.

    ``cumulative_probability`` is P(X <= exceptions) under Binomial(n, 1 - level),
    ``type1_error`` is P(X >= exceptions); ``passed`` is ``zone != "red"``.
    """

    test: str
    zone: str
    passed: bool
    level: float
    n: int
    exceptions: int
    cumulative_probability: float
    type1_error: float
    plus_factor: float
    multiplier: float


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


def exceedances(returns: Any, var: Any) -> np.ndarray:
    """Boolean exceptions: the loss ``-returns`` is strictly above the VaR ``var`` (> 0)."""
    r = np.asarray(returns, dtype=float)
    v = np.asarray(var, dtype=float)
    if r.shape != v.shape:
        raise ValueError(f"returns {r.shape} and var {v.shape} differ in shape")
    return -r > v


def _hits(hits: Any) -> np.ndarray:
    h = np.asarray(hits)
    if h.ndim != 1:
        raise ValueError("hits must be one-dimensional")
    if h.dtype != bool:
        if not np.isin(h, (0, 1)).all():
            raise ValueError("hits must be boolean (or 0/1)")
        h = h.astype(bool)
    if h.size == 0:
        raise ValueError("hits is empty")
    return h


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.5 <= level < 1.0:
        raise ValueError(f"level must be a VaR confidence level in [0.5, 1), got {level}")
    return level


def _binomial_loglik(k: float, n: float, p: float) -> float:
    # xlogy/xlog1py give 0 * log(0) = 0, so no exceptions (or only exceptions) is finite.
    return float(special.xlogy(k, p) + special.xlog1py(n - k, -p))


def _lr_pof(x: int, n: int, p: float) -> float:
    stat = -2.0 * (_binomial_loglik(x, n, p) - _binomial_loglik(x, n, x / n))
    return max(stat, 0.0)


def kupiec_pof(hits: Any, level: float, *, alpha: float = 0.05) -> PofResult:
    """Kupiec's (1995) proportion-of-failures likelihood-ratio test.

    Parameters
    ----------
    hits
        Boolean exceedances, ``True`` where the loss exceeded the VaR.
    level
        VaR confidence level, e.g. 0.99 (exception probability ``1 - level``).
    alpha
        Size of the test: ``passed`` is ``pvalue >= alpha``.

    Returns
    -------
    PofResult
    """
    h = _hits(hits)
    level = _check_level(level)
    n, x = h.size, int(h.sum())
    p = 1.0 - level
    stat = _lr_pof(x, n, p)
    pvalue = float(stats.chi2.sf(stat, 1))
    first = int(np.argmax(h)) + 1 if x else None
    return PofResult(
        test="kupiec_pof",
        statistic=stat,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=n,
        exceptions=x,
        expected=n * p,
        ratio=x / (n * p),
        observed_level=1.0 - x / n,
        first_exception=first,
    )


def _transitions(h: np.ndarray) -> tuple[int, int, int, int]:
    prev, cur = h[:-1], h[1:]
    n11 = int(np.sum(prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n00 = int(prev.size - n11 - n10 - n01)
    return n00, n01, n10, n11


def _lr_independence(n00: int, n01: int, n10: int, n11: int) -> tuple[float, float, float]:
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / total if total else 0.0
    restricted = _binomial_loglik(n01 + n11, total, pi)
    unrestricted = _binomial_loglik(n01, n00 + n01, pi01) + _binomial_loglik(n11, n10 + n11, pi11)
    return max(-2.0 * (restricted - unrestricted), 0.0), pi01, pi11


def christoffersen_independence(hits: Any, *, alpha: float = 0.05) -> IndependenceResult:
    """Christoffersen's (1998) independence test against a first-order Markov chain.

    Parameters
    ----------
    hits
        Boolean exceedances (at least two days).
    alpha
        Size of the test.

    Returns
    -------
    IndependenceResult
        With the transition counts ``n00, n01, n10, n11`` and the estimated
        probabilities of an exception after a quiet day (``pi01``) and after an
        exception (``pi11``).
    """
    h = _hits(hits)
    if h.size < 2:
        raise ValueError("the independence test needs at least two days")
    n00, n01, n10, n11 = _transitions(h)
    stat, pi01, pi11 = _lr_independence(n00, n01, n10, n11)
    pvalue = float(stats.chi2.sf(stat, 1))
    return IndependenceResult(
        test="christoffersen_independence",
        statistic=stat,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        n=int(h.size),
        exceptions=int(h.sum()),
        n00=n00,
        n01=n01,
        n10=n10,
        n11=n11,
        pi01=pi01,
        pi11=pi11,
    )


def conditional_coverage(
    hits: Any, level: float, *, alpha: float = 0.05
) -> ConditionalCoverageResult:
    """Christoffersen's (1998) conditional coverage test: POF plus independence, chi2(2)."""
    pof = kupiec_pof(hits, level, alpha=alpha)
    ind = christoffersen_independence(hits, alpha=alpha)
    stat = pof.statistic + ind.statistic
    pvalue = float(stats.chi2.sf(stat, 2))
    return ConditionalCoverageResult(
        test="conditional_coverage",
        statistic=stat,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=pof.level,
        n=pof.n,
        exceptions=pof.exceptions,
        pof_statistic=pof.statistic,
        pof_pvalue=pof.pvalue,
        independence_statistic=ind.statistic,
        independence_pvalue=ind.pvalue,
    )


def _plus_factor(x: int, n: int, level: float, zone: str) -> float:
    if zone == "green":
        return 0.0
    if zone == "red":
        return 1.0
    if n == 250 and abs(level - 0.99) < 1e-12:
        return BASEL_PLUS_FACTORS[x]
    # Basel (1996) calibrated the plus-factors so that, under normality, the raised
    # multiplier restores the intended coverage: 3 * (z_level / z_observed - 1). Outside
    # the tabulated case (250 days at 99%) the same rule is applied, rounded as the table.
    observed = 1.0 - x / n
    z_obs = stats.norm.ppf(observed) if observed > 0.5 else 0.0
    if z_obs <= 0:
        return 1.0
    plus = 3.0 * (stats.norm.ppf(level) / z_obs - 1.0)
    return float(np.clip(np.round(plus, 2), 0.0, 1.0))


def traffic_light(
    hits: Any,
    level: float = 0.99,
    *,
    green_below: float = 0.95,
    red_from: float = 0.9999,
) -> TrafficLightResult:
    """Basel traffic-light zone of the number of exceptions.

    The zone follows the cumulative binomial probability ``P(X <= exceptions)`` under
    ``Binomial(n, 1 - level)``: green below ``green_below`` (95%), red from
    ``red_from`` (99.99%), yellow in between -- for 250 days at 99% this is the Basel
    Committee's (1996) Table 2: green 0-4 exceptions, yellow 5-9, red 10 or more. No
    exception at all is green whatever ``n``.

    The plus-factor added to the capital multiplier of 3 is Table 2's for 250 days at
    99% (0.40, 0.50, 0.65, 0.75, 0.85 in the yellow zone, 1 in the red); for other
    sample sizes or levels it is the rule the Committee calibrated the table with,
    ``3 * (z(level) / z(1 - exceptions / n) - 1)`` clipped to [0, 1].
    """
    h = _hits(hits)
    level = _check_level(level)
    n, x = h.size, int(h.sum())
    p = 1.0 - level
    cumulative = float(stats.binom.cdf(x, n, p))
    type1 = float(stats.binom.sf(x - 1, n, p))
    # With very few days P(X <= 0) itself can exceed 95%; no exception at all is never
    # evidence of an understated VaR, so it stays green.
    if cumulative < green_below or x == 0:
        zone = "green"
    elif cumulative < red_from:
        zone = "yellow"
    else:
        zone = "red"
    plus = _plus_factor(x, n, level, zone)
    return TrafficLightResult(
        test="traffic_light",
        zone=zone,
        passed=zone != "red",
        level=level,
        n=n,
        exceptions=x,
        cumulative_probability=cumulative,
        type1_error=type1,
        plus_factor=plus,
        multiplier=3.0 + plus,
    )


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


def tick_loss(returns: Any, var: Any, level: float) -> float:
    """Mean quantile (tick) loss of the VaR as the ``1 - level`` return quantile; lower is
    better, and it is minimised in expectation by the true quantile."""
    level = _check_level(level)
    r = np.asarray(returns, dtype=float)
    q = -np.asarray(var, dtype=float)
    p = 1.0 - level
    u = r - q
    return float(np.mean(u * (p - (u < 0))))
