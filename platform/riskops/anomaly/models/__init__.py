"""Unsupervised detectors of anomalous market days, under one scikit-learn contract.

Every detector here

* learns from unlabelled feature rows (``fit(X) -> self``);
* scores rows so that **higher means more anomalous** (``score_samples``; note that
  scikit-learn's own ``score_samples`` means the opposite, "higher is more normal");
* calibrates ``decision_threshold_`` on its training scores so that a share
  ``alert_rate`` of training rows lies above it, and flags rows above it
  (``predict`` gives 0/1, which is what MLflow's pyfunc serves);
* maps a score to its percentile among the training scores (``percentile``), with an
  exponential upper tail so that rows beyond everything seen in training still rank
  one above the other instead of tying at 1;
* explains each row by per-feature shares (``feature_shares``, ``explain``).

Explanation shares are non-negative and **sum to 1 over all features for every row**:

``IsolationForestDetector``
    Exact path-dependent Tree SHAP of the forest's expected path length (the values of
    :class:`shap.TreeExplainer`, computed by :mod:`riskops.treeshap`). A
    feature with a negative SHAP value shortens the path, i.e. pushes the row toward
    anomaly. The share of feature ``j`` is ``max(-phi_j, 0) / sum_k max(-phi_k, 0)``:
    its part of everything that pushed the row toward anomaly. Rows that no feature
    pushes toward anomaly (the most ordinary rows) fall back to ``|phi_j| / sum |phi|``.
``LOFDetector``
    The share of feature ``j`` in the squared standardised Euclidean distance from the
    row to its ``n_neighbors`` nearest training rows,
    ``sum_o (z_j - o_j)^2 / sum_o ||z - o||^2``. This explains the distance half of the
    local outlier factor (the row's own reachability); it is silent about the density of
    the neighbours, the other half, which no per-feature split describes honestly.
``AutoencoderDetector``
    Reconstruction-error shares: the squared error of feature ``j`` in standardised
    units over the total squared error, which is the score itself.
``EnsembleDetector``
    The members' shares averaged with weights equal to each member's percentile for
    the row (its part of the ensemble score), so a member that finds the row extreme
    speaks louder than one that finds it ordinary.

Each kind lives in a module of its own (:mod:`~riskops.anomaly.models.forest`,
:mod:`~riskops.anomaly.models.lof`, :mod:`~riskops.anomaly.models.autoencoder`,
:mod:`~riskops.anomaly.models.ensemble`; what they share in
:mod:`~riskops.anomaly.models.base`); every public name is importable from here, and the
stored classes keep this package as their module (the path stored models name).
"""

from __future__ import annotations

from riskops.anomaly.models.autoencoder import AutoencoderDetector
from riskops.anomaly.models.base import (
    AnomalyExplanation,
    AnomalyScores,
    EmpiricalTail,
    score_frame,
    top_shares,
)
from riskops.anomaly.models.ensemble import EnsembleDetector
from riskops.anomaly.models.forest import IsolationForestDetector
from riskops.anomaly.models.lof import LOFDetector

__all__ = [
    "AnomalyExplanation",
    "AnomalyScores",
    "AutoencoderDetector",
    "EmpiricalTail",
    "EnsembleDetector",
    "IsolationForestDetector",
    "LOFDetector",
    "score_frame",
    "top_shares",
]
