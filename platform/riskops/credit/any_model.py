"""Any scikit-learn binary classifier as a RiskOps PD model: the platform's side of the contract.

:class:`ClassifierPD` wraps a data scientist's classifier (or ``Pipeline``) whose
``predict_proba`` takes the raw applicant frame, and adds what the lifecycle and the service
need, exactly as the built-in kinds have it:

* the request schema of the version (``input_schema_``: kinds, categories, nullability,
  from the training frame, as :class:`~riskops.credit.encoding.FeatureEncoder` infers it),
  over exactly the columns the model reads (:func:`columns_read`): the ones declared in
  ``features``, else the ones its ``ColumnTransformer`` selects, else every column;
* development PDs for the rating scale and the PSI: by default the fitted model's own PDs
  of the training rows, so that grades and the PSI describe the very model that is served
  (with ``cv`` folds, cross-fitted PDs instead: each row scored by a clone fitted without
  it; for a model that overfits its training rows, at ``cv`` extra fits);
* a :class:`~riskops.credit.calibration.RatingScale` (grades ``G1`` best);
* SHAP explanations per raw column and reason codes through the platform's explainer
  (:mod:`riskops.explainers`: TreeSHAP, linear or permutation), built when first needed
  and never pickled.

It is itself a scikit-learn meta-estimator: ``clone`` gives back the unfitted user
specification, which is how the automated retrain refits it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from riskops.credit.models import PDExplanation
from riskops.errors import BadInputError

__all__ = ["ClassifierPD", "columns_read", "implements_platform_pd"]

_PLATFORM_PD = ("predict_pd", "grade", "explain", "score_records")
_BACKGROUND_ROWS = 500


def implements_platform_pd(estimator: Any) -> bool:
    """True for models that already offer the platform's PD interface (the built-in kinds)."""
    return all(callable(getattr(estimator, m, None)) for m in _PLATFORM_PD)


class ClassifierPD(ClassifierMixin, BaseEstimator):
    """A user's binary classifier, graded, explained and served like the built-in PD models.

    Parameters
    ----------
    estimator
        Unfitted classifier or Pipeline; ``fit(X, y)`` on the raw applicant frame with
        ``y`` in {0, 1} (1 = default), ``predict_proba(X)``.
    n_grades
        Rating grades.
    cv
        Folds of cross-fitted development PDs (``None`` or ``< 2``: the fitted model's PDs
        of its training rows).
    explainer
        ``None`` (the fastest exact explainer the model allows) or ``tree``, ``linear``,
        ``permutation``.
    random_state
        Seed of the folds and of the explainer's background sample.
    features
        The columns the model reads, declared (e.g. the ``feature_names_in_`` of a model
        the user fitted); ``None``: the columns found by :func:`columns_read`. The model is
        fitted on these columns only and a request needs no other.
    """

    _wraps = "estimator"
    """The parameter holding the user's unfitted model (see ``contracts.specification_of``)."""

    def __init__(
        self,
        estimator: Any = None,
        n_grades: int = 8,
        cv: int | None = None,
        explainer: str | None = None,
        random_state: int | None = 0,
        features: Sequence[str] | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_grades = n_grades
        self.cv = cv
        self.explainer = explainer
        self.random_state = random_state
        self.features = features

    # -- fitting --------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any) -> ClassifierPD:
        from riskops.credit.calibration import RatingScale
        from riskops.credit.encoding import FeatureEncoder

        if self.estimator is None:
            raise BadInputError("estimator: ClassifierPD needs a classifier to wrap")
        if not isinstance(X, pd.DataFrame):
            raise BadInputError("credit models need a DataFrame with named columns to fit")
        y01 = np.asarray(pd.Series(y).astype(int), dtype=np.int8)
        if set(np.unique(y01)) != {0, 1}:
            raise BadInputError("target: need both outcomes coded 0/1 (1 = default)")
        X = X[self._columns_to_read(X)]
        encoder = FeatureEncoder().fit(X)
        self.input_schema_ = encoder.input_schema_
        self.feature_names_in_ = np.asarray(list(encoder.input_schema_), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        X = self._frame(X)  # the types the model will see when serving JSON records
        fitted = clone(self.estimator).fit(X, y01)
        self.development_pd_ = self._development_pd(X, y01, fitted)
        self.estimator_ = fitted
        classes = list(getattr(fitted, "classes_", [0, 1]))
        if 1 not in classes:
            raise BadInputError(f"estimator: classes_ {classes} do not include 1 (default)")
        self.positive_index_ = int(classes.index(1))
        self.classes_ = np.array([0, 1])
        self.rating_scale_ = RatingScale(self.n_grades).fit(self.development_pd_)
        self.grades_ = self.rating_scale_.edges_
        self.n_train_ = len(y01)
        self.default_rate_train_ = float(y01.mean())
        rows = min(_BACKGROUND_ROWS, len(X))
        self.background_ = X.sample(n=rows, random_state=self.random_state).reset_index(drop=True)
        self.explainer_kind_ = self._explainer().kind
        head = self.background_.head(2)
        self.example_records_ = head.astype(object).where(head.notna(), None).to_dict("records")
        return self

    def _columns_to_read(self, X: pd.DataFrame) -> list[str]:
        """The declared ``features`` (checked against ``X``), narrowed to what the wrapped
        specification selects of them."""
        if self.features is None:
            candidates = [str(c) for c in X.columns]
        else:
            candidates = [str(c) for c in self.features]
            absent = [c for c in candidates if c not in X.columns]
            if absent or not candidates:
                raise BadInputError(
                    f"features: {absent or 'none'} not among the data's columns "
                    f"{[str(c) for c in X.columns]}"
                )
        return columns_read(self.estimator, X[candidates])

    def _development_pd(self, X: pd.DataFrame, y: np.ndarray, fitted: Any) -> np.ndarray:
        if self.cv is None or self.cv < 2:
            return _positive(fitted, X)
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(n_splits=int(self.cv), shuffle=True, random_state=self.random_state)
        out = np.empty(len(y), dtype=float)
        for fit_rows, held_out in folds.split(X, y):
            model = clone(self.estimator).fit(X.iloc[fit_rows], y[fit_rows])
            out[held_out] = _positive(model, X.iloc[held_out])
        return out

    # -- prediction -------------------------------------------------------------------
    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        proba = np.asarray(self.estimator_.predict_proba(self._frame(X)), dtype=float)
        return proba[:, self.positive_index_]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        pd_ = self.predict_pd(X)
        return np.column_stack([1.0 - pd_, pd_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_pd(X) >= 0.5).astype(int)

    def grade(self, pd_: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "rating_scale_")
        return self.rating_scale_.grade(pd_)

    # -- explanations -----------------------------------------------------------------
    def _explainer(self) -> Any:
        explainer = self.__dict__.get("_explainer_cache")
        if explainer is None:
            from riskops.explainers import make_explainer

            explainer = make_explainer(
                self.estimator_,
                self.background_,
                self.positive_index_,
                kind=self.explainer,
                seed=int(self.random_state or 0),
            )
            self.__dict__["_explainer_cache"] = explainer
        return explainer

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_explainer_cache", None)  # rebuilt from the model after loading
        return state

    def explain(self, X: pd.DataFrame, k: int = 4) -> PDExplanation:
        """PDs with the raw score split into SHAP values per raw column."""
        check_is_fitted(self, "estimator_")
        return self._explain_frame(self._frame(X))

    def _explain_frame(self, frame: pd.DataFrame) -> PDExplanation:
        contributions, base_value, pd_ = self._explainer().explain_with_pd(frame)
        if pd_ is None:
            proba = np.asarray(self.estimator_.predict_proba(frame), dtype=float)
            pd_ = proba[:, self.positive_index_]
        raw = base_value + contributions.sum(axis=1)
        return PDExplanation(pd_, raw, contributions, base_value)

    def score_records(
        self, records: Sequence[Mapping[str, Any]], k: int = 4
    ) -> list[dict[str, Any]]:
        """PD, grade and reason codes per JSON-like applicant (what the service calls)."""
        from riskops.explain import reason_codes

        check_is_fitted(self, "estimator_")
        columns = list(self.input_schema_)
        frame = self._frame(pd.DataFrame.from_records(list(records), columns=columns))
        explanation = self._explain_frame(frame)
        grades = self.grade(explanation.pd)
        values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
        reasons = reason_codes(explanation.contributions, values, list(self.input_schema_), k)
        return [
            {"pd": float(p), "grade": str(g), "reasons": r}
            for p, g, r in zip(explanation.pd.tolist(), grades.tolist(), reasons, strict=True)
        ]

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The raw frame in training column order and types (records arrive as objects)."""
        names = list(self.input_schema_)
        missing = [n for n in names if n not in X.columns]
        if missing:
            from riskops.errors import DataValidationError, Violation

            raise DataValidationError(
                "applicants", [Violation(n, "column required by the model") for n in missing]
            )
        out = X[names].copy()
        for name, spec in self.input_schema_.items():
            if spec["kind"] == "numeric":
                out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
            else:
                out[name] = out[name].astype(object).where(out[name].notna(), np.nan)
        return out


def columns_read(estimator: Any, X: pd.DataFrame) -> list[str]:
    """The columns of ``X`` an unfitted classifier or Pipeline will read, in ``X``'s order.

    A :class:`~sklearn.compose.ColumnTransformer` (the estimator's first step, within
    nested Pipelines) whose ``remainder`` is ``"drop"`` reads the columns its transformers
    select and are not ``"drop"``: named columns, or a callable such as
    :func:`~sklearn.compose.make_column_selector` evaluated on ``X`` as scikit-learn does
    at fit. Anything else -- no ColumnTransformer, a ``remainder`` kept, columns chosen by
    position or mask (whose meaning depends on every column being there) -- reads every
    column of ``X``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    every = [str(c) for c in X.columns]
    first = estimator
    while isinstance(first, Pipeline) and first.steps:
        first = first.steps[0][1]
    if not isinstance(first, ColumnTransformer) or not _is_drop(first.remainder):
        return every
    selected: set[str] = set()
    for _, transformer, columns in first.transformers:
        if _is_drop(transformer):
            continue
        names = _column_names(columns(X) if callable(columns) else columns)
        if names is None:
            return every
        selected |= names
    return [c for c in every if c in selected]


def _is_drop(transformer: Any) -> bool:
    return isinstance(transformer, str) and transformer == "drop"


def _column_names(columns: Any) -> set[str] | None:
    """Column names of a ColumnTransformer selection, ``None`` when it is positional."""
    if isinstance(columns, str):
        return {columns}
    if isinstance(columns, slice | int | np.integer):
        return None
    values = list(np.asarray(columns, dtype=object).ravel())
    if all(isinstance(v, str) for v in values):
        return {str(v) for v in values}
    return None


def _positive(model: Any, X: pd.DataFrame) -> np.ndarray:
    classes = list(getattr(model, "classes_", [0, 1]))
    proba = np.asarray(model.predict_proba(X), dtype=float)
    return proba[:, classes.index(1) if 1 in classes else 1]
