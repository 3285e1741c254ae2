"""What every detector shares: the scores and explanations schemas, the calibrated
threshold and empirical tail of :class:`_Detector`, and the tables of scores and shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data


class AnomalyScores(pa.DataFrameModel):
    """Model output: one row per input row."""

    score: Series[float] = pa.Field(nullable=False, description="Higher is more anomalous.")
    percentile: Series[float] = pa.Field(
        ge=0, le=1, description="Share of training rows scoring below this row."
    )
    alert: Series[int] = pa.Field(isin=[0, 1], description="1 when score > threshold.")

    class Config:
        strict = True
        coerce = True


class AnomalyExplanation(pa.DataFrameModel):
    """Explanation output: ``top_k`` rows per explained row, largest share first."""

    rank: Series[int] = pa.Field(ge=1)
    feature: Series[str]
    share: Series[float] = pa.Field(ge=0, le=1)
    value: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True


class EmpiricalTail:
    """Percentile of a score among reference scores, strictly increasing above the maximum.

    Inside the reference range, the percentile is the linearly interpolated empirical
    CDF with plotting positions ``i / (n + 1)`` (tied scores share their mean position).
    Above the maximum, the remaining mass ``1 / (n + 1)`` is spread by an exponential
    tail fitted to the excesses over the reference's 99th percentile (the
    peaks-over-threshold estimate with shape 0), so new extremes keep their order.
    """

    # Stored models (skops files, the family's trusted types) name this class by its public
    # path, riskops.anomaly.models, which is the file format: it stays whichever file of the
    # package defines the class.
    __module__ = "riskops.anomaly.models"

    def fit(self, scores: np.ndarray) -> EmpiricalTail:
        scores = np.sort(np.asarray(scores, dtype=float))
        n = len(scores)
        values, first, counts = np.unique(scores, return_index=True, return_counts=True)
        # Mean 1-based rank of each run of ties, over n + 1.
        self.values_ = values
        self.positions_ = (first + (counts + 1) / 2) / (n + 1)
        u = np.quantile(scores, 0.99)
        excess = scores[scores > u] - u
        scale = float(excess.mean()) if len(excess) else 0.0
        self.tail_scale_ = scale if scale > 0 else float(np.std(scores)) or 1.0
        self.n_ = n
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        inside = np.interp(scores, self.values_, self.positions_)
        top, top_position = self.values_[-1], self.positions_[-1]
        beyond = top_position + (1 - top_position) * -np.expm1(
            -np.maximum(scores - top, 0.0) / self.tail_scale_
        )
        return np.where(scores > top, beyond, inside)


class _Detector(BaseEstimator):
    """Shared machinery: validation, calibration, percentiles, alerts, explanations.

    Subclasses implement ``_fit(Z)``, ``_score(Z)`` and ``_shares(Z)`` on a validated
    float array.
    """

    def fit(self, X: Any, y: Any = None) -> _Detector:
        """Fit on unlabelled rows and calibrate the alert threshold on their scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (a feature frame keeps its column names for explanations).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self
        """
        Z = validate_data(self, X, dtype=np.float64, ensure_min_samples=2, reset=True)
        self._fit(Z)
        self.training_scores_ = self._score(Z)
        self.score_tail_ = EmpiricalTail().fit(self.training_scores_)
        self.decision_threshold_ = float(np.quantile(self.training_scores_, 1 - self.alert_rate))
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score of each row; higher is more anomalous."""
        check_is_fitted(self, "decision_threshold_")
        return self._score(self._validate(X))

    def percentile(self, X: Any) -> np.ndarray:
        """Share of training rows whose score is below each row's, in (0, 1)."""
        return self.score_tail_.transform(self.score_samples(X))

    def predict(self, X: Any) -> np.ndarray:
        """Alert flags: 1 when the score exceeds ``decision_threshold_``, else 0."""
        return (self.score_samples(X) > self.decision_threshold_).astype(np.int64)

    def feature_shares(self, X: Any) -> pd.DataFrame:
        """Per-row, per-feature shares of what drove the score; each row sums to 1."""
        check_is_fitted(self, "decision_threshold_")
        shares = self._shares(self._validate(X))
        return pd.DataFrame(shares, index=_index_of(X), columns=self._feature_names())

    def explain(self, X: Any, top_k: int = 3) -> pd.DataFrame:
        """The ``top_k`` features that drove each row, largest share first.

        Returns
        -------
        pandas.DataFrame
            Indexed by the row labels of ``X`` (each repeated ``top_k`` times), with
            ``rank`` (1 = main driver), ``feature``, ``share`` (see the module
            docstring for what shares sum to) and ``value`` (the feature's value).
        """
        return top_shares(self.feature_shares(X), X, top_k)

    def score_and_explain(self, X: Any, top_k: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``score_frame(self, X)`` and ``explain(X, top_k)`` from one pass over the rows.

        The same frames as the two calls, at the cost of one: a large batch pays once for
        what scores and explanations share (an ensemble's member scores, the LOF's
        neighbour search).
        """
        check_is_fitted(self, "decision_threshold_")
        Z = self._validate(X)
        scores, shares = self._score_and_shares(Z)
        index = _index_of(X)
        frame = pd.DataFrame(shares, index=index, columns=self._feature_names())
        return _score_table(self, scores, index), top_shares(frame, X, top_k)

    def _validate(self, X: Any) -> np.ndarray:
        return validate_data(self, X, dtype=np.float64, reset=False)

    def _score_and_shares(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._score(Z), self._shares(Z)

    def _feature_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return [f"x{j}" for j in range(self.n_features_in_)]
        return [str(n) for n in names]

    def _fit(self, Z: np.ndarray) -> None:
        raise NotImplementedError

    def _score(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def score_frame(estimator: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Scores, percentiles and alerts of a fitted detector, validated by :class:`AnomalyScores`."""
    return _score_table(estimator, estimator.score_samples(X), _index_of(X))


def _score_table(estimator: Any, scores: np.ndarray, index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "score": scores,
            "percentile": estimator.score_tail_.transform(scores),
            "alert": (scores > estimator.decision_threshold_).astype(np.int64),
        },
        index=index,
    )
    return AnomalyScores.validate(frame)


def _index_of(X: Any) -> pd.Index:
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.index
    return pd.RangeIndex(len(np.asarray(X)))


def _normalise(values: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1; an all-zero row becomes uniform."""
    values = np.asarray(values, dtype=float)
    totals = values.sum(axis=1, keepdims=True)
    uniform = np.full_like(values, 1.0 / values.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, values / np.where(totals > 0, totals, 1.0), uniform)


def _positive_shares(contributions: np.ndarray) -> np.ndarray:
    positive = np.clip(contributions, 0.0, None)
    has_positive = positive.sum(axis=1, keepdims=True) > 0
    return np.where(has_positive, _normalise(positive), _normalise(np.abs(contributions)))


def top_shares(shares: pd.DataFrame, X: Any, top_k: int) -> pd.DataFrame:
    """The ``top_k`` largest shares of each row, in :class:`AnomalyExplanation` layout."""
    top_k = int(min(max(top_k, 1), shares.shape[1]))
    values = np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X, dtype=float)
    matrix = shares.to_numpy()
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top_k]
    names = np.asarray(shares.columns, dtype=object)
    frame = pd.DataFrame(
        {
            "rank": np.tile(np.arange(1, top_k + 1), len(shares)),
            "feature": names[order].ravel(),
            "share": np.take_along_axis(matrix, order, axis=1).ravel(),
            "value": np.take_along_axis(values.reshape(matrix.shape), order, axis=1).ravel(),
        },
        index=shares.index.repeat(top_k),
    )
    return AnomalyExplanation.validate(frame)
