"""SHAP values for any fitted binary classifier, per *raw* input column, chosen by the platform.

The platform, not the model, picks the fastest exact explainer the fitted model allows
(as MLflow's default evaluator does), in this order:

``tree``
    The final estimator is a tree ensemble (LightGBM, XGBoost, scikit-learn forests,
    gradient and histogram gradient boosting, single trees): ``shap.TreeExplainer``
    (path-dependent TreeSHAP, exact, no background needed) on the features the
    pipeline's preprocessing produces.
``linear``
    The final estimator is linear (``coef_`` and ``intercept_``, e.g. logistic
    regression): the exact interventional Shapley values of a linear model,
    ``coef * (z - mean(z_background))`` (what ``shap.LinearExplainer`` computes), in
    closed form.
``permutation``
    Anything else: ``shap.PermutationExplainer`` on ``logit(PD)`` of the raw frame, with a
    bounded background sample (:data:`BACKGROUND_ROWS` rows) and a bounded number of
    evaluations; model-agnostic and additive (efficiency holds exactly), sampled.

For ``tree`` and ``linear`` the SHAP values of the transformed features are mapped back to
the raw columns they were computed from (one-hot columns of ``Home`` sum into ``Home``),
which is exact because a Shapley value is additive over a partition of features. The map
is learnt by perturbing one raw column at a time and seeing which transformed columns move,
with the preprocessing's output names as a fallback; when one transformed column depends on
several raw columns (interactions, PCA) no partition exists and the permutation explainer
is used instead.

Every explainer returns ``(contributions, base_value)`` with ``contributions`` of shape
``(n_rows, n_raw_columns)`` in the model's raw-score space, ``base_value +
contributions.sum(axis=1)`` equal to that raw score (log-odds for boosting, linear and
permutation; the positive-class probability for forests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BACKGROUND_ROWS", "PlatformExplainer", "make_explainer"]

BACKGROUND_ROWS = 50
"""Background rows of the model-agnostic explainer (its cost grows linearly with them)."""
_PROBE_ROWS = 200
_TREE_MODULES = ("lightgbm", "xgboost", "catboost")
_TREE_NAMES = (
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "IsolationForest",
)


def split_pipeline(estimator: Any) -> tuple[Any | None, Any]:
    """``(preprocessing, final estimator)`` of a Pipeline; ``(None, estimator)`` otherwise."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        return estimator[:-1], steps[-1][1]
    if isinstance(steps, list) and steps:
        return None, steps[-1][1]
    return None, estimator


def explainer_kind(final: Any) -> str:
    """``tree``, ``linear`` or ``permutation`` for a fitted final estimator."""
    cls = type(final)
    if cls.__module__.split(".")[0] in _TREE_MODULES or cls.__name__ in _TREE_NAMES:
        return "tree"
    coef = getattr(final, "coef_", None)
    if coef is not None and hasattr(final, "intercept_") and np.asarray(coef).shape[0] == 1:
        return "linear"
    return "permutation"


@dataclass
class PlatformExplainer:
    """A fitted model's explainer; built once per loaded model, never pickled."""

    kind: str
    columns: list[str]
    _explain: Any = field(repr=False)

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:
        """SHAP values per raw column of ``X`` and the base value."""
        phi, base, _ = self.explain_with_pd(X)
        return phi, base

    def explain_with_pd(self, X: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray | None]:
        """SHAP values, base value and, when the explainer computed them on the way (one
        preprocessing pass instead of two), the default probabilities; else ``None``."""
        out = self._explain(X[self.columns])
        phi, base = out[0], out[1]
        pd_ = None if len(out) < 3 else np.asarray(out[2], dtype=float)
        return np.asarray(phi, dtype=float), float(base), pd_


def make_explainer(
    model: Any,
    background: pd.DataFrame,
    positive_index: int = 1,
    *,
    kind: str | None = None,
    seed: int = 0,
) -> PlatformExplainer:
    """The explainer the platform uses for a fitted classifier ``model``.

    Parameters
    ----------
    model
        Fitted classifier (or Pipeline) taking the raw frame.
    background
        Raw rows the model was trained on (a sample); the reference for the linear and
        permutation explainers and the probe for the column map.
    positive_index
        Column of ``predict_proba`` that is the default probability.
    kind
        Force an explainer (``tree``, ``linear`` or ``permutation``); default: the fastest
        exact one the model allows.
    seed
        Seed of the background sample and of the permutations.
    """
    columns = [str(c) for c in background.columns]
    pre, final = split_pipeline(model)
    chosen = kind or explainer_kind(final)
    if chosen in ("tree", "linear"):
        prepared = _transformed(pre, background, columns)
        if prepared is not None:
            transform, groups = prepared
            if chosen == "tree":
                fn = _tree(final, transform, groups, positive_index)
            else:
                fn = _linear(final, transform, groups, background, positive_index)
            if fn is not None:
                return PlatformExplainer(chosen, columns, fn)
    return PlatformExplainer(
        "permutation", columns, _permutation(model, background, positive_index, seed)
    )


# ---------------------------------------------------------------------------- column map
def _dense(Z: Any) -> np.ndarray:
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    if isinstance(Z, pd.DataFrame):
        Z = Z.to_numpy()
    return np.asarray(Z, dtype=float)


def _transformed(
    pre: Any, background: pd.DataFrame, columns: list[str]
) -> tuple[Any, np.ndarray] | None:
    """``(transform, groups)``: raw frame -> dense features, and the 0/1 matrix
    (n_transformed x n_raw) saying which raw column each feature comes from."""
    if pre is None:
        if not all(pd.api.types.is_numeric_dtype(background[c]) for c in columns):
            return None  # the model eats text columns itself: nothing to map

        def as_matrix(X: pd.DataFrame) -> np.ndarray:
            return X[columns].to_numpy(dtype=float)

        return as_matrix, np.eye(len(columns))

    def transform(X: pd.DataFrame) -> np.ndarray:
        return _dense(pre.transform(X[columns]))

    probe = background.head(_PROBE_ROWS).reset_index(drop=True)
    try:
        Z0 = transform(probe)
    except Exception:
        return None
    n_out = Z0.shape[1]
    moved = np.zeros((n_out, len(columns)), dtype=bool)
    for j, column in enumerate(columns):
        for shift in (1, 2, 3, 7):
            perturbed = probe.copy()
            perturbed[column] = np.roll(probe[column].to_numpy(), shift)
            try:
                Z = transform(perturbed)
            except Exception:
                return None
            changed = ~np.isclose(Z, Z0, equal_nan=True)
            moved[:, j] |= changed.any(axis=0)
    if (moved.sum(axis=1) > 1).any():
        return None  # a feature mixes raw columns: no partition, no exact map
    unassigned = np.flatnonzero(moved.sum(axis=1) == 0)
    if len(unassigned):
        names = _output_names(pre, n_out)
        for i in unassigned:
            owner = _owner(names[i] if names is not None else None, columns)
            if owner is None:
                return None
            moved[i, owner] = True
    return transform, moved.astype(float)


def _output_names(pre: Any, n_out: int) -> list[str] | None:
    try:
        names = [str(n) for n in pre.get_feature_names_out()]
    except Exception:
        return None
    return names if len(names) == n_out else None


def _owner(name: str | None, columns: list[str]) -> int | None:
    """The raw column whose name is the longest one inside a transformed feature's name."""
    if name is None:
        return None
    bare = name.split("__", 1)[-1]
    hits = [(len(c), j) for j, c in enumerate(columns) if bare == c or bare.startswith(f"{c}_")]
    return max(hits)[1] if hits else None


# ---------------------------------------------------------------------------- explainers
def _tree(final: Any, transform: Any, groups: np.ndarray, positive_index: int) -> Any:
    import shap

    try:
        explainer = shap.TreeExplainer(final)
    except Exception:
        return None

    def explain(X: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
        Z = transform(X)
        pd_ = np.asarray(final.predict_proba(Z), dtype=float)[:, positive_index]
        values = explainer.shap_values(Z, check_additivity=False)
        expected = explainer.expected_value
        if isinstance(values, list):
            values = values[positive_index]
        values = np.asarray(values, dtype=float)
        if values.ndim == 3:
            values = values[:, :, positive_index]
        base = np.atleast_1d(np.asarray(expected, dtype=float))
        base_value = float(base[positive_index] if base.size > 1 else base[0])
        return values @ groups, base_value, pd_

    return explain


def _linear(
    final: Any, transform: Any, groups: np.ndarray, background: pd.DataFrame, positive_index: int
) -> Any:
    coef = np.asarray(final.coef_, dtype=float).reshape(-1)
    intercept = float(np.asarray(final.intercept_, dtype=float).reshape(-1)[0])
    mean = transform(background).mean(axis=0)
    if mean.shape != coef.shape:
        return None
    base_value = intercept + float(coef @ mean)

    def explain(X: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
        Z = transform(X)
        pd_ = np.asarray(final.predict_proba(Z), dtype=float)[:, positive_index]
        return ((Z - mean) * coef) @ groups, base_value, pd_

    return explain


def _permutation(model: Any, background: pd.DataFrame, positive_index: int, seed: int) -> Any:
    import shap

    columns = list(background.columns)
    sample = background.sample(
        n=min(BACKGROUND_ROWS, len(background)), random_state=seed
    ).reset_index(drop=True)
    numeric, decode = _codes(sample)

    def logit_pd(Z: np.ndarray) -> np.ndarray:
        frame = decode(np.asarray(Z, dtype=float))
        p = np.asarray(model.predict_proba(frame), dtype=float)[:, positive_index]
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    masker = shap.maskers.Independent(numeric, max_samples=len(numeric))
    explainer = shap.PermutationExplainer(logit_pd, masker, seed=seed)
    max_evals = 2 * (2 * len(columns) + 1) * 5  # five antithetic permutations per row
    base_value = float(logit_pd(numeric).mean())

    def explain(X: pd.DataFrame) -> tuple[np.ndarray, float]:
        Z = encode(X)
        result = explainer(Z, max_evals=max_evals, silent=True)
        values = np.asarray(result.values, dtype=float)
        return values, base_value

    encode = decode.encode
    return explain


class _Decoder:
    """Raw frame <-> float matrix (text categories as codes), for explainers that need numbers."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.categories: dict[str, list[Any]] = {}
        self.dtypes = frame.dtypes.to_dict()
        for c in self.columns:
            if not pd.api.types.is_numeric_dtype(frame[c]):
                self.categories[c] = sorted(
                    {v for v in frame[c].dropna().tolist()}, key=lambda v: str(v)
                )

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)), dtype=float)
        for j, c in enumerate(self.columns):
            if c in self.categories:
                known = self.categories[c]
                lookup = {v: i for i, v in enumerate(known)}
                values = X[c].tolist()
                codes = []
                for v in values:
                    if v is None or (isinstance(v, float) and np.isnan(v)):
                        codes.append(np.nan)
                    elif v not in lookup:
                        lookup[v] = len(known)
                        known.append(v)
                        codes.append(float(lookup[v]))
                    else:
                        codes.append(float(lookup[v]))
                out[:, j] = codes
            else:
                out[:, j] = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float)
        return out

    def __call__(self, Z: np.ndarray) -> pd.DataFrame:
        Z = np.atleast_2d(Z)
        data: dict[str, Any] = {}
        for j, c in enumerate(self.columns):
            column = Z[:, j]
            if c in self.categories:
                known = np.asarray(self.categories[c] + [None], dtype=object)
                idx = np.where(np.isnan(column), len(known) - 1, column).astype(int)
                data[c] = known[idx]
            else:
                data[c] = column
        return pd.DataFrame(data, columns=self.columns)


def _codes(sample: pd.DataFrame) -> tuple[np.ndarray, _Decoder]:
    decoder = _Decoder(sample)
    return decoder.encode(sample), decoder
