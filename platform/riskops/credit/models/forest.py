"""Random-forest PDs (the vote share of defaults), explained by ``shap.TreeExplainer``."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskops.credit.calibration import REGULATORY_PD_FLOOR
from riskops.credit.models.base import _PDModel


class RandomForestPD(_PDModel):
    """A random forest (scikit-learn) on encoded features, with native missing values.

    Categories enter as ordinal codes, which trees can split into any contiguous
    groups. The raw score is the forest's vote share of defaults; the calibrator
    turns it into a PD. Depth and leaf size are bounded so that exact TreeSHAP stays
    fast enough for the service.

    Parameters
    ----------
    n_estimators, max_depth, min_samples_leaf, max_features
        Forest parameters (see ``sklearn.ensemble.RandomForestClassifier``).
    calibration, cv, n_grades, pd_floor, n_jobs, random_state
        As for :class:`LightGBMPD`.
    """

    # Stored models (skops files, the family's trusted types) name this class by its public
    # path, riskops.credit.models, which is the file format: it stays whichever file of
    # the package defines the class.
    __module__ = "riskops.credit.models"

    _score_is_logit = False

    def __init__(
        self,
        n_estimators: int = 150,
        max_depth: int | None = 8,
        min_samples_leaf: int = 15,
        max_features: str | float | None = "sqrt",
        calibration: str | None = "sigmoid",
        cv: int = 3,
        n_grades: int = 8,
        pd_floor: float = REGULATORY_PD_FLOOR,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.calibration = calibration
        self.cv = cv
        self.n_grades = n_grades
        self.pd_floor = pd_floor
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit_core(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(Z, y)
        self.__dict__.pop("_explainer", None)

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        return self.forest_.predict_proba(Z)[:, 1]

    def _contributions(self, Z: np.ndarray) -> tuple[np.ndarray, float]:
        explainer = self.__dict__.get("_explainer")
        if explainer is None:
            import shap

            explainer = shap.TreeExplainer(self.forest_)
            # A cache, not learned state: rebuilt on demand and never pickled.
            self.__dict__["_explainer"] = explainer
        values = np.asarray(explainer.shap_values(Z, check_additivity=False))
        expected = np.ravel(explainer.expected_value)
        if values.ndim == 3:
            return values[:, :, 1], float(expected[1])
        return values, float(expected[-1])

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_explainer", None)
        return state
