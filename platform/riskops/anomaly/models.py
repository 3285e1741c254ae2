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
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import LocalOutlierFactor
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

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


class AutoencoderDetector(_Detector):
    """A dense autoencoder: an MLP that reconstructs its standardised inputs.

    The network maps ``p`` standardised features through ``hidden_units``,
    ``bottleneck`` and ``hidden_units`` tanh units back to ``p`` outputs; a row that
    the bottleneck cannot represent is reconstructed badly. The score is the squared
    reconstruction error summed over features, in standardised units.

    Parameters
    ----------
    hidden_units : int
        Width of the encoder and decoder layers.
    bottleneck : int
        Width of the code layer; smaller than the number of features.
    alpha : float
        L2 penalty of the weights.
    max_iter : int
        Maximum epochs of Adam.
    tol : float
        Adam stops when the training loss has improved by less than ``tol`` for ten epochs.
        At 1e-3 the bundled data's network stops after about 50 epochs (0.5 s), at
        scikit-learn's 1e-4 after about 380 (4 s) with a lower reconstruction loss (0.115
        against 0.166) that found fewer of the curated events (13 of 21 against 16 in
        the ensemble; the held-out events, 4 of 5, either way).
    alert_rate : float
        Target share of training rows above ``decision_threshold_``.
    random_state : int or None
        Seed of the weight initialisation and batch order.

    Attributes
    ----------
    scaler_ : sklearn.preprocessing.StandardScaler
    network_ : sklearn.neural_network.MLPRegressor
    converged_ : bool
        False when Adam stopped at ``max_iter`` before its tolerance.
    """

    def __init__(
        self,
        hidden_units: int = 16,
        bottleneck: int = 3,
        alpha: float = 1e-4,
        max_iter: int = 1000,
        tol: float = 1e-3,
        alert_rate: float = 0.01,
        random_state: int | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.bottleneck = bottleneck
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.alert_rate = alert_rate
        self.random_state = random_state

    def _fit(self, Z: np.ndarray) -> None:
        self.scaler_ = StandardScaler().fit(Z)
        standard = self.scaler_.transform(Z)
        self.network_ = MLPRegressor(
            hidden_layer_sizes=(self.hidden_units, self.bottleneck, self.hidden_units),
            activation="tanh",
            alpha=self.alpha,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self.network_.fit(standard, standard)
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)

    def _squared_errors(self, Z: np.ndarray) -> np.ndarray:
        standard = self.scaler_.transform(Z)
        reconstruction = self.network_.predict(standard).reshape(standard.shape)
        return (standard - reconstruction) ** 2

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._squared_errors(Z).sum(axis=1)

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        return _normalise(self._squared_errors(Z))


_MEMBERS = ("isolation_forest", "lof", "autoencoder")


class EnsembleDetector(_Detector):
    """Rank-averaged ensemble of an isolation forest, a LOF and an autoencoder.

    Each member's score is turned into its percentile among that member's own
    training scores (:class:`EmpiricalTail`), so the members speak on one scale and a
    single new row can be scored without a batch to rank it against; the ensemble
    score is the mean of the three percentiles.

    Parameters
    ----------
    isolation_forest, lof, autoencoder : estimator or None
        Unfitted member specifications; ``None`` for the defaults.
    alert_rate : float
        Target share of training rows above ``decision_threshold_``.
    random_state : int or None
        When set, overrides the members' seeds (the LOF has none).

    Attributes
    ----------
    members_ : dict of str to fitted detector
    """

    def __init__(
        self,
        isolation_forest: Any = None,
        lof: Any = None,
        autoencoder: Any = None,
        alert_rate: float = 0.01,
        random_state: int | None = None,
    ) -> None:
        self.isolation_forest = isolation_forest
        self.lof = lof
        self.autoencoder = autoencoder
        self.alert_rate = alert_rate
        self.random_state = random_state

    def _specifications(self) -> dict[str, Any]:
        defaults = {
            "isolation_forest": IsolationForestDetector(),
            "lof": LOFDetector(),
            "autoencoder": AutoencoderDetector(),
        }
        specs = {}
        for name in _MEMBERS:
            spec = clone(getattr(self, name) or defaults[name])
            if self.random_state is not None and "random_state" in spec.get_params():
                spec.set_params(random_state=self.random_state)
            specs[name] = spec
        return specs

    def _fit(self, Z: np.ndarray) -> None:
        self.members_ = {name: spec.fit(Z) for name, spec in self._specifications().items()}

    def member_percentiles(self, X: Any) -> pd.DataFrame:
        """Each member's percentile for each row, one column per member."""
        check_is_fitted(self, "decision_threshold_")
        Z = self._validate(X)
        return pd.DataFrame(self._percentiles(Z), index=_index_of(X), columns=list(_MEMBERS))

    def _percentiles(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([self.members_[name].percentile(Z) for name in _MEMBERS])

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._percentiles(Z).mean(axis=1)

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        return self._score_and_shares(Z)[1]

    def _score_and_shares(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Each member scores and explains in one pass; its scores give both its percentile
        # (the ensemble score) and its weight in the shares.
        percentiles, shares = [], []
        for name in _MEMBERS:
            member = self.members_[name]
            scores, member_shares = member._score_and_shares(Z)
            percentiles.append(member.score_tail_.transform(scores))
            shares.append(member_shares)
        table = np.column_stack(percentiles)
        weights = _normalise(table)
        return table.mean(axis=1), np.einsum("nm,nmp->np", weights, np.stack(shares, axis=1))


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
