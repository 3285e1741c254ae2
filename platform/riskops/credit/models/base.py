"""What every PD model shares: the encoder, the cross-fitted calibration and the rating scale
around a core learner (:class:`_PDModel`), and the explanation they return."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from riskops.credit.calibration import RatingScale, ScoreCalibrator
from riskops.credit.encoding import FeatureEncoder
from riskops.errors import BadInputError


class PDExplanation(NamedTuple):
    """PDs with their exact raw-score decomposition (unpacks as a 4-tuple)."""

    pd: np.ndarray
    """Calibrated probabilities of default."""
    raw_score: np.ndarray
    """The core model's raw score, ``base_value + contributions.sum(axis=1)``."""
    contributions: np.ndarray
    """Shapley values per original feature, shape ``(n_rows, n_features)``."""
    base_value: float
    """Expected raw score over the background (training) data."""


class _PDModel(ClassifierMixin, BaseEstimator):
    """Shared fitting, calibration, grading and scoring; subclasses supply the core.

    Subclasses implement ``_fit_core(Z, y)``, ``_raw(Z)`` and ``_contributions(Z)``
    on the encoded matrix ``Z`` and set ``_score_is_logit``.
    """

    _score_is_logit = True

    # -- fitting --------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any) -> _PDModel:
        """Fit the encoder, the core, the calibrator and the rating scale.

        Parameters
        ----------
        X
            Applicants, numeric and text columns, missing values allowed.
        y
            Binary outcome; the larger label (``1``, ``"yes"``...) is the default.
        """
        encoder = FeatureEncoder().fit(X)
        y01, classes = _binary(y)
        self._validate_hyperparameters(encoder)
        Z = encoder.transform(X)
        self.encoder_ = encoder
        development_raw = self._out_of_fold_raw(Z, y01)
        self._fit_core(Z, y01)
        if development_raw is None:
            development_raw = self._raw(Z)
        calibrator = ScoreCalibrator(self.calibration, self._score_is_logit, self.pd_floor)
        self.calibrator_ = calibrator.fit(development_raw, y01)
        self.development_pd_ = self.calibrator_.transform(development_raw)
        self.rating_scale_ = RatingScale(self.n_grades).fit(self.development_pd_)
        self.grades_ = self.rating_scale_.edges_
        self.classes_ = classes
        self.feature_names_in_ = encoder.feature_names_in_
        self.n_features_in_ = encoder.n_features_in_
        self.input_schema_ = encoder.input_schema_
        self.n_train_ = len(y01)
        self.default_rate_train_ = float(y01.mean())
        self.base_value_ = float(self._contributions(np.full((1, Z.shape[1]), np.nan))[1])
        return self

    def _validate_hyperparameters(self, encoder: FeatureEncoder) -> None:
        if self.calibration not in ("sigmoid", "isotonic", None):
            raise BadInputError(
                f"calibration: {self.calibration!r}; use 'sigmoid', 'isotonic' or None"
            )
        if not 0.0 <= self.pd_floor < 0.5:
            raise BadInputError(f"pd_floor: {self.pd_floor} is not in [0, 0.5)")

    def _out_of_fold_raw(self, Z: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """Raw scores of each row from a core fitted without it; ``None`` when ``cv < 2``."""
        if self.cv is None or self.cv < 2:
            return None
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        raw = np.empty(len(y), dtype=float)
        for fit_rows, held_out in folds.split(Z, y):
            self._fit_core(Z[fit_rows], y[fit_rows])
            raw[held_out] = self._raw(Z[held_out])
        return raw

    # -- scikit-learn interface -------------------------------------------------

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of default."""
        check_is_fitted(self, "calibrator_")
        return self.calibrator_.transform(self._raw(self.encoder_.transform(X)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        pd_ = self.predict_pd(X)
        return np.column_stack([1.0 - pd_, pd_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_pd(X) >= 0.5).astype(int)]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The raw score (log-odds, or vote share for the forest) before calibration."""
        check_is_fitted(self, "calibrator_")
        return self._raw(self.encoder_.transform(X))

    # -- grades, explanations, scoring ----------------------------------------------

    def grade(self, pd_: np.ndarray) -> np.ndarray:
        """Rating grade labels (``"G1"`` best) of PDs."""
        check_is_fitted(self, "rating_scale_")
        return self.rating_scale_.grade(pd_)

    def explain(self, X: pd.DataFrame, k: int = 4) -> PDExplanation:
        """PDs with their raw score split into per-feature Shapley values.

        ``k`` is accepted so that this method and :meth:`score_records` share a
        signature; the arrays cover every feature, and :meth:`reason_codes` picks the
        top ``k``.
        """
        check_is_fitted(self, "calibrator_")
        return self._explain_matrix(self.encoder_.transform(X))

    def reason_codes(self, X: pd.DataFrame, k: int = 4) -> list[list[dict[str, Any]]]:
        """Top-``k`` adverse factors per applicant (see :func:`riskops.explain.reason_codes`)."""
        from riskops.explain import reason_codes

        explanation = self.explain(X)
        features = list(self.input_schema_)
        return reason_codes(explanation.contributions, X[features], features, k)

    def score_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """PD and grade per applicant, validated by :class:`~riskops.credit.CreditScores`."""
        from riskops.credit.schemas import CreditScores

        pd_ = self.predict_pd(X)
        frame = pd.DataFrame({"pd": pd_, "grade": self.grade(pd_)}, index=X.index)
        return CreditScores.validate(frame)

    def score_records(
        self, records: Sequence[Mapping[str, Any]], k: int = 4
    ) -> list[dict[str, Any]]:
        """Score JSON-like applicants straight from a float matrix (the serving hot path).

        Returns, per record, ``{"pd", "grade", "reasons": [{"feature", "value",
        "contribution"}, ...]}``; absent keys count as missing values.
        """
        from riskops.explain import reason_codes

        if "calibrator_" not in self.__dict__:  # check_is_fitted's rule, without its cost
            check_is_fitted(self, "calibrator_")
        Z = self.encoder_.transform_records(records)
        explanation = self._explain_matrix(Z)
        grades = self.rating_scale_.grade(explanation.pd)
        values = self.encoder_.values_of_records(records)
        reasons = reason_codes(explanation.contributions, values, list(self.input_schema_), k)
        return [
            {"pd": float(p), "grade": str(g), "reasons": r}
            for p, g, r in zip(explanation.pd.tolist(), grades.tolist(), reasons, strict=True)
        ]

    def _explain_matrix(self, Z: np.ndarray) -> PDExplanation:
        contributions, base_value = self._contributions(Z)
        raw = base_value + contributions.sum(axis=1)
        return PDExplanation(self.calibrator_.transform(raw), raw, contributions, base_value)

    # -- core, implemented by subclasses -----------------------------------------

    def _fit_core(self, Z: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _contributions(self, Z: np.ndarray) -> tuple[np.ndarray, float]:
        raise NotImplementedError


def _binary(y: Any) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(y)
    classes = np.unique(values[~pd.isna(values)]) if values.dtype == object else np.unique(values)
    if len(classes) != 2:
        raise BadInputError(f"target: need exactly two classes, got {list(classes)[:5]}")
    return (values == classes[1]).astype(np.int8), classes
