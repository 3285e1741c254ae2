"""Concentration of a rating distribution: the Herfindahl index in the ECB's form, and its test.

ECB (2019), *Instructions for reporting the validation results of internal models --
IRB Pillar I models for credit risk*, section 2.5 on PD models, "concentration in rating
grades", pp. 26-27. With ``K`` grades and ``R_i = N_i / N`` the share of obligors in
grade ``i``:

* coefficient of variation ``CV = sqrt(K * sum_i (R_i - 1/K)^2)``;
* Herfindahl index ``HI = 1 + ln((CV^2 + 1) / K) / ln(K)``;
* test of "the concentration has not increased since initial validation":
  ``z = sqrt(K - 1) (CV_curr - CV_init) / sqrt(CV_curr^2 (1/2 + CV_curr^2))``,
  one-sided p-value ``1 - Phi(z)``.

The ECB's ``HI`` is **not** the plain sum of squared shares. Since
``CV^2 = K * sum R_i^2 - 1``, the plain index is ``H = sum R_i^2 = (CV^2 + 1) / K`` and
the ECB's is its normalised logarithm ``HI = 1 + ln(H) / ln(K)``: 0 for a uniform
distribution (``H = 1/K``), 1 when every obligor sits in one grade (``H = 1``). Both
are increasing in ``H``, so they order portfolios alike; both are reported.

``K`` is the number of grades of the rating scale, empty grades included (an empty
grade is part of the concentration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from riskops.errors import BadInputError
from riskops.stats._result import Result

__all__ = ["HerfindahlIndex", "HerfindahlTest", "herfindahl", "herfindahl_test"]


@dataclass(frozen=True)
class HerfindahlIndex(Result):
    """Concentration of one distribution over ``grades`` grades."""

    grades: int
    n: int
    cv: float
    hi_ecb: float
    """``1 + ln((CV^2 + 1) / K) / ln(K)``, in ``[0, 1]``."""
    sum_of_squares: float
    """``sum R_i^2``, in ``[1/K, 1]``."""


@dataclass(frozen=True)
class HerfindahlTest(Result):
    """The ECB's test of an increase in concentration since initial validation."""

    current: HerfindahlIndex
    initial: HerfindahlIndex
    statistic: float
    pvalue: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current.to_dict(),
            "initial": self.initial.to_dict(),
            "statistic": self.statistic,
            "pvalue": self.pvalue,
        }


def _counts(counts: Any) -> np.ndarray:
    c = np.asarray(counts, dtype=float).ravel()
    if c.size < 2:
        raise BadInputError(f"counts: the Herfindahl index needs at least 2 grades, got {c.size}")
    if np.any(c < 0) or not np.all(np.isfinite(c)):
        raise BadInputError("counts: grade counts must be finite and non-negative")
    if c.sum() <= 0:
        raise BadInputError("counts: no obligors in any grade")
    return c


def herfindahl(counts: Any) -> HerfindahlIndex:
    """The ECB's Herfindahl index (and the plain sum of squared shares) of grade counts."""
    c = _counts(counts)
    k = c.size
    shares = c / c.sum()
    cv = float(np.sqrt(k * np.sum((shares - 1.0 / k) ** 2)))
    return HerfindahlIndex(
        grades=k,
        n=round(float(c.sum())),
        cv=cv,
        hi_ecb=float(1.0 + np.log((cv * cv + 1.0) / k) / np.log(k)),
        sum_of_squares=float(np.sum(shares * shares)),
    )


def herfindahl_test(current_counts: Any, initial_counts: Any) -> HerfindahlTest:
    """One-sided test that the concentration of the current grades exceeds the initial one.

    Both count vectors are over the same grades, in the same order. A current
    distribution that is exactly uniform (``CV_curr = 0``, where the formula divides by
    zero) is not more concentrated than any other: the statistic is ``-inf`` (``0`` when
    the initial one is uniform too) and the p-value is 1.
    """
    current = herfindahl(current_counts)
    initial = herfindahl(initial_counts)
    if current.grades != initial.grades:
        raise BadInputError(
            f"initial_counts: {initial.grades} grades, the current counts have {current.grades}"
        )
    k = current.grades
    cv_c, cv_i = current.cv, initial.cv
    denominator = np.sqrt(cv_c * cv_c * (0.5 + cv_c * cv_c))
    if denominator > 0:
        statistic = float(np.sqrt(k - 1) * (cv_c - cv_i) / denominator)
    else:
        statistic = float("-inf") if cv_i > 0 else 0.0
    pvalue = float(special.ndtr(-statistic)) if denominator > 0 else 1.0
    return HerfindahlTest(current=current, initial=initial, statistic=statistic, pvalue=pvalue)
