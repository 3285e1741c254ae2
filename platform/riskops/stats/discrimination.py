"""Discrimination of a score: AUC, its standard error, and tests on it.

The AUC is the Mann-Whitney probability that a random positive (a default) scores above
a random negative, ties counting one half.

DeLong's variance (DeLong, DeLong & Clarke-Pearson, 1988, "Comparing the areas under two
or more correlated receiver operating characteristic curves: a nonparametric approach",
*Biometrics* 44(3), 837-845)
    The AUC is a two-sample U-statistic; its structural components are, for each
    positive ``i``, ``V10_i`` = the share of negatives it outscores, and for each
    negative ``j``, ``V01_j`` = the share of positives that outscore it. Then
    ``Var(AUC) = S10 / m + S01 / n`` with ``S10``, ``S01`` the sample (co)variances of
    the components, ``m`` positives and ``n`` negatives. For several scores on the same
    applicants the same formula gives their covariance matrix, whence the paired test.

Fast algorithm (Sun & Xu, 2014, "Fast implementation of DeLong's algorithm for comparing
the areas under correlated receiver operating characteristic curves", *IEEE Signal
Processing Letters* 21(11), 1389-1393)
    With ``Tz`` the midranks of all scores, ``Tx`` those of the positives among
    themselves and ``Ty`` those of the negatives: ``V10 = (Tz_x - Tx) / n`` and
    ``V01 = 1 - (Tz_y - Ty) / m``, so everything costs three sorts, ``O(N log N)``,
    instead of the ``m n`` comparisons.

Hanley & McNeil's standard error (Hanley & McNeil, 1982, "The meaning and use of the
area under a receiver operating characteristic (ROC) curve", *Radiology* 143, 29-36)
    ``SE^2 = [A(1-A) + (m-1)(Q1 - A^2) + (n-1)(Q2 - A^2)] / (m n)`` with
    ``Q1 = A / (2 - A)``, ``Q2 = 2A^2 / (1 + A)``: a function of the AUC and the counts
    only (exact for exponential score distributions), for when the scores themselves are
    not at hand.

Current AUC against the AUC at initial validation (ECB, 2019, *Instructions for
reporting the validation results of internal models -- IRB Pillar I models for credit
risk*, section 2.5 on PD models, "current AUC vs. AUC at initial validation/development",
and Annex 1, statistics on the discriminatory power of PD models)
    ``S = (AUC_init - AUC_curr) / s`` with ``s`` the standard error of the current AUC
    (the initial AUC is taken as given, not re-estimated); ``S`` is asymptotically
    standard normal and the one-sided p-value is ``1 - Phi(S)``: small when the current
    AUC is significantly below the initial one. ``s`` is DeLong's standard error here
    (the structural-component estimator above), Hanley-McNeil's on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from riskops.errors import BadInputError
from riskops.stats._result import Result

__all__ = [
    "AucEstimate",
    "AucVsInitialTest",
    "PairedAucTest",
    "auc_vs_initial",
    "compare_with_initial",
    "delong_auc",
    "delong_components",
    "delong_paired_test",
    "hanley_mcneil_se",
]


@dataclass(frozen=True)
class AucEstimate(Result):
    """An AUC with DeLong's variance and Hanley-McNeil's standard error for comparison."""

    auc: float
    variance: float
    se: float
    se_hanley_mcneil: float
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class PairedAucTest(Result):
    """DeLong's test of two AUCs on the same applicants (``difference = auc_a - auc_b``).

    ``pvalue`` is two-sided; ``pvalue_a_lower`` is one-sided for the alternative
    ``AUC_a < AUC_b`` (e.g. the champion ``a`` is worse than the challenger ``b``).
    Identical rankings have a difference of exactly zero and no variance: ``z = 0`` and
    both p-values are one.
    """

    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    pvalue: float
    pvalue_a_lower: float
    correlation: float
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class AucVsInitialTest(Result):
    """The ECB's test of the current AUC against the AUC at initial validation."""

    auc_current: float
    auc_initial: float
    se: float
    variance_method: str
    statistic: float
    pvalue: float
    n_positive: int
    n_negative: int


def _labels_and_scores(y: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if y.ndim != 1:
        raise BadInputError("y: must be one-dimensional")
    if y.dtype == bool:
        y = y.astype(np.int8)
    if not np.all((y == 0) | (y == 1)):
        raise BadInputError("y: outcomes must be 0 or 1")
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != y.shape[0]:
        raise BadInputError(f"score: {s.shape[1]} scores for {y.shape[0]} outcomes")
    if not np.all(np.isfinite(s)):
        raise BadInputError("score: scores must be finite")
    m = int(np.count_nonzero(y))
    n = y.shape[0] - m
    if m < 2 or n < 2:
        raise BadInputError(
            f"y: DeLong's variance needs at least 2 positives and 2 negatives (got {m} and {n})"
        )
    return y.astype(bool), s


def _structural_components(
    positive: np.ndarray, score: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC, ``V10`` and ``V01`` of one score from a single sort (Sun & Xu's midranks).

    In the sorted order, a tie group at positions ``a+1 .. b`` has the combined midrank
    ``(a + 1 + b) / 2``; its ``k`` positives, after ``p`` positives in lower groups, have
    the within-class midrank ``p + (k + 1) / 2``, and likewise its negatives. One
    ``O(N log N)`` sort, then ``O(N)`` passes (three sorts in Sun & Xu's description).
    Components come back in the caller's order of positives and of negatives, so that
    several scores' components pair up applicant by applicant.
    """
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    is_pos = positive[order]
    new_group = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    starts = np.flatnonzero(new_group)
    group = np.cumsum(new_group) - 1
    ends = np.append(starts[1:], ordered.size)
    combined = (starts + 1 + ends) / 2.0
    pos_in_group = np.add.reduceat(is_pos.astype(np.int64), starts)
    neg_in_group = (ends - starts) - pos_in_group
    pos_before = np.cumsum(pos_in_group) - pos_in_group
    neg_before = np.cumsum(neg_in_group) - neg_in_group
    within_sorted = np.where(
        is_pos,
        pos_before[group] + (pos_in_group[group] + 1) / 2.0,
        neg_before[group] + (neg_in_group[group] + 1) / 2.0,
    )
    tz = np.empty(ordered.size)
    tz[order] = combined[group]
    within = np.empty(ordered.size)
    within[order] = within_sorted
    m = int(pos_in_group.sum())
    n = ordered.size - m
    tz_pos = tz[positive]
    auc = (tz_pos.sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz_pos - within[positive]) / n
    v01 = 1.0 - (tz[~positive] - within[~positive]) / m
    return float(auc), v10, v01


def delong_components(y: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong's structural components of ``k`` scores (Sun & Xu's algorithm).

    Parameters
    ----------
    y
        Outcomes, 1 = positive (default).
    scores
        ``(N,)`` or ``(k, N)``: higher means more likely positive.

    Returns
    -------
    auc : ndarray, shape (k,)
    v10 : ndarray, shape (k, m)
        Per positive, the share of negatives it outscores (ties one half).
    v01 : ndarray, shape (k, n)
        Per negative, the share of positives that outscore it.
    """
    positive, s = _labels_and_scores(y, scores)
    parts = [_structural_components(positive, row) for row in s]
    auc = np.array([part[0] for part in parts])
    v10 = np.vstack([part[1] for part in parts])
    v01 = np.vstack([part[2] for part in parts])
    return auc, v10, v01


def _covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    m, n = v10.shape[1], v01.shape[1]
    return np.atleast_2d(np.cov(v10, ddof=1)) / m + np.atleast_2d(np.cov(v01, ddof=1)) / n


def hanley_mcneil_se(auc: float, n_positive: int, n_negative: int) -> float:
    """Hanley & McNeil's (1982) standard error of an AUC from its value and the counts."""
    a = float(auc)
    if not 0.0 <= a <= 1.0:
        raise BadInputError(f"auc: {auc} is not within [0, 1]")
    if n_positive < 1 or n_negative < 1:
        raise BadInputError("n_positive, n_negative: need at least one of each")
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    variance = (
        a * (1.0 - a) + (n_positive - 1) * (q1 - a * a) + (n_negative - 1) * (q2 - a * a)
    ) / (n_positive * n_negative)
    return float(np.sqrt(max(variance, 0.0)))


def delong_auc(y: Any, score: Any) -> AucEstimate:
    """The AUC of one score with DeLong's variance (fast algorithm) and Hanley-McNeil's SE."""
    auc, v10, v01 = delong_components(y, score)
    variance = float(_covariance(v10, v01)[0, 0])
    m, n = v10.shape[1], v01.shape[1]
    return AucEstimate(
        auc=float(auc[0]),
        variance=variance,
        se=float(np.sqrt(variance)),
        se_hanley_mcneil=hanley_mcneil_se(float(auc[0]), m, n),
        n_positive=m,
        n_negative=n,
    )


def delong_paired_test(y: Any, score_a: Any, score_b: Any) -> PairedAucTest:
    """DeLong's test that two scores of the same applicants have the same AUC.

    ``z = (AUC_a - AUC_b) / sqrt(Var_a + Var_b - 2 Cov_ab)``, asymptotically standard
    normal under the null (DeLong et al., 1988).
    """
    a = np.asarray(score_a, dtype=float)
    b = np.asarray(score_b, dtype=float)
    if a.shape != b.shape:
        raise BadInputError(f"score_b: shape {b.shape} differs from score_a's {a.shape}")
    auc, v10, v01 = delong_components(y, np.vstack([a, b]))
    cov = _covariance(v10, v01)
    difference = float(auc[0] - auc[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    # Equal rankings give exactly equal components: round-off, not evidence, below this.
    tiny = 1e-12 * max(float(cov[0, 0] + cov[1, 1]), 1e-300)
    if variance <= tiny:
        z, pvalue, pvalue_lower, se = 0.0, 1.0, 1.0, 0.0
    else:
        se = float(np.sqrt(variance))
        z = difference / se
        pvalue = float(2.0 * special.ndtr(-abs(z)))
        pvalue_lower = float(special.ndtr(z))
    denominator = float(np.sqrt(cov[0, 0] * cov[1, 1]))
    correlation = float(cov[0, 1] / denominator) if denominator > 0 else float("nan")
    return PairedAucTest(
        auc_a=float(auc[0]),
        auc_b=float(auc[1]),
        difference=difference,
        se=se,
        z=float(z),
        pvalue=float(pvalue),
        pvalue_a_lower=float(pvalue_lower),
        correlation=correlation,
        n_positive=int(v10.shape[1]),
        n_negative=int(v01.shape[1]),
    )


def auc_vs_initial(
    y: Any, score: Any, auc_initial: float, variance: str = "delong"
) -> AucVsInitialTest:
    """The ECB's test of the current AUC against the AUC at initial validation (2019).

    Parameters
    ----------
    y, score
        Matured outcomes and the scores (PDs or grade numbers) given at decision time.
    auc_initial
        The AUC at initial validation or development, taken as given.
    variance
        ``"delong"`` (default) or ``"hanley_mcneil"``: the standard error ``s`` of the
        current AUC.
    """
    return compare_with_initial(delong_auc(y, score), auc_initial, variance)


def compare_with_initial(
    estimate: AucEstimate, auc_initial: float, variance: str = "delong"
) -> AucVsInitialTest:
    """:func:`auc_vs_initial` from an AUC already estimated (one sort, not two)."""
    if not 0.0 <= float(auc_initial) <= 1.0:
        raise BadInputError(f"auc_initial: {auc_initial} is not within [0, 1]")
    if variance == "delong":
        se = estimate.se
    elif variance == "hanley_mcneil":
        se = estimate.se_hanley_mcneil
    else:
        raise BadInputError(f"variance: {variance!r} is not 'delong' or 'hanley_mcneil'")
    gap = float(auc_initial) - estimate.auc
    # se = 0: every positive above (or below) every negative, no sampling variance left.
    statistic = gap / se if se > 0 else (float(np.sign(gap) * np.inf) if gap != 0 else 0.0)
    return AucVsInitialTest(
        auc_current=estimate.auc,
        auc_initial=float(auc_initial),
        se=float(se),
        variance_method=variance,
        statistic=float(statistic),
        pvalue=float(special.ndtr(-statistic)),
        n_positive=estimate.n_positive,
        n_negative=estimate.n_negative,
    )
