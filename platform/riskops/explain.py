"""SHAP artifacts and reason codes from precomputed contributions, for any family.

Each family computes its SHAP values with the explainer that is exact and fast for its
model (LightGBM's native TreeSHAP via ``pred_contrib=True``, ``shap.TreeExplainer`` for
scikit-learn trees, closed-form linear contributions for logistic regression). This
module only turns ``(contributions, base_value, X)`` into files and reason codes, so
every family's explanations look the same in the registry and in the service.

``shap`` and ``matplotlib`` are imported inside the functions that draw, so that
importing this module (e.g. on the serving hot path for :func:`reason_codes`) stays cheap.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["global_importance", "reason_codes", "write_shap_artifacts"]


def global_importance(contributions: np.ndarray, feature_names: Sequence[str]) -> dict[str, float]:
    """Mean absolute SHAP value per feature, largest first."""
    contributions = np.asarray(contributions, dtype=float)
    mean_abs = (
        np.abs(contributions).mean(axis=0) if len(contributions) else np.zeros(len(feature_names))
    )
    order = np.argsort(-mean_abs, kind="stable")
    return {str(feature_names[j]): float(mean_abs[j]) for j in order}


def reason_codes(
    contributions: np.ndarray,
    X: pd.DataFrame | np.ndarray | Sequence[Sequence[Any]],
    feature_names: Sequence[str],
    k: int = 4,
) -> list[list[dict[str, Any]]]:
    """The top-``k`` adverse factors of each row: largest positive contributions first.

    Adverse means pushing the raw score toward the positive class (default, anomaly);
    features with a zero or negative contribution are never reported as reasons, so a
    row may get fewer than ``k`` codes.

    Parameters
    ----------
    contributions
        SHAP values, shape ``(n_rows, n_features)``, in the model's raw-score space.
    X
        The feature values the contributions explain, same shape and column order: a
        frame, an array or one sequence of values per row.
    feature_names
        Names of the ``n_features`` columns.
    k
        Maximum number of reasons per row.

    Returns
    -------
    list of list of dict
        Per row, ``{"feature", "value", "contribution"}`` ordered by contribution descending.
    """
    phi = np.atleast_2d(np.asarray(contributions, dtype=float))
    n_rows, n_features = phi.shape
    k = int(min(max(k, 0), n_features))
    if isinstance(X, pd.DataFrame):
        X = X.to_numpy()
    rows = X.reshape(n_rows, n_features).tolist() if isinstance(X, np.ndarray) else X
    names = [str(f) for f in feature_names]
    columns = range(n_features)
    out: list[list[dict[str, Any]]] = []
    # Per row in plain Python: with a dozen features, heapq beats NumPy's argpartition and
    # fancy indexing, whose fixed cost per call dominates one-applicant requests. nlargest
    # keeps ties in column order, so the codes are deterministic.
    for row_phi, row_values in zip(phi.tolist(), rows, strict=True):
        top = heapq.nlargest(k, columns, key=row_phi.__getitem__)
        out.append(
            [
                {"feature": names[j], "value": _scalar(row_values[j]), "contribution": row_phi[j]}
                for j in top
                if row_phi[j] > 0.0
            ]
        )
    return out


def write_shap_artifacts(
    contributions: np.ndarray,
    base_value: float,
    X: pd.DataFrame,
    out_dir: Path,
    *,
    top_dependence: int = 3,
    sample_rows: Sequence[int] = (0, 1, 2),
    max_rows: int = 2000,
    seed: int = 0,
) -> dict[str, Path]:
    """Write the standard set of SHAP plots, values and importances into ``out_dir``.

    Parameters
    ----------
    contributions
        SHAP values, shape ``(n_rows, n_features)``, aligned with ``X``.
    base_value
        The expected raw score; ``contributions.sum(axis=1) + base_value`` is the raw score.
    X
        The explained feature frame (original values, categories as text).
    out_dir
        Folder to write into (created if needed).
    top_dependence
        Number of most important features that get a dependence plot.
    sample_rows
        Positions in the (sampled) frame that get a waterfall and a force plot.
    max_rows
        Rows are sampled down to this many (seeded) to keep plots and files small.
    seed
        Seed of the row sample.

    Returns
    -------
    dict of str to Path
        Artifact name (file stem) to written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    phi = np.asarray(contributions, dtype=float)
    if phi.shape != X.shape:
        raise ValueError(f"contributions {phi.shape} do not match X {X.shape}")
    X = X.reset_index(drop=True)
    if len(X) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), max_rows, replace=False))
        X, phi = X.iloc[keep].reset_index(drop=True), phi[keep]
    names = [str(c) for c in X.columns]
    base = float(base_value)
    written: dict[str, Path] = {}

    values_frame = pd.DataFrame(phi, columns=names)
    values_frame["base_value"] = base
    written["shap_values"] = out_dir / "shap_values.parquet"
    values_frame.to_parquet(written["shap_values"], index=False)

    importance = global_importance(phi, names)
    written["shap_global_importance"] = out_dir / "shap_global_importance.json"
    written["shap_global_importance"].write_text(json.dumps(importance, indent=2))

    if len(X) == 0:
        return written
    # shap's plots colour by numeric data; categories are drawn as their codes and the
    # text values are kept as display data so that waterfalls and force plots show them.
    numeric, categories = _numeric_view(X)
    explanation = shap.Explanation(
        values=phi,
        base_values=np.full(len(X), base),
        data=numeric.to_numpy(dtype=float),
        display_data=X.astype(object).where(X.notna(), "NA").to_numpy(),
        feature_names=names,
    )

    def save(stem: str, draw: Any) -> None:
        plt.close("all")
        draw()
        path = out_dir / f"{stem}.png"
        # bbox_inches="tight" already lays the figure out; tight_layout would draw it twice.
        plt.gcf().savefig(path, dpi=90, bbox_inches="tight")
        plt.close("all")
        written[stem] = path

    max_display = min(len(names), 15)
    save(
        "shap_importance_bar",
        lambda: shap.plots.bar(explanation, max_display=max_display, show=False),
    )
    save(
        "shap_beeswarm",
        lambda: shap.plots.beeswarm(explanation, max_display=max_display, show=False),
    )
    for feature in list(importance)[: max(top_dependence, 0)]:
        j = names.index(feature)

        def dependence(j: int = j, feature: str = feature) -> None:
            shap.plots.scatter(explanation[:, j], color=explanation, show=False)
            if feature in categories:
                labels = categories[feature]
                plt.gca().set_xticks(range(len(labels)), labels, rotation=30, ha="right")

        save(f"shap_dependence_{_safe(feature)}", dependence)
    for i in sample_rows:
        if not 0 <= int(i) < len(X):
            continue
        row = explanation[int(i)]
        save(f"shap_waterfall_{int(i)}", lambda row=row: shap.plots.waterfall(row, show=False))
        force = shap.plots.force(
            base,
            phi[int(i)],
            features=X.iloc[int(i)].astype(object).to_numpy(),
            feature_names=names,
            matplotlib=False,
        )
        path = out_dir / f"shap_force_{int(i)}.html"
        shap.save_html(str(path), force, full_html=True)
        written[f"shap_force_{int(i)}"] = path
    return written


def _numeric_view(X: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Numeric columns as floats, other columns as category codes (missing = NaN).

    Also returns the category labels of each coded column, in code order.
    """
    out: dict[str, Any] = {}
    categories: dict[str, list[str]] = {}
    for name in X.columns:
        column = X[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            out[name] = column.astype(float)
        else:
            categorical = pd.Categorical(column.astype("string").astype(object))
            codes = categorical.codes.astype(float)
            codes[codes < 0] = np.nan
            out[name] = codes
            categories[str(name)] = [str(c) for c in categorical.categories]
    return pd.DataFrame(out, index=X.index), categories


def _scalar(value: Any) -> Any:
    """A JSON-friendly scalar: NumPy scalars unwrapped, missing values as ``None``."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _safe(name: str) -> str:
    """A file-name-safe feature name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "feature"
