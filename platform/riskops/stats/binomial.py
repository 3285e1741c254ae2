"""Calibration tests of default counts against a PD: Jeffreys, exact binomial, normal approximation.

Each test asks, for one rating grade (or the whole portfolio) with ``n`` obligors, ``d``
defaults within the horizon and the PD the grade was given at the start of the period:
is the PD too low? All three are one-sided: few defaults never reject, because an
overestimated PD is conservative (it costs capital, it does not hide risk).

Jeffreys test (ECB, 2019, *Instructions for reporting the validation results of internal
models -- IRB Pillar I models for credit risk*, section 2.5 on PD models, "Jeffreys test",
pp. 20-21)
    Under the Jeffreys prior ``Beta(1/2, 1/2)`` for the default rate, the posterior after
    ``d`` defaults in ``n`` is ``Beta(d + 1/2, n - d + 1/2)``; the p-value is that
    posterior's cumulative distribution function at the PD, ``P(rate <= PD | d, n)``.
    The null hypothesis is "the PD is not lower than the true default rate"; a small
    p-value rejects it. Worked example (Baesens, Rösch & Scheule, *Deep Credit Risk*,
    2021; training.deepcreditrisk.com, "Jeffreys prior test"): ``n = 6``, ``d = 2``,
    ``PD = 3.67%`` gives ``0.0044``.

Exact binomial test (Basel Committee on Banking Supervision, 2005, *Studies on the
validation of internal rating systems*, Working Paper 14, section on the binomial test)
    With independent defaults, ``D ~ Binomial(n, PD)`` under the null; the p-value is
    ``P(D >= d)``. The critical number of defaults at confidence ``q`` is the smallest
    ``k*`` with ``P(D >= k*) <= 1 - q``: reject when ``d >= k*``.

Normal approximation (same Working Paper 14)
    ``k* ~ n PD + Phi^{-1}(q) sqrt(n PD (1 - PD))``, i.e. the p-value
    ``1 - Phi((d - n PD) / sqrt(n PD (1 - PD)))``, without a continuity correction as in
    the paper. It is too liberal for small ``n PD`` (a handful of expected defaults); the
    exact test is the one to use, the approximation is reported for comparison with
    validation reports that use it.

Traffic lights (Tasche, 2003, "A traffic lights approach to PD validation",
arXiv:cond-mat/0305038; Oesterreichische Nationalbank, 2004, *Rating Models and
Validation*, section 6.2)
    Green when the deviation is not significant at 95% (p-value at least 0.05), red when
    significant at 99.9% (p-value below 0.001), yellow between. The thresholds are the
    policy's.

Defaults are assumed independent. Correlated defaults (one economic cycle moves every
obligor) make all three tests reject a correct PD too often in a bad year; Working
Paper 14 discusses the correction, which needs an asset correlation this module does not
assume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from riskops.errors import BadInputError
from riskops.stats._result import Result

__all__ = [
    "LIGHTS",
    "CalibrationTests",
    "binomial_critical_defaults",
    "binomial_normal_pvalue",
    "binomial_pvalue",
    "calibration_tests",
    "jeffreys_pvalue",
    "traffic_light",
]

LIGHTS = ("green", "yellow", "red", "not_evaluated")
"""Traffic-light values; ``not_evaluated`` for a grade without observations."""


def _counts(defaults: Any, n: Any, pd_: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(defaults, dtype=float)
    n_ = np.asarray(n, dtype=float)
    p = np.asarray(pd_, dtype=float)
    d, n_, p = np.broadcast_arrays(d, n_, p)
    if np.any(n_ < 0) or np.any(d < 0) or np.any(d > n_):
        raise BadInputError("defaults: need 0 <= defaults <= n")
    if np.any(d != np.floor(d)) or np.any(n_ != np.floor(n_)):
        raise BadInputError("defaults, n: must be whole numbers")
    if np.any((p < 0) | (p > 1)):
        raise BadInputError("pd: must be within [0, 1]")
    return d, n_, p


def _scalar_or_array(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def jeffreys_pvalue(defaults: Any, n: Any, pd_: Any) -> Any:
    """One-sided Jeffreys test p-value: ``Beta(d + 1/2, n - d + 1/2).cdf(PD)`` (ECB, 2019).

    Vectorised over grades. ``n = 0`` gives ``nan`` (nothing observed, nothing tested).

    Parameters
    ----------
    defaults
        Defaults observed within the horizon.
    n
        Obligors observed.
    pd_
        The PD of the grade (the mean PD of its obligors at the start of the period).
    """
    d, n_, p = _counts(defaults, n, pd_)
    with np.errstate(invalid="ignore"):
        value = special.betainc(d + 0.5, n_ - d + 0.5, p)
    value = np.where(n_ > 0, value, np.nan)
    return _scalar_or_array(value)


def binomial_pvalue(defaults: Any, n: Any, pd_: Any) -> Any:
    """Exact one-sided binomial p-value ``P(D >= d)``, ``D ~ Binomial(n, PD)`` (BCBS WP14)."""
    d, n_, p = _counts(defaults, n, pd_)
    # bdtrc(k, n, p) is P(D > k): at d = 0 it is evaluated at k = -1, which is 1.
    value = np.where(d > 0, special.bdtrc(np.maximum(d - 1, 0), n_, p), 1.0)
    value = np.where(n_ > 0, value, np.nan)
    return _scalar_or_array(value)


def binomial_normal_pvalue(defaults: Any, n: Any, pd_: Any) -> Any:
    """Normal approximation of the binomial p-value, ``1 - Phi((d - n PD) / sqrt(n PD (1 - PD)))``.

    A PD of exactly 0 or 1 has no variance: the p-value is 0 when more defaults than
    expected are seen and 1 otherwise.
    """
    d, n_, p = _counts(defaults, n, pd_)
    sd = np.sqrt(n_ * p * (1.0 - p))
    excess = d - n_ * p
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(sd > 0, special.ndtr(-excess / np.where(sd > 0, sd, 1.0)), 0.0)
    value = np.where((sd == 0) & (excess <= 0), 1.0, value)
    value = np.where(n_ > 0, value, np.nan)
    return _scalar_or_array(value)


def binomial_critical_defaults(
    n: Any, pd_: Any, confidence: float = 0.95, method: str = "exact"
) -> Any:
    """The critical number of defaults ``k*`` of Working Paper 14: reject the PD when ``d >= k*``.

    ``method="exact"``: the smallest ``k`` with ``P(D >= k) <= 1 - confidence``;
    ``method="normal"``: ``n PD + Phi^{-1}(confidence) sqrt(n PD (1 - PD))`` (a real number,
    as the paper writes it).
    """
    if not 0.0 < confidence < 1.0:
        raise BadInputError(f"confidence: {confidence} is not in (0, 1)")
    _, n_, p = _counts(0, n, pd_)
    if method == "exact":
        from scipy.stats import binom

        # isf gives the smallest k with P(D > k) <= alpha, so P(D >= k + 1) <= alpha.
        value = binom.isf(1.0 - confidence, n_, p) + 1.0
    elif method == "normal":
        value = n_ * p + special.ndtri(confidence) * np.sqrt(n_ * p * (1.0 - p))
    else:
        raise BadInputError(f"method: {method!r} is not 'exact' or 'normal'")
    return _scalar_or_array(np.asarray(value, dtype=float))


def traffic_light(pvalue: Any, yellow_below: float = 0.05, red_below: float = 0.001) -> Any:
    """``green`` when ``p >= yellow_below``, ``red`` when ``p < red_below``, ``yellow`` between.

    ``nan`` (no observations) is ``not_evaluated``, never green.
    """
    if not 0.0 < red_below < yellow_below < 1.0:
        raise BadInputError(
            f"traffic lights: need 0 < red_below ({red_below}) < yellow_below ({yellow_below}) < 1"
        )
    p = np.asarray(pvalue, dtype=float)
    light = np.select(
        [np.isnan(p), p < red_below, p < yellow_below],
        ["not_evaluated", "red", "yellow"],
        default="green",
    ).astype(object)
    return str(light.item()) if light.ndim == 0 else light


@dataclass(frozen=True)
class CalibrationTests(Result):
    """The three tests per grade (tuples in grade order) and their traffic lights.

    ``binomial_critical`` is the exact ``k*`` at ``confidence = 1 - yellow_below``.
    """

    labels: tuple[str, ...]
    n: tuple[int, ...]
    defaults: tuple[int, ...]
    pd: tuple[float, ...]
    default_rate: tuple[float, ...]
    jeffreys_pvalue: tuple[float, ...]
    binomial_pvalue: tuple[float, ...]
    binomial_normal_pvalue: tuple[float, ...]
    binomial_critical: tuple[float, ...]
    jeffreys_light: tuple[str, ...]
    binomial_light: tuple[str, ...]
    yellow_below: float
    red_below: float

    def rows(self) -> list[dict[str, Any]]:
        """One dict per grade, for tables."""
        names = [
            "n",
            "defaults",
            "pd",
            "default_rate",
            "jeffreys_pvalue",
            "binomial_pvalue",
            "binomial_normal_pvalue",
            "binomial_critical",
            "jeffreys_light",
            "binomial_light",
        ]
        columns = {name: getattr(self, name) for name in names}
        return [
            {"label": label, **{name: values[i] for name, values in columns.items()}}
            for i, label in enumerate(self.labels)
        ]


def calibration_tests(
    labels: Any,
    n: Any,
    defaults: Any,
    pd_: Any,
    *,
    yellow_below: float = 0.05,
    red_below: float = 0.001,
) -> CalibrationTests:
    """Jeffreys, exact binomial and normal-approximation tests with traffic lights, per grade.

    Parameters
    ----------
    labels
        Grade labels (``"G1"``...), or ``("portfolio",)``.
    n, defaults
        Obligors and defaults per grade.
    pd_
        PD per grade (the mean PD of the grade's obligors).
    yellow_below, red_below
        Traffic-light p-value thresholds (policy).
    """
    d, n_, p = _counts(defaults, n, pd_)
    d, n_, p = np.atleast_1d(d), np.atleast_1d(n_), np.atleast_1d(p)
    names = tuple(str(x) for x in np.atleast_1d(np.asarray(labels, dtype=object)))
    if len(names) != len(n_):
        raise BadInputError(f"labels: {len(names)} labels for {len(n_)} grades")
    jeffreys = np.atleast_1d(jeffreys_pvalue(d, n_, p))
    exact = np.atleast_1d(binomial_pvalue(d, n_, p))
    normal = np.atleast_1d(binomial_normal_pvalue(d, n_, p))
    critical = np.atleast_1d(binomial_critical_defaults(n_, p, 1.0 - yellow_below))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_ > 0, d / np.where(n_ > 0, n_, 1.0), np.nan)
    return CalibrationTests(
        labels=names,
        n=tuple(int(x) for x in n_),
        defaults=tuple(int(x) for x in d),
        pd=tuple(float(x) for x in p),
        default_rate=tuple(float(x) for x in rate),
        jeffreys_pvalue=tuple(float(x) for x in jeffreys),
        binomial_pvalue=tuple(float(x) for x in exact),
        binomial_normal_pvalue=tuple(float(x) for x in normal),
        binomial_critical=tuple(float(x) for x in critical),
        jeffreys_light=tuple(np.atleast_1d(traffic_light(jeffreys, yellow_below, red_below))),
        binomial_light=tuple(np.atleast_1d(traffic_light(exact, yellow_below, red_below))),
        yellow_below=float(yellow_below),
        red_below=float(red_below),
    )
