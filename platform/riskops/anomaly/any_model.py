"""Any scikit-learn outlier detector as a RiskOps anomaly detector.

The contract: a scikit-learn outlier detector (``IsolationForest``,
``LocalOutlierFactor(novelty=True)``, ``OneClassSVM``, ``EllipticEnvelope``...) with
``fit(X)`` and ``score_samples(X)`` or ``decision_function(X)``, where, as in scikit-learn,
lower means more abnormal. :class:`OutlierDetector` adds what the family's evaluation and
the service use: scores where higher is more anomalous, the alert threshold calibrated on
the training scores, percentiles and per-feature driver shares.

Driver shares, for any detector, are occlusion shares: the rise in the anomaly score of a
row that each feature causes compared with the same row with that feature set to its
training median, ``max(s(x) - s(x with x_j = median_j), 0)``, normalised to sum to 1
(rows no single feature explains fall back to standardised distances from the median).
One extra scoring pass per feature: model-agnostic and bounded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from riskops.anomaly.models.base import _Detector, _normalise, _positive_shares

__all__ = ["OutlierDetector", "implements_platform_detector"]

_PLATFORM_DETECTOR = ("score_samples", "feature_shares", "explain", "percentile")


def implements_platform_detector(estimator: Any) -> bool:
    """True for the built-in detectors (scores higher = more anomalous, with explanations)."""
    return isinstance(estimator, _Detector) or all(
        callable(getattr(estimator, m, None)) for m in _PLATFORM_DETECTOR
    )


class OutlierDetector(_Detector):
    """A user's scikit-learn outlier detector, evaluated, explained and served by the platform.

    Parameters
    ----------
    detector
        Unfitted scikit-learn outlier detector.
    alert_rate
        Target share of training rows above ``decision_threshold_``.
    """

    _wraps = "detector"
    """The parameter holding the user's unfitted model (see ``contracts.specification_of``)."""

    def __init__(self, detector: Any = None, alert_rate: float = 0.01) -> None:
        self.detector = detector
        self.alert_rate = alert_rate

    def _fit(self, Z: np.ndarray) -> None:
        self.detector_ = clone(self.detector).fit(Z)
        self.median_ = np.median(Z, axis=0)
        spread = np.std(Z, axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        detector = self.detector_
        if callable(getattr(detector, "score_samples", None)):
            return -np.asarray(detector.score_samples(Z), dtype=float)
        return -np.asarray(detector.decision_function(Z), dtype=float)

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        score = self._score(Z)
        rises = np.empty_like(Z, dtype=float)
        for j in range(Z.shape[1]):
            occluded = Z.copy()
            occluded[:, j] = self.median_[j]
            rises[:, j] = score - self._score(occluded)
        fallback = _normalise(np.abs(Z - self.median_) / self.scale_)
        shares = _positive_shares(rises)
        explained = np.clip(rises, 0.0, None).sum(axis=1) > 0
        return np.where(explained[:, None], shares, fallback)
