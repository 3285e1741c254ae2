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

The ECB's statistic does not depend on the number of obligors: its denominator is the
normal-theory standard error of a coefficient of variation of ``K`` values, not the
sampling noise of ``N`` obligors. When the initial distribution is (nearly) uniform --
which a rating scale with edges at the development sample's PD quantiles makes it,
exactly -- ``CV_init = 0`` and ``z = sqrt(K - 1) / sqrt(1/2 + CV_curr^2)``, about 3.7 for
eight grades however small the current deviation: the test rejects a correct model
almost surely (measured in ``bench/bench_outcomes.py``). The statistic and its p-value
are reported because the instructions ask for them; a decision uses ``pvalue_mc``
instead: the Monte Carlo p-value ``(1 + #{H* >= H}) / (B + 1)`` of the observed
``sum R_i^2`` over ``B`` seeded draws (Dufour, 2006) of ``N`` obligors from shares that
are themselves as uncertain as the initial sample: shares ~ Dirichlet(initial counts),
then counts ~ Multinomial(N, shares). The Dirichlet step matters: the initial counts are
a sample too (for quantile grades, the true mass between sample quantiles is
Dirichlet-distributed, the spacings of uniform order statistics), and a test that took
them for the truth would read their noise as a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from riskops.errors import BadInputError
from riskops.stats._result import Result, jsonable

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
    """The ECB's ``z``."""
    pvalue: float
    """The ECB's ``1 - Phi(z)`` (reported; see the module on its size)."""
    pvalue_mc: float
    """Monte Carlo p-value of ``sum R_i^2`` (Dirichlet-multinomial null; for decisions)."""
    simulations: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current.to_dict(),
            "initial": self.initial.to_dict(),
            "statistic": jsonable(self.statistic),
            "pvalue": jsonable(self.pvalue),
            "pvalue_mc": jsonable(self.pvalue_mc),
            "simulations": self.simulations,
            "seed": self.seed,
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


def herfindahl_test(
    current_counts: Any, initial_counts: Any, *, simulations: int = 9999, seed: int = 0
) -> HerfindahlTest:
    """One-sided tests that the current grades are more concentrated than the initial ones.

    Both count vectors are over the same grades, in the same order. A current
    distribution that is exactly uniform (``CV_curr = 0``, where the ECB's formula
    divides by zero) is not more concentrated than any other: the statistic is ``-inf``
    (``0`` when the initial one is uniform too) and the p-value is 1.

    Parameters
    ----------
    current_counts, initial_counts
        Obligors per grade now and at initial validation.
    simulations, seed
        Draws of the Monte Carlo p-value (9,999: ``alpha (B + 1)`` is an integer for
        every ``alpha`` with four decimals).
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
    return HerfindahlTest(
        current=current,
        initial=initial,
        statistic=statistic,
        pvalue=pvalue,
        pvalue_mc=_monte_carlo_pvalue(
            current.sum_of_squares, current.n, initial_counts, simulations, seed
        ),
        simulations=int(simulations),
        seed=int(seed),
    )


def _monte_carlo_pvalue(
    observed: float, n: int, initial_counts: Any, simulations: int, seed: int
) -> float:
    """``(1 + #{H* >= H}) / (B + 1)``, ``H*`` of ``n`` obligors drawn from shares drawn
    from Dirichlet(initial counts); an initially empty grade gets the Jeffreys weight 1/2."""
    if simulations < 99:
        raise BadInputError(f"simulations: {simulations} is too few for a p-value (at least 99)")
    weights = np.maximum(_counts(initial_counts), 0.5)
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(weights, size=simulations)
    draws = rng.multinomial(n, shares) / n
    simulated = np.einsum("ij,ij->i", draws, draws)
    # Equal sums of squares computed in another order differ in the last bits.
    exceed = int(np.count_nonzero(simulated >= observed * (1.0 - 1e-12)))
    return (1 + exceed) / (simulations + 1)
