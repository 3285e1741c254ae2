"""The ratio of two binomial proportions (an adverse impact ratio, a relative risk) with
its confidence interval.

* :func:`alert_rate_band` -- the band of rates a binomial count at a target rate falls in
  (an anomaly detector's alert rate, held out or live);
* :func:`ratio_interval` -- Koopman's (1984) score interval (the default; coverage close to
  nominal from a few dozen per group, and it stays inside ``[0, inf)`` with zero counts)
  or Katz's log interval (Katz, Baptista, Azen and Pike, 1978).

References
----------
Katz, D., Baptista, J., Azen, S. P. and Pike, M. C. (1978), Obtaining confidence intervals
for the risk ratio in cohort studies, Biometrics 34(3), 469-474.
Koopman, P. A. R. (1984), Confidence intervals for the ratio of two binomial proportions,
Biometrics 40(2), 513-517.
Miettinen, O. and Nurminen, M. (1985), Comparative analysis of two rates, Statistics in
Medicine 4(2), 213-226 (the restricted maximum likelihood used by the score interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import optimize, stats
from scipy.stats import binom

from riskops.stats._result import Result

__all__ = ["ALERT_BAND_COVERAGE", "RatioInterval", "alert_rate_band", "ratio_interval"]

ALERT_BAND_COVERAGE = 0.99
"""Coverage of :func:`alert_rate_band`'s band (99%: the policy's)."""


@dataclass(frozen=True)
class RatioInterval(Result):
    """``ratio = (x1 / n1) / (x2 / n2)`` and its ``confidence`` interval."""

    ratio: float
    low: float
    high: float
    confidence: float
    method: str
    x1: int
    n1: int
    x2: int
    n2: int


def _check(x: int, n: int, name: str) -> None:
    if n < 1 or not 0 <= x <= n:
        raise ValueError(f"{name}: need 0 <= x <= n and n >= 1, got x={x}, n={n}")


def _restricted(x1: int, n1: int, x2: int, n2: int, ratio: float) -> tuple[float, float]:
    """Maximum likelihood of ``(p1, p2)`` under ``p1 = ratio * p2`` (Miettinen-Nurminen)."""
    a = ratio * (n1 + n2)
    b = -(ratio * n1 + x1 + n2 + ratio * x2)
    c = float(x1 + x2)
    disc = max(b * b - 4.0 * a * c, 0.0)
    p2 = (-b - math.sqrt(disc)) / (2.0 * a)
    return min(ratio * p2, 1.0), p2


def _score(x1: int, n1: int, x2: int, n2: int, ratio: float) -> float:
    p1, p2 = _restricted(x1, n1, x2, n2, ratio)
    variance = p1 * (1.0 - p1) / n1 + ratio**2 * p2 * (1.0 - p2) / n2
    gap = x1 / n1 - ratio * x2 / n2
    if variance <= 0:
        return 0.0 if gap == 0 else math.copysign(math.inf, gap)
    return gap / math.sqrt(variance)


def ratio_interval(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    *,
    confidence: float = 0.95,
    method: Literal["score", "katz"] = "score",
) -> RatioInterval:
    """Confidence interval of ``p1 / p2`` from ``x1`` of ``n1`` and ``x2`` of ``n2``.

    Parameters
    ----------
    x1, n1, x2, n2
        Successes and trials of the numerator and denominator groups.
    confidence
        Two-sided coverage, e.g. 0.95.
    method
        ``"score"`` (Koopman, 1984: the ratios whose score statistic is within the normal
        quantile) or ``"katz"`` (log ratio plus or minus ``z sqrt(1/x1 - 1/n1 + 1/x2 -
        1/n2)``; a zero count gets 0.5 added to it and its trials).
    """
    x1, n1, x2, n2 = int(x1), int(n1), int(x2), int(n2)
    _check(x1, n1, "x1/n1")
    _check(x2, n2, "x2/n2")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = float(stats.norm.isf((1.0 - confidence) / 2.0))
    ratio = (x1 / n1) / (x2 / n2) if x2 else math.inf
    if method == "katz":
        a, b = (x1 + 0.5, n1 + 0.5) if x1 == 0 else (x1, n1)
        c, d = (x2 + 0.5, n2 + 0.5) if x2 == 0 else (x2, n2)
        centre = math.log((a / b) / (c / d))
        half = z * math.sqrt(1 / a - 1 / b + 1 / c - 1 / d)
        low, high = math.exp(centre - half), math.exp(centre + half)
    elif method == "score":
        low, high = _score_bounds(x1, n1, x2, n2, z)
    else:
        raise ValueError(f"method must be score or katz, not {method!r}")
    return RatioInterval(
        ratio=float(ratio),
        low=float(low),
        high=float(high),
        confidence=float(confidence),
        method=method,
        x1=x1,
        n1=n1,
        x2=x2,
        n2=n2,
    )


def _score_bounds(x1: int, n1: int, x2: int, n2: int, z: float) -> tuple[float, float]:
    """The ratios where Koopman's score statistic equals ``+z`` (low) and ``-z`` (high)."""

    # The score statistic falls as the hypothesised ratio rises; search on log(ratio).
    def f(log_ratio: float, target: float) -> float:
        return _score(x1, n1, x2, n2, math.exp(log_ratio)) - target

    edge = 30.0  # exp(+-30): ratios no data can tell from 0 or infinity
    low = 0.0
    if x1 > 0:
        low = (
            math.exp(optimize.brentq(f, -edge, edge, args=(z,)))
            if f(-edge, z) > 0 > f(edge, z)
            else 0.0
        )
    high = math.inf
    if x2 > 0:
        high = (
            math.exp(optimize.brentq(f, -edge, edge, args=(-z,)))
            if f(-edge, -z) > 0 > f(edge, -z)
            else math.inf
        )
    return low, high


def alert_rate_band(
    n_days: int, target: float, coverage: float = ALERT_BAND_COVERAGE
) -> tuple[float, float]:
    """Alert rates a correctly calibrated threshold gives on ``n_days`` independent days.

    The number of alerts is ``Binomial(n_days, target)``; the band runs from its
    ``(1 - coverage) / 2`` quantile to its ``(1 + coverage) / 2`` quantile, divided by
    ``n_days``. For 993 days at 1% and 99% coverage: 3 to 19 alerts, 0.30% to 1.91%.
    """
    if n_days < 1:
        return math.nan, math.nan
    tail = (1.0 - coverage) / 2.0
    low = float(binom.ppf(tail, n_days, target))
    high = float(binom.isf(tail, n_days, target))
    return low / n_days, high / n_days
