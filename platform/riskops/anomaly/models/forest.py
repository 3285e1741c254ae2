"""The isolation forest, explained by exact path-dependent Tree SHAP (:mod:`riskops.treeshap`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted

from riskops.anomaly.models.base import _Detector, _positive_shares


class IsolationForestDetector(_Detector):
    """Isolation forest (Liu, Ting and Zhou, 2008): anomalies are isolated in few splits.

    Parameters
    ----------
    n_estimators : int
        Number of isolation trees.
    max_samples : int, float or "auto"
        Rows drawn to grow each tree (``"auto"``: ``min(256, n)``).
    max_features : float
        Share of features drawn for each tree.
    alert_rate : float
        Target share of training rows above ``decision_threshold_``.
    random_state : int or None
        Seed of the tree sampling.
    n_jobs : int or None
        Parallel jobs for fitting and scoring.

    Attributes
    ----------
    forest_ : sklearn.ensemble.IsolationForest
    training_scores_, decision_threshold_, score_tail_
        Scores of the training rows, the alert threshold and their percentile map.

    Notes
    -----
    The score is ``2 ** (-E[h(x)] / c(psi))``, the paper's anomaly score in (0, 1],
    i.e. minus scikit-learn's ``score_samples``.
    """

    # Stored models (skops files, the family's trusted types) name this class by its public
    # path, riskops.anomaly.models, which is the file format: it stays whichever file of the
    # package defines the class.
    __module__ = "riskops.anomaly.models"

    def __init__(
        self,
        n_estimators: int = 200,
        max_samples: int | float | str = "auto",
        max_features: float = 1.0,
        alert_rate: float = 0.01,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.alert_rate = alert_rate
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, Z: np.ndarray) -> None:
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(Z)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(Z)

    def shap_values(self, X: Any) -> tuple[np.ndarray, float]:
        """Tree SHAP contributions toward anomaly and their base value.

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features)
            ``-phi``: minus the SHAP values of the expected path length, so that
            positive values push toward anomaly.
        base_value : float
            Minus the expected path length over the trees' training samples;
            ``contributions.sum(axis=1) + base_value`` is ``-E[h(x)]``, which increases
            with the score.
        """
        check_is_fitted(self, "decision_threshold_")
        return self._shap(self._validate(X))

    def _shap(self, Z: np.ndarray) -> tuple[np.ndarray, float]:
        # Building the explainer walks every tree in Python (a few seconds for 200 trees),
        # so it is kept for the next call; pickles leave it out (see __getstate__).
        forest, explainer = self.__dict__.get("_tree_explainer", (None, None))
        if forest is not self.forest_:
            explainer = _forest_explainer(self.forest_)
            self._tree_explainer = (self.forest_, explainer)
        phi = np.asarray(explainer.shap_values(Z), dtype=float).reshape(Z.shape)
        base = float(np.ravel(explainer.expected_value)[0])
        return -phi, -base

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_tree_explainer", None)
        return state

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        contributions, _ = self._shap(Z)
        return _positive_shares(contributions)


def _forest_explainer(forest: IsolationForest) -> Any:
    """Exact Tree SHAP of the forest: compiled (:mod:`riskops.treeshap`), else SHAP's.

    Both give the same path-dependent Tree SHAP values (to rounding); the compiled one is
    about 20 times faster per row and releases the GIL. SHAP's own explainer is the
    fallback for a forest the compiled one refuses (a child without training cover).
    """
    from riskops.treeshap import PathDependentTreeShap

    try:
        return PathDependentTreeShap.from_model(forest)
    except ValueError:
        import shap

        return shap.TreeExplainer(forest)
