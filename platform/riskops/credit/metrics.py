"""Discrimination, calibration and stability metrics of PD models.

References
----------
- Hand & Till (2001); Mann & Whitney (1947): AUC is the probability that a random
  default scores above a random non-default, ``U / (n_1 n_0)``.
- Gini (accuracy ratio) ``= 2 AUC - 1`` (Engelmann, Hayden & Tasche, 2003, "Testing
  rating accuracy", Risk 16(1)).
- Kolmogorov-Smirnov: the largest distance between the score distributions of
  defaults and non-defaults, ``max_t |F_1(t) - F_0(t)|`` (Siddiqi, 2006, *Credit Risk
  Scorecards*, ch. 6; Thomas, Edelman & Crook, 2002, *Credit Scoring and Its
  Applications*, §7.5).
- Expected calibration error: ``sum_b (n_b / n) |observed_b - mean_pd_b|`` over equal-width
  PD bins (Naeini, Cooper & Hauskrecht, 2015; Guo et al., 2017).
- Population stability index: ``sum_i (a_i - e_i) ln(a_i / e_i)`` over the deciles of the
  expected (development) sample (Siddiqi, 2006, ch. 8; Yurdakul, 2018, *Statistical
  properties of the population stability index*, Western Michigan University). It is
  the symmetrised Kullback-Leibler (Jeffreys) divergence of the binned shares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "PSI_EPSILON",
    "auc",
    "brier",
    "calibration_curve",
    "expected_calibration_error",
    "gini",
    "grade_reversal_tests",
    "grade_table",
    "grades_monotone",
    "ks_statistic",
    "log_loss",
    "psi",
    "psi_from_shares",
    "significant_grade_reversals",
]

PSI_EPSILON = 1e-4
"""Share given to an empty bin so that ``ln(a/e)`` stays finite: one applicant in ten
thousand. Smaller values make a single empty bin dominate the index (``ln`` of a tiny
share), larger ones hide genuinely empty bins."""

_LOG_LOSS_CLIP = 1e-15


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y), np.asarray(score, dtype=float)))


def gini(y: np.ndarray, score: np.ndarray) -> float:
    """Gini coefficient (accuracy ratio), ``2 AUC - 1``."""
    return 2.0 * auc(y, score) - 1.0


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the scores of defaults and non-defaults.

    Evaluated at every distinct score, so that tied scores move both distributions at
    once; equal to ``scipy.stats.ks_2samp(score[y == 1], score[y == 0]).statistic``.
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y), np.asarray(score, dtype=float))
    return float(np.max(np.abs(tpr - fpr)))


def brier(y: np.ndarray, pd_: np.ndarray) -> float:
    """Mean squared error of the PDs against the 0/1 outcomes (Brier, 1950):
    :func:`sklearn.metrics.brier_score_loss`."""
    from sklearn.metrics import brier_score_loss

    return float(
        brier_score_loss(np.asarray(y, dtype=int), np.asarray(pd_, dtype=float), labels=[0, 1])
    )


def log_loss(y: np.ndarray, pd_: np.ndarray) -> float:
    """Mean negative log-likelihood: :func:`sklearn.metrics.log_loss` of the PDs clipped to
    ``[1e-15, 1 - 1e-15]`` (scikit-learn clips at the float epsilon; a PD of exactly 0 or 1
    counts as 1e-15 away from it, as it always has here)."""
    from sklearn.metrics import log_loss as sklearn_log_loss

    p = np.clip(np.asarray(pd_, dtype=float), _LOG_LOSS_CLIP, 1.0 - _LOG_LOSS_CLIP)
    return float(sklearn_log_loss(np.asarray(y, dtype=int), p, labels=[0, 1]))


def _bins(pd_: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(pd_, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', not {strategy!r}")
    # Right-open bins, the top bin closed: a PD equal to an edge goes to the bin above.
    return np.clip(np.searchsorted(edges, pd_, side="right") - 1, 0, max(len(edges) - 2, 0))


def calibration_curve(
    y: np.ndarray, pd_: np.ndarray, n_bins: int = 10, strategy: str = "quantile"
) -> pd.DataFrame:
    """Observed default rate against mean PD per bin (non-empty bins only).

    Columns: ``bin, n, defaults, mean_pd, observed_rate, pd_min, pd_max``.

    Not :func:`sklearn.calibration.calibration_curve`, which returns only the two means:
    the reports need each bin's size, defaults and range. Bins are right-open (a PD on an
    inner edge goes to the bin above; scikit-learn puts it below), the binning the outcome
    monitor's ECE shares (:mod:`riskops.credit.outcomes`); away from edges the means are
    scikit-learn's (tests/credit/test_credit_metrics.py).
    """
    y = np.asarray(y, dtype=float)
    pd_ = np.asarray(pd_, dtype=float)
    frame = pd.DataFrame({"bin": _bins(pd_, n_bins, strategy), "y": y, "pd": pd_})
    table = frame.groupby("bin", sort=True).agg(
        n=("y", "size"),
        defaults=("y", "sum"),
        mean_pd=("pd", "mean"),
        observed_rate=("y", "mean"),
        pd_min=("pd", "min"),
        pd_max=("pd", "max"),
    )
    table["n"] = table["n"].astype(int)
    table["defaults"] = table["defaults"].astype(int)
    return table.reset_index()


def expected_calibration_error(
    y: np.ndarray, pd_: np.ndarray, n_bins: int = 10, strategy: str = "uniform"
) -> float:
    """Weighted mean absolute gap between observed default rate and mean PD per bin."""
    table = calibration_curve(y, pd_, n_bins, strategy)
    weights = table["n"] / table["n"].sum()
    return float(np.sum(weights * np.abs(table["observed_rate"] - table["mean_pd"])))


def grade_table(y: np.ndarray, pd_: np.ndarray, grades: Sequence[str] | np.ndarray) -> pd.DataFrame:
    """Per rating grade: applicants, defaults, observed default rate and PD range.

    Grades are labels ``"G1"`` (best) ... and are ordered by their number.
    Columns: ``grade, n, defaults, default_rate, mean_pd, pd_min, pd_max``.
    """
    frame = pd.DataFrame(
        {
            "grade": np.asarray(grades, dtype=object),
            "y": np.asarray(y, dtype=float),
            "pd": np.asarray(pd_, dtype=float),
        }
    )
    table = frame.groupby("grade", sort=False).agg(
        n=("y", "size"),
        defaults=("y", "sum"),
        default_rate=("y", "mean"),
        mean_pd=("pd", "mean"),
        pd_min=("pd", "min"),
        pd_max=("pd", "max"),
    )
    table["n"] = table["n"].astype(int)
    table["defaults"] = table["defaults"].astype(int)
    order = sorted(table.index, key=_grade_number)
    return table.loc[order].reset_index()


def grades_monotone(table: pd.DataFrame) -> bool:
    """Whether observed default rates never fall from a better grade to a worse one."""
    rates = table["default_rate"].to_numpy(dtype=float)
    return bool(np.all(np.diff(rates) >= 0.0))


def grade_reversal_tests(table: pd.DataFrame) -> list[tuple[int, float]]:
    """Adjacent grade pairs whose default rate falls from the better grade to the worse one,
    each as ``(row of the better grade, p-value)``: Fisher's exact test, one-sided (the better
    grade defaults more often), on the two grades' defaults and non-defaults."""
    from scipy.stats import fisher_exact

    n = table["n"].to_numpy(dtype=int)
    d = table["defaults"].to_numpy(dtype=int)
    out = []
    for i in range(len(table) - 1):
        better = [d[i], n[i] - d[i]]
        worse = [d[i + 1], n[i + 1] - d[i + 1]]
        if d[i] * n[i + 1] > d[i + 1] * n[i]:
            _, pvalue = fisher_exact([better, worse], alternative="greater")
            out.append((i, float(pvalue)))
    return out


def significant_grade_reversals(table: pd.DataFrame, alpha: float = 0.05) -> int:
    """Adjacent grade pairs whose default rate falls from the better to the worse grade by
    more than chance: :func:`grade_reversal_tests` below size ``alpha``.

    On a few hundred applicants per grade an inversion of a few defaults is noise; a
    validator flags it (``grades_monotone``) but only a significant one breaks the scale.
    """
    return sum(pvalue < alpha for _, pvalue in grade_reversal_tests(table))


def psi_from_shares(
    expected: np.ndarray, actual: np.ndarray, epsilon: float = PSI_EPSILON
) -> float:
    """PSI of two vectors of bin shares; shares below ``epsilon`` are raised to it."""
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(
    expected: np.ndarray,
    actual: np.ndarray,
    n_bins: int = 10,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index of a score between two samples.

    Bins are the ``n_bins`` quantile bins of ``expected`` (deciles by default; equal
    quantiles are merged, e.g. when many PDs sit on the floor), right-closed, with the
    outer bins open so that every actual value falls somewhere. Empty bins get the
    share ``epsilon`` (see :data:`PSI_EPSILON`).
    """
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    inner = np.unique(np.quantile(expected, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
    n = len(inner) + 1
    e = np.bincount(np.searchsorted(inner, expected, side="left"), minlength=n) / len(expected)
    a = np.bincount(np.searchsorted(inner, actual, side="left"), minlength=n) / len(actual)
    return psi_from_shares(e, a, epsilon)


def _grade_number(label: str) -> tuple[int, str]:
    text = str(label)
    digits = "".join(ch for ch in text if ch.isdigit())
    return (int(digits) if digits else 0, text)
