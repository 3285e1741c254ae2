"""Small-sample tests for the promotion gates: exact, or Monte Carlo p-values with an exact
size (Dufour 2006), one-sided so that they refuse a VaR only for being too low.

* :func:`binomial_coverage` -- the exact one-sided binomial test of too many exceptions.
* :func:`tail_coverage` -- too many exceptions at a high level given those at a lower one.
* :func:`independence_mc` and :func:`conditional_coverage_mc` -- Christoffersen's
  statistics with Monte Carlo p-values.
* :func:`clustering_mc` -- the Ljung-Box statistic of the exceptions over ten lags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from riskops.backtests._common import _check_level, _hits, _Result

MC_SIMULATIONS = 9999
"""Monte Carlo replications of the simulated p-values: ``alpha * (N + 1)`` is an integer
for every ``alpha`` with four decimals, as Dufour (2006) requires for an exact test."""


@dataclass(frozen=True)
class BinomialResult(_Result):
    """Exact one-sided binomial test of too many exceptions.

    ``pvalue`` is ``P(X >= exceptions)`` under ``Binomial(trials, probability)``; zero
    exceptions give a p-value of one. ``passed`` is ``pvalue >= alpha``.
    """

    test: str
    pvalue: float
    passed: bool
    alpha: float
    level: float
    n: int
    trials: int
    exceptions: int
    probability: float
    expected: float


@dataclass(frozen=True)
class MonteCarloResult(_Result):
    """A statistic with a Monte Carlo p-value: ``(1 + #{S_i >= S_0}) / (N + 1)``."""

    test: str
    statistic: float
    pvalue: float
    passed: bool
    alpha: float
    level: float
    n: int
    exceptions: int
    null: str
    simulations: int
    seed: int


def binomial_coverage(hits: Any, level: float, *, alpha: float = 0.05) -> BinomialResult:
    """Exact one-sided binomial test that the VaR has too many exceptions.

    Under a correct VaR the number of exceptions in ``n`` days is
    ``Binomial(n, 1 - level)``; the p-value is the probability of at least as many as
    observed. Unlike Kupiec's (1995) two-sided likelihood ratio it never refuses a
    VaR for having few (or no) exceptions: a conservative VaR costs capital, it does
    not understate risk, and the Basel Committee (1996) penalises only many
    exceptions. Its size is at most ``alpha`` for every ``n`` (the binomial is
    discrete, so usually below): the test behind the traffic light's zones, whose
    yellow zone starts where this p-value drops below 5%.

    Parameters
    ----------
    hits
        Boolean exceedances.
    level
        VaR confidence level.
    alpha
        Size of the test.
    """
    h = _hits(hits)
    level = _check_level(level)
    n, x = h.size, int(h.sum())
    p = 1.0 - level
    pvalue = float(special.bdtrc(x - 1, n, p))
    return BinomialResult(
        test="binomial_coverage",
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=n,
        trials=n,
        exceptions=x,
        probability=p,
        expected=n * p,
    )


def tail_coverage(
    hits: Any, base_hits: Any, level: float, base_level: float, *, alpha: float = 0.05
) -> BinomialResult:
    """Exact one-sided test of too many exceptions at ``level`` given those at ``base_level``.

    A VaR at ``level`` (99%) is above the VaR at ``base_level`` (95%) of the same
    model, so every exception of the first is one of the second. Under a correct model
    each of the ``m`` exceptions at ``base_level`` is an exception at ``level`` with
    probability ``(1 - level) / (1 - base_level)`` (0.2 for 99% given 95%),
    independently: conditionally on ``m`` the count is ``Binomial(m, 0.2)`` whatever
    the dynamics of the returns. Conditioning removes the variance of ``m``, so the
    test sees a 99% VaR that is too low (its tail too thin relative to the 95% VaR)
    far better than the unconditional count does on the same days; it is the
    conditional form of the multinomial backtest of Kratz, Lok and McNeil (2018).

    A count at or below its unconditional expectation ``n (1 - level)`` is never
    evidence of an understated VaR, so it gets a p-value of one: few exceptions never
    fail coverage (this only lowers the size).

    Parameters
    ----------
    hits, base_hits
        Exceedances of the VaR at ``level`` and at ``base_level``, same days.
    level, base_level
        ``level > base_level``.
    alpha
        Size of the test.
    """
    h, b = _hits(hits), _hits(base_hits)
    level, base_level = _check_level(level), _check_level(base_level)
    if h.shape != b.shape:
        raise ValueError(f"hits {h.shape} and base_hits {b.shape} differ in shape")
    if not level > base_level:
        raise ValueError(f"level {level} must be above base_level {base_level}")
    if np.any(h & ~b):
        raise ValueError("an exception at the higher level must be one at the lower level")
    n, x, m = h.size, int(h.sum()), int(b.sum())
    p = (1.0 - level) / (1.0 - base_level)
    pvalue = 1.0 if x <= n * (1.0 - level) else float(special.bdtrc(x - 1, m, p))
    return BinomialResult(
        test="tail_coverage",
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=n,
        trials=m,
        exceptions=x,
        probability=p,
        expected=m * p,
    )


def _lr_independence_counts(
    n00: np.ndarray, n01: np.ndarray, n10: np.ndarray, n11: np.ndarray
) -> np.ndarray:
    """Christoffersen's independence LR from arrays of transition counts."""
    n00, n01, n10, n11 = (np.asarray(c, dtype=float) for c in (n00, n01, n10, n11))
    pi01 = np.where(n00 + n01 > 0, n01 / np.maximum(n00 + n01, 1), 0.0)
    pi11 = np.where(n10 + n11 > 0, n11 / np.maximum(n10 + n11, 1), 0.0)
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / np.maximum(total, 1)
    restricted = special.xlogy(n01 + n11, pi) + special.xlog1py(n00 + n10, -pi)
    unrestricted = (
        special.xlogy(n01, pi01)
        + special.xlog1py(n00, -pi01)
        + special.xlogy(n11, pi11)
        + special.xlog1py(n10, -pi11)
    )
    return np.maximum(-2.0 * (restricted - unrestricted), 0.0)


def _lr_independence_rows(h: np.ndarray) -> np.ndarray:
    """Christoffersen's independence LR of each row of a boolean matrix."""
    prev, cur = h[:, :-1], h[:, 1:]
    n11 = np.sum(prev & cur, axis=1)
    n10 = np.sum(prev & ~cur, axis=1)
    n01 = np.sum(~prev & cur, axis=1)
    n00 = prev.shape[1] - n11 - n10 - n01
    return _lr_independence_counts(n00, n01, n10, n11)


def _random_placements(rng: np.random.Generator, rows: int, n: int, x: int) -> np.ndarray:
    """``rows`` uniformly random sets of ``x`` days out of ``n``, sorted (Floyd's algorithm).

    Floyd's sampler draws one integer per chosen day, so the cost grows with ``x``
    rather than with ``n`` (exceptions are rare).
    """
    chosen = np.empty((rows, x), dtype=np.int64)
    for i, j in enumerate(range(n - x, n)):
        t = rng.integers(0, j + 1, size=rows)
        taken = (chosen[:, :i] == t[:, None]).any(axis=1)
        chosen[:, i] = np.where(taken, j, t)
    chosen.sort(axis=1)
    return chosen


def _lr_independence_placements(days: np.ndarray, n: int) -> np.ndarray:
    """Independence LR of each row of sorted exception days (``x >= 1``) in ``n`` days."""
    x = days.shape[1]
    n11 = np.sum(np.diff(days, axis=1) == 1, axis=1)
    n01 = x - (days[:, 0] == 0) - n11
    n10 = x - (days[:, -1] == n - 1) - n11
    n00 = (n - 1) - n11 - n01 - n10
    return _lr_independence_counts(n00, n01, n10, n11)


def _lr_pof_rows(h: np.ndarray, p: float) -> np.ndarray:
    n = h.shape[1]
    x = h.sum(axis=1).astype(float)
    phat = x / n
    null = special.xlogy(x, p) + special.xlog1py(n - x, -p)
    alt = special.xlogy(x, phat) + special.xlog1py(n - x, -phat)
    return np.maximum(-2.0 * (null - alt), 0.0)


# Same (n, exceptions, simulations, seed) -> same null sample: the gates of many models
# on the same window (and the size benchmark) do not redraw it.
_NULL_CACHE: dict[tuple[Any, ...], np.ndarray] = {}
_NULL_CACHE_SIZE = 256


def _cached_null(key: tuple[Any, ...], draw: Any) -> np.ndarray:
    if key not in _NULL_CACHE:
        if len(_NULL_CACHE) >= _NULL_CACHE_SIZE:
            _NULL_CACHE.pop(next(iter(_NULL_CACHE)))
        _NULL_CACHE[key] = draw()
    return _NULL_CACHE[key]


def _mc_pvalue(observed: float, null: np.ndarray) -> float:
    # Ties count against the model (1e-9 absorbs float rounding): the p-value is then
    # conservative, never anti-conservative, for a discrete statistic (Dufour 2006, who
    # also gives the randomised tie-break that would make it exact).
    return float((1 + np.sum(null >= observed - 1e-9)) / (null.size + 1))


def _chunks(total: int, size: int = 1000) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def independence_mc(
    hits: Any,
    level: float,
    *,
    alpha: float = 0.05,
    simulations: int = MC_SIMULATIONS,
    seed: int = 0,
) -> MonteCarloResult:
    """Christoffersen's (1998) independence statistic with an exact Monte Carlo p-value.

    The likelihood ratio of a first-order Markov chain against independence is far
    from its asymptotic chi-squared(1) with few exceptions (at 99%, ten in 1,000
    days). Under the null of independent exceptions with any constant probability,
    given their number ``x`` every placement of the ``x`` exceptions among the ``n``
    days is equally likely; the statistic's null distribution is simulated by drawing
    ``simulations`` such placements, and the p-value ``(1 + #{S_i >= S_0}) / (N + 1)``
    is that of Dufour's (2006) Monte Carlo test (the statistic being free of nuisance
    parameters conditionally on ``x``): its size is at most ``alpha`` in every sample,
    whatever the unknown exception probability. With fewer than two exceptions every
    placement gives the same statistic and the p-value is one.

    Christoffersen and Pelletier (2004) test the same hypothesis from the durations
    between exceptions; the Markov statistic kept here is the one the reports and the
    supervisory literature quote, with a p-value that holds at the sizes used.

    Parameters
    ----------
    hits
        Boolean exceedances (at least two days).
    level
        VaR confidence level (recorded; the test is conditional on the count).
    alpha, simulations, seed
        Size, Monte Carlo replications, seed of the null sample.
    """
    h = _hits(hits)
    level = _check_level(level)
    if h.size < 2:
        raise ValueError("the independence test needs at least two days")
    n, x = h.size, int(h.sum())
    observed = float(_lr_independence_rows(h[None, :])[0])

    def draw() -> np.ndarray:
        rng = np.random.default_rng([seed, n, x])
        days = _random_placements(rng, int(simulations), n, x)
        return _lr_independence_placements(days, n)

    if x < 2 or x > n - 2:
        pvalue = 1.0
    else:
        null = _cached_null(("ind", n, x, int(simulations), int(seed)), draw)
        pvalue = _mc_pvalue(observed, null)
    return MonteCarloResult(
        test="independence_mc",
        statistic=observed,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=n,
        exceptions=x,
        null=f"uniform placements of {x} exceptions in {n} days",
        simulations=int(simulations),
        seed=int(seed),
    )


def conditional_coverage_mc(
    hits: Any,
    level: float,
    *,
    alpha: float = 0.05,
    simulations: int = MC_SIMULATIONS,
    seed: int = 0,
) -> MonteCarloResult:
    """Christoffersen's (1998) conditional coverage statistic with a Monte Carlo p-value.

    The null sample is ``simulations`` sequences of ``n`` independent exceptions with
    probability ``1 - level`` (the correct model), as in Berkowitz, Christoffersen and
    Pelletier (2011) after Dufour (2006); the p-value is exact in small samples where
    the chi-squared(2) approximation has a size near 1% at 250 days. The statistic is
    two-sided in coverage (a VaR with too few exceptions fails it too), so it is
    reported rather than gated; the gates test coverage one-sidedly
    (:func:`binomial_coverage`) and independence separately (:func:`independence_mc`).
    """
    h = _hits(hits)
    level = _check_level(level)
    if h.size < 2:
        raise ValueError("the conditional coverage test needs at least two days")
    n, x = h.size, int(h.sum())
    p = 1.0 - level
    observed = float(_lr_pof_rows(h[None, :], p)[0] + _lr_independence_rows(h[None, :])[0])

    def draw() -> np.ndarray:
        rng = np.random.default_rng([seed, n, round(level * 1e6)])
        out = []
        for size in _chunks(int(simulations)):
            sim = rng.random((size, n)) < p
            out.append(_lr_pof_rows(sim, p) + _lr_independence_rows(sim))
        return np.concatenate(out)

    null = _cached_null(("cc", n, level, int(simulations), int(seed)), draw)
    pvalue = _mc_pvalue(observed, null)
    return MonteCarloResult(
        test="conditional_coverage_mc",
        statistic=observed,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=n,
        exceptions=x,
        null=f"independent exceptions with probability {p:g}",
        simulations=int(simulations),
        seed=int(seed),
    )


CLUSTERING_LAGS = 10
CLUSTERING_SIMULATIONS = 1999
"""``alpha * (N + 1)`` is an integer for the gate's 0.0025 (Dufour 2006)."""


def _ljung_box_placements(days: np.ndarray, n: int, lags: int) -> np.ndarray:
    """Ljung-Box statistic of the 0/1 series with exceptions on each row's sorted ``days``.

    Lag-``k`` cross products come from counting pairs of exception days ``k`` apart, so
    the cost grows with the number of exceptions, not with ``n``.
    """
    rows, x = days.shape
    p = x / n
    den = x - x * p  # sum of (h - p)^2
    stat = np.zeros(rows)
    for k in range(1, lags + 1):
        pairs = np.zeros(rows)
        for j in range(1, min(k, x - 1) + 1):
            pairs += np.sum(days[:, j:] - days[:, :-j] == k, axis=1)
        tail = x - np.sum(days < k, axis=1)  # sum of h_t for t >= k
        head = x - np.sum(days > n - 1 - k, axis=1)  # sum of h_t for t <= n - 1 - k
        cross = pairs - p * (tail + head) + (n - k) * p * p
        stat += (cross / den) ** 2 / (n - k)
    return n * (n + 2) * stat


def clustering_mc(
    hits: Any,
    level: float,
    *,
    lags: int = CLUSTERING_LAGS,
    alpha: float = 0.05,
    simulations: int = CLUSTERING_SIMULATIONS,
    seed: int = 0,
) -> MonteCarloResult:
    """Ljung-Box statistic of the exceptions over ``lags`` lags, exact Monte Carlo p-value.

    As :func:`independence_mc`, conditionally on the number of exceptions every
    placement is equally likely under independence, so the p-value ``(1 + #{S_i >=
    S_0}) / (N + 1)`` over ``simulations`` random placements is exact (Dufour 2006),
    whatever the exception probability. The statistic adds the squared autocorrelations
    of the hit series at lags 1 to ``lags`` (Ljung and Box, 1978): it sees exceptions
    that cluster over weeks, where the first-order Markov statistic has almost no power
    (measured in ``bench/bench_gates.py``: 6% against a 250-day historical simulation at
    95% over 1,000 days, 40% for this statistic at the same 0.25% slice).
    """
    h = _hits(hits)
    level = _check_level(level)
    n, x = h.size, int(h.sum())
    lags = int(min(lags, max(n - 2, 1)))
    days = np.flatnonzero(h)[None, :]
    observed = float(_ljung_box_placements(days, n, lags)[0]) if 2 <= x <= n - 2 else 0.0

    def draw() -> np.ndarray:
        rng = np.random.default_rng([seed, n, x, lags])
        return _ljung_box_placements(_random_placements(rng, int(simulations), n, x), n, lags)

    if x < 2 or x > n - 2:
        pvalue = 1.0
    else:
        null = _cached_null(("lb", n, x, lags, int(simulations), int(seed)), draw)
        pvalue = _mc_pvalue(observed, null)
    return MonteCarloResult(
        test="clustering_mc",
        statistic=observed,
        pvalue=pvalue,
        passed=bool(pvalue >= alpha),
        alpha=float(alpha),
        level=level,
        n=n,
        exceptions=x,
        null=f"uniform placements of {x} exceptions in {n} days, Ljung-Box over {lags} lags",
        simulations=int(simulations),
        seed=int(seed),
    )
