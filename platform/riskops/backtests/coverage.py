"""The classical VaR coverage tests, asymptotic and two-sided, and the tick loss.

* :func:`kupiec_pof` -- Kupiec's (1995) proportion-of-failures likelihood ratio,
  the unconditional coverage test.
* :func:`christoffersen_independence` -- Christoffersen's (1998) first-order Markov
  test that an exception today does not make one tomorrow more likely.
* :func:`conditional_coverage` -- their sum, Christoffersen's joint test.
* :func:`traffic_light` -- the Basel Committee's (1996) green/yellow/red zones with
  the plus-factor to the capital multiplier.
* :func:`tick_loss` -- the quantile loss that ranks VaR forecasts.

Reported beside the gates, which read the exact tests of :mod:`riskops.backtests.exact`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from riskops.backtests._common import _check_level, _hits, _Result

BASEL_PLUS_FACTORS = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}
"""Basel Committee (1996), Table 2: plus-factors of the yellow zone, 250 days at 99%."""


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
    pvalue = float(special.chdtrc(1, stat))
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
    pvalue = float(special.chdtrc(1, stat))
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
    pvalue = float(special.chdtrc(2, stat))
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
    # special.bdtr/bdtrc are the binomial cdf/sf without scipy.stats' per-call overhead.
    cumulative = float(special.bdtr(x, n, p))
    type1 = float(special.bdtrc(x - 1, n, p))
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


def tick_loss(returns: Any, var: Any, level: float) -> float:
    """Mean quantile (tick) loss of the VaR as the ``1 - level`` return quantile; lower is
    better, and it is minimised in expectation by the true quantile."""
    level = _check_level(level)
    r = np.asarray(returns, dtype=float)
    q = -np.asarray(var, dtype=float)
    p = 1.0 - level
    u = r - q
    return float(np.mean(u * (p - (u < 0))))
