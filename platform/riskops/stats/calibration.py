"""Calibration of predicted probabilities, with the uncertainty of the sample it is seen on.

A point estimate of the expected calibration error (ECE) is noise at the sizes a credit
validation sees: for PDs that are exactly right, ten equal-width bins give an ECE above
0.05 in two held-out sets of 259 rows out of three (issue 27). This module gives:

* :func:`expected_calibration_error` -- the ECE over equal-frequency (default) or
  equal-width bins of the predicted probability;
* :func:`ece_test` -- the ECE with its bootstrap percentile interval and a Monte Carlo
  p-value of the hypothesis that the probabilities are right: outcomes are redrawn as
  ``Bernoulli(p_i)`` from the model's own probabilities, the ECE recomputed on the same
  bins, and the p-value is ``(1 + #{ECE* >= ECE}) / (N + 1)`` -- a Monte Carlo test in
  the sense of Dufour (2006), whose size is at most its level at every sample size;
* :func:`spiegelhalter_z` -- Spiegelhalter's (1986) z test of calibration;
* :func:`hosmer_lemeshow` -- the Hosmer-Lemeshow statistic over groups of predicted risk
  with its chi-squared p-value (``g - 2`` degrees of freedom on the development data,
  ``g`` on independent validation data; Hosmer and Lemeshow, 2013, sec. 5.2.2).

References
----------
Dufour, J.-M. (2006), Monte Carlo tests with nuisance parameters, Journal of
Econometrics 133(2).
Hosmer, D. W., Lemeshow, S. and Sturdivant, R. X. (2013), Applied Logistic Regression,
3rd ed., Wiley, sec. 5.2.2.
Naeini, M. P., Cooper, G. and Hauskrecht, M. (2015), Obtaining well calibrated
probabilities using Bayesian binning, AAAI.
Spiegelhalter, D. J. (1986), Probabilistic prediction in patient management and clinical
trials, Statistics in Medicine 5(5), 421-433.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from riskops.stats._result import Result

__all__ = [
    "ECETestResult",
    "HosmerLemeshowResult",
    "SpiegelhalterResult",
    "bin_labels",
    "ece_test",
    "expected_calibration_error",
    "hosmer_lemeshow",
    "spiegelhalter_z",
]

Strategy = Literal["quantile", "uniform"]


def _pair(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    yv = np.asarray(y, dtype=float).ravel()
    pv = np.asarray(p, dtype=float).ravel()
    if yv.shape != pv.shape or yv.size == 0:
        raise ValueError(f"outcomes {yv.shape} and probabilities {pv.shape} must match")
    if not np.isin(yv, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1")
    if not (np.isfinite(pv).all() and ((pv >= 0) & (pv <= 1)).all()):
        raise ValueError("probabilities must be finite and in [0, 1]")
    return yv, pv


def bin_labels(p: Any, n_bins: int = 10, strategy: Strategy = "quantile") -> np.ndarray:
    """Bin index of each probability.

    ``quantile``: equal-frequency bins (ties kept together: rows with the same
    probability always share a bin, so there may be fewer bins); ``uniform``: ``n_bins``
    equal-width bins of ``[0, 1]``.
    """
    pv = np.asarray(p, dtype=float).ravel()
    if strategy == "uniform":
        return np.minimum((pv * n_bins).astype(int), n_bins - 1)
    if strategy != "quantile":
        raise ValueError(f"strategy must be quantile or uniform, not {strategy!r}")
    # Tied probabilities take the bin of their first rank.
    first = np.searchsorted(np.sort(pv, kind="stable"), pv, side="left")
    return np.minimum((first * n_bins) // max(pv.size, 1), n_bins - 1).astype(int)


def _ece_rows(Y: np.ndarray, p: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> Any:
    """ECE of each row of outcomes ``Y`` (``(B, n)``) on fixed bins, rows weighted."""
    n_bins = int(labels.max()) + 1
    onehot = np.zeros((p.size, n_bins))
    onehot[np.arange(p.size), labels] = 1.0
    W = np.ones_like(Y) if weights is None else weights
    counts = W @ onehot
    observed = (W * Y) @ onehot
    predicted = (W * p[None, :]) @ onehot
    total = counts.sum(axis=1)
    return np.abs(observed - predicted).sum(axis=1) / total


def expected_calibration_error(
    y: Any, p: Any, n_bins: int = 10, strategy: Strategy = "quantile"
) -> float:
    """``sum_b (n_b / n) |mean(y)_b - mean(p)_b|`` over the bins of :func:`bin_labels`."""
    yv, pv = _pair(y, p)
    labels = bin_labels(pv, n_bins, strategy)
    return float(_ece_rows(yv[None, :], pv, labels, None)[0])


@dataclass(frozen=True)
class ECETestResult(Result):
    """The ECE, its bootstrap interval, and the Monte Carlo test of correct probabilities.

    ``null_mean`` is the ECE a model with exactly these (correct) probabilities has on
    average at this sample size: the part of ``ece`` that is sampling noise.
    """

    ece: float
    interval: tuple[float, float]
    confidence: float
    null_mean: float
    pvalue: float
    n: int
    n_bins: int
    strategy: str
    simulations: int
    seed: int


def ece_test(
    y: Any,
    p: Any,
    *,
    n_bins: int = 10,
    strategy: Strategy = "quantile",
    simulations: int = 999,
    confidence: float = 0.95,
    seed: int = 0,
) -> ECETestResult:
    """ECE with a bootstrap percentile interval and a Monte Carlo calibration test.

    The interval resamples rows (outcome and probability together) and keeps the bins of
    the full sample. The test redraws only the outcomes, ``Bernoulli(p_i)``: under the
    hypothesis that every ``p_i`` is the true probability this is the exact distribution
    of the ECE, so refusing when ``pvalue < alpha`` has a size of at most ``alpha`` at
    every ``n`` (Dufour, 2006).
    """
    yv, pv = _pair(y, p)
    n = yv.size
    labels = bin_labels(pv, n_bins, strategy)
    observed = float(_ece_rows(yv[None, :], pv, labels, None)[0])
    rng = np.random.default_rng([int(seed), n])
    null: list[np.ndarray] = []
    boot: list[np.ndarray] = []
    # Chunks of at most about two million cells keep the memory flat at any n.
    chunk = max(1, min(250, 2_000_000 // n))
    for size in [min(chunk, simulations - s) for s in range(0, simulations, chunk)]:
        Y = (rng.random((size, n)) < pv[None, :]).astype(float)
        null.append(_ece_rows(Y, pv, labels, None))
        rows = rng.integers(0, n, size=(size, n))
        weights = np.zeros((size, n))
        np.add.at(weights, (np.repeat(np.arange(size), n), rows.ravel()), 1.0)
        boot.append(_ece_rows(np.broadcast_to(yv, (size, n)), pv, labels, weights))
    null_all, boot_all = np.concatenate(null), np.concatenate(boot)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot_all, [tail, 1.0 - tail])
    return ECETestResult(
        ece=observed,
        interval=(float(low), float(high)),
        confidence=float(confidence),
        null_mean=float(null_all.mean()),
        pvalue=float((1 + np.sum(null_all >= observed - 1e-12)) / (null_all.size + 1)),
        n=n,
        n_bins=int(labels.max()) + 1,
        strategy=strategy,
        simulations=int(simulations),
        seed=int(seed),
    )


@dataclass(frozen=True)
class SpiegelhalterResult(Result):
    """Spiegelhalter's z; two-sided ``pvalue`` from the standard normal."""

    z: float
    pvalue: float
    n: int


def spiegelhalter_z(y: Any, p: Any) -> SpiegelhalterResult:
    """Spiegelhalter's (1986) test that the probabilities are right.

    ``z = sum (y_i - p_i)(1 - 2 p_i) / sqrt(sum (1 - 2 p_i)^2 p_i (1 - p_i))``, standard
    normal under the hypothesis (the Brier score's deviation from its expectation over
    its standard deviation).
    """
    yv, pv = _pair(y, p)
    numerator = float(np.sum((yv - pv) * (1.0 - 2.0 * pv)))
    variance = float(np.sum((1.0 - 2.0 * pv) ** 2 * pv * (1.0 - pv)))
    if variance <= 0:
        z = 0.0 if numerator == 0 else float(np.sign(numerator) * np.inf)
    else:
        z = numerator / np.sqrt(variance)
    return SpiegelhalterResult(float(z), float(2.0 * stats.norm.sf(abs(z))), yv.size)


@dataclass(frozen=True)
class HosmerLemeshowResult(Result):
    """Hosmer-Lemeshow statistic over ``groups`` groups of predicted risk."""

    statistic: float
    df: int
    pvalue: float
    groups: int
    n: int


def hosmer_lemeshow(
    y: Any, p: Any, groups: int = 10, *, validation: bool = True
) -> HosmerLemeshowResult:
    """``sum_g (O_g - E_g)^2 / (E_g (1 - E_g / n_g))`` over equal-frequency risk groups.

    ``O_g`` and ``E_g`` are the observed and expected events of group ``g`` (``E_g`` the
    sum of its probabilities). On independent validation data the statistic is compared
    with chi-squared on ``g`` degrees of freedom, on the development data with ``g - 2``.
    """
    yv, pv = _pair(y, p)
    labels = bin_labels(pv, groups, "quantile")
    used = np.unique(labels)
    observed = np.bincount(labels, weights=yv)[used]
    expected = np.bincount(labels, weights=pv)[used]
    size = np.bincount(labels)[used].astype(float)
    variance = expected * (1.0 - expected / size)
    keep = variance > 0
    statistic = float(np.sum((observed[keep] - expected[keep]) ** 2 / variance[keep]))
    g = int(used.size)
    df = g if validation else max(g - 2, 1)
    return HosmerLemeshowResult(statistic, df, float(stats.chi2.sf(statistic, df)), g, yv.size)
