"""The local outlier factor, explained by each feature's share of the distance to the
neighbours."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler

from riskops.anomaly.models.base import _Detector, _normalise


class LOFDetector(_Detector):
    """Local outlier factor (Breunig et al., 2000) on standardised features, novelty mode.

    Parameters
    ----------
    n_neighbors : int
        Neighbourhood size ``k``.
    alert_rate : float
        Target share of training rows above ``decision_threshold_``.

    Attributes
    ----------
    scaler_ : sklearn.preprocessing.StandardScaler
    lof_ : sklearn.neighbors.LocalOutlierFactor
        Fitted with ``novelty=True`` so that it scores new rows.
    reference_ : ndarray
        The standardised training rows, for the distance-share explanation.

    Notes
    -----
    The score is the local outlier factor itself (about 1 for inliers), i.e. minus
    scikit-learn's ``score_samples``. Training rows scored after the fit count
    themselves among their neighbours, as scikit-learn documents for novelty mode;
    the threshold is calibrated on exactly those in-sample scores so that ``predict``
    on the training rows gives ``alert_rate``, and the held-out alert rate of the
    family's evaluation shows how far that carries to new days.
    """

    # Stored models (skops files, the family's trusted types) name this class by its public
    # path, riskops.anomaly.models, which is the file format: it stays whichever file of the
    # package defines the class.
    __module__ = "riskops.anomaly.models"

    def __init__(self, n_neighbors: int = 35, alert_rate: float = 0.01) -> None:
        self.n_neighbors = n_neighbors
        self.alert_rate = alert_rate

    def _fit(self, Z: np.ndarray) -> None:
        self.scaler_ = StandardScaler().fit(Z)
        self.reference_ = self.scaler_.transform(Z)
        n_neighbors = min(self.n_neighbors, len(Z) - 1)
        # Brute force: scikit-learn's multithreaded exact search took half the CPU of the
        # k-d tree its "auto" picks for these ~11 features (bench/bench_treeshap.py).
        self.lof_ = LocalOutlierFactor(
            n_neighbors=n_neighbors, novelty=True, algorithm="brute"
        ).fit(self.reference_)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return -self.lof_.score_samples(self.scaler_.transform(Z))

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        standard = self.scaler_.transform(Z)
        _, neighbours = self.lof_.kneighbors(standard)
        return self._distance_shares(standard, neighbours)

    def _distance_shares(self, standard: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        differences = standard[:, None, :] - self.reference_[neighbours]
        per_feature = (differences**2).sum(axis=1)
        return _normalise(per_feature)

    def _score_and_shares(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # One neighbour search for both; the score follows LocalOutlierFactor.score_samples
        # step by step (a test checks they agree, so a scikit-learn change shows there).
        standard = self.scaler_.transform(Z)
        distances, neighbours = self.lof_.kneighbors(standard, n_neighbors=self.lof_.n_neighbors_)
        density = self.lof_._local_reachability_density(distances, neighbours)
        scores = np.mean(self.lof_._lrd[neighbours] / density[:, np.newaxis], axis=1)
        return scores, self._distance_shares(standard, neighbours)
