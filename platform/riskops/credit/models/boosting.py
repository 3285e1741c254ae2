"""Gradient boosting (LightGBM) PDs, explained by exact path-dependent Tree SHAP."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskops.credit.calibration import REGULATORY_PD_FLOOR
from riskops.credit.encoding import FeatureEncoder
from riskops.credit.models.base import _PDModel
from riskops.errors import BadInputError


class LightGBMPD(_PDModel):
    """Gradient-boosted trees (LightGBM) with native categorical splits and missing values.

    Defaults are tuned for a few thousand applicants: a small learning rate with many
    shallow trees (which also keeps exact TreeSHAP cheap, its cost growing with leaves
    times depth squared), large leaves, row and column subsampling, and an L2 penalty.
    They reach a 5-fold AUC of about 0.85 on the bundled ``credit_data`` without tuning.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples,
    subsample, subsample_freq, colsample_bytree, reg_alpha, reg_lambda, cat_smooth
        LightGBM parameters (scikit-learn names; see the LightGBM documentation).
    monotone_constraints
        Feature name → ``1`` (PD may only rise with the feature), ``-1`` (only fall) or
        ``0``; numeric features only.
    calibration
        ``"sigmoid"`` (Platt, keeps the ranking), ``"isotonic"`` or ``None``.
    cv
        Folds of the out-of-fold scores used for calibration and the grade edges; below
        2, in-sample scores are used instead (faster, optimistic).
    n_grades
        Number of rating grades.
    pd_floor
        Lowest reported PD (default 0.03%, the CRR Art. 160/163 floor).
    n_jobs
        Threads. One by default: on a busy machine OpenMP threads spin and a single
        thread is both faster and steadier for data of this size.
    random_state
        Seed of the folds, the subsampling and the boosting.
    """

    # Stored models (skops files, the family's trusted types) name this class by its public
    # path, riskops.credit.models, which is the file format: it stays whichever file of
    # the package defines the class.
    __module__ = "riskops.credit.models"

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 6,
        max_depth: int = 4,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.7,
        reg_alpha: float = 0.0,
        reg_lambda: float = 1.0,
        cat_smooth: float = 10.0,
        monotone_constraints: dict[str, int] | None = None,
        calibration: str | None = "sigmoid",
        cv: int = 3,
        n_grades: int = 8,
        pd_floor: float = REGULATORY_PD_FLOOR,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.cat_smooth = cat_smooth
        self.monotone_constraints = monotone_constraints
        self.calibration = calibration
        self.cv = cv
        self.n_grades = n_grades
        self.pd_floor = pd_floor
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _validate_hyperparameters(self, encoder: FeatureEncoder) -> None:
        super()._validate_hyperparameters(encoder)
        schema = encoder.input_schema_
        problems = []
        for name, sign in (self.monotone_constraints or {}).items():
            if name not in schema:
                problems.append(f"{name!r} is not a feature")
            elif schema[name]["kind"] != "numeric":
                problems.append(f"{name!r} is categorical")
            elif sign not in (-1, 0, 1):
                problems.append(f"{name!r}: {sign!r} is not -1, 0 or 1")
        if problems:
            raise BadInputError("monotone_constraints: " + "; ".join(problems))

    def _params(self) -> dict[str, Any]:
        names = list(self.encoder_.input_schema_)
        constraints = self.monotone_constraints or {}
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": self.subsample_freq,
            "feature_fraction": self.colsample_bytree,
            "lambda_l1": self.reg_alpha,
            "lambda_l2": self.reg_lambda,
            "cat_smooth": self.cat_smooth,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        if any(constraints.values()):
            params["monotone_constraints"] = [int(constraints.get(n, 0)) for n in names]
        return params

    def _fit_core(self, Z: np.ndarray, y: np.ndarray) -> None:
        import lightgbm as lgb

        categorical = np.flatnonzero(self.encoder_.categorical_).tolist()
        # Positional names: LightGBM rejects JSON special characters in feature names.
        data = lgb.Dataset(
            Z,
            label=y,
            feature_name=[f"f{j}" for j in range(Z.shape[1])],
            categorical_feature=categorical,
            params={"verbose": -1},
        )
        self.booster_ = lgb.train(self._params(), data, num_boost_round=self.n_estimators)

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        # Prediction ignores the training thread count unless told: with the OpenMP
        # default a one-row call on a busy machine takes 20 ms instead of 0.02 ms.
        return np.asarray(self.booster_.predict(Z, raw_score=True, num_threads=self.n_jobs))

    def _contributions(self, Z: np.ndarray) -> tuple[np.ndarray, float]:
        explainer = self._tree_shap()
        if explainer is None:
            out = np.asarray(self.booster_.predict(Z, pred_contrib=True, num_threads=self.n_jobs))
            return out[:, :-1], float(out[0, -1])
        threads = None if self.n_jobs is None or self.n_jobs < 1 else self.n_jobs
        return explainer.shap_values(Z, n_threads=threads), explainer.expected_value

    def _tree_shap(self) -> Any:
        """The compiled Tree SHAP of ``booster_`` (:mod:`riskops.treeshap`), built once per
        booster; ``None`` for a booster it does not take (LightGBM's ``pred_contrib`` then
        gives the same values). A cache, not learned state: never saved."""
        booster, explainer = self.__dict__.get("_tree_shap_cache", (None, None))
        if booster is not self.booster_:
            from riskops.treeshap import PathDependentTreeShap

            try:
                explainer = PathDependentTreeShap.from_lightgbm(self.booster_)
            except ValueError:
                explainer = None
            self.__dict__["_tree_shap_cache"] = (self.booster_, explainer)
        return explainer

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_tree_shap_cache", None)
        return state
