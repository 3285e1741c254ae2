"""From applicants (a DataFrame, or JSON-like records) to the float matrix models consume.

Every PD model works on one float matrix: numeric features as floats, categorical
features as integer codes of their training categories, and ``NaN`` for a missing
value *or* a category never seen in training. Both entry points, the DataFrame path
used in training and batch scoring, and the records path used by the service, go
through the same code maps, so they give the same numbers by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from riskops.errors import BadInputError, DataValidationError, Violation

__all__ = ["FeatureEncoder"]


class FeatureEncoder(TransformerMixin, BaseEstimator):
    """Learn each feature's kind and categories; encode frames and records alike.

    A column is numeric when its dtype is numeric or boolean, categorical otherwise.
    Categories are the distinct non-missing training values as text, coded in sorted
    order so that the codes do not depend on row order.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Training columns, in the order of the encoded matrix.
    input_schema_ : dict
        Per feature ``{"kind": "numeric"|"categorical", "categories": [...], "nullable":
        bool}``; ``nullable`` says whether training data had missing values (the models
        themselves accept missing values in every feature). Numeric features also carry
        the ``min`` and ``max`` seen in training, which the service validates against.
    categorical_ : ndarray of bool
        Which encoded columns hold category codes.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureEncoder:
        if not isinstance(X, pd.DataFrame):
            raise BadInputError("credit models need a DataFrame with named columns to fit")
        schema: dict[str, dict[str, Any]] = {}
        for name in X.columns:
            column = X[name]
            nullable = bool(column.isna().any())
            if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
                values = column.to_numpy(dtype=float, na_value=np.nan)
                finite = values[np.isfinite(values)]
                schema[str(name)] = {"kind": "numeric", "nullable": nullable}
                if finite.size:
                    schema[str(name)].update(min=float(finite.min()), max=float(finite.max()))
            else:
                categories = sorted(_as_text(column).dropna().unique().tolist())
                schema[str(name)] = {
                    "kind": "categorical",
                    "categories": categories,
                    "nullable": nullable,
                }
        self.feature_names_in_ = np.array(list(schema), dtype=object)
        self.n_features_in_ = len(schema)
        self.input_schema_ = schema
        self.categorical_ = np.array([s["kind"] == "categorical" for s in schema.values()])
        self.codes_ = {
            name: {c: float(i) for i, c in enumerate(s["categories"])}
            for name, s in schema.items()
            if s["kind"] == "categorical"
        }
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode a frame; extra columns are ignored, missing columns are an error."""
        check_is_fitted(self, "input_schema_")
        names = list(self.input_schema_)
        absent = [n for n in names if n not in X.columns]
        if absent:
            raise DataValidationError(
                "credit model input", [Violation(n, "column is missing") for n in absent]
            )
        out = np.empty((len(X), len(names)), dtype=float)
        problems = []
        for j, name in enumerate(names):
            column = X[name]
            if name in self.codes_:
                out[:, j] = _as_text(column).map(self.codes_[name]).to_numpy(dtype=float)
                continue
            if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
                out[:, j] = column.to_numpy(dtype=float, na_value=np.nan)
                continue
            parsed = pd.to_numeric(column, errors="coerce")
            bad = parsed.isna() & column.notna()
            if bad.any():
                problems.append(Violation(name, "must be numeric", tuple(column[bad].head())))
            out[:, j] = parsed.to_numpy(dtype=float, na_value=np.nan)
        if problems:
            raise DataValidationError("credit model input", problems)
        return out

    def transform_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode JSON-like records without building a DataFrame (the serving hot path).

        An absent key counts as a missing value; unknown keys are ignored.
        """
        check_is_fitted(self, "input_schema_")
        plan = [(name, self.codes_.get(name)) for name in self.input_schema_]
        rows = []
        for record in records:
            row = []
            for name, codes in plan:
                value = record.get(name)
                if value is None or (isinstance(value, float) and value != value):
                    row.append(math.nan)
                elif codes is not None:
                    row.append(codes.get(value if type(value) is str else _text(value), math.nan))
                else:
                    row.append(_number(value, name))
            rows.append(row)
        return np.array(rows, dtype=float).reshape(len(records), len(plan))

    def values_of_records(self, records: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """The raw feature values of records, in encoded column order (for reason codes)."""
        names = list(self.input_schema_)
        return [[record.get(name) for name in names] for record in records]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "input_schema_")
        return self.feature_names_in_.copy()


def _as_text(column: pd.Series) -> pd.Series:
    """Values as text with missing values kept missing, the same way :func:`_text` does."""
    if pd.api.types.is_float_dtype(column):
        # Whole-number floats print as "1.0" in both paths; keep pandas from differing.
        return column.map(_text, na_action="ignore").astype(object)
    return column.astype("string").astype(object).where(column.notna(), None)


def _text(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataValidationError(
            "credit model input", [Violation(name, "must be numeric", (value,))]
        ) from None
