"""Target leakage: a single feature that separates defaults almost perfectly.

A column recorded after the decision or the outcome (a spending figure that exists only
for accepted applicants, a collections flag) makes a model look excellent on held-out
data and useless in production. :func:`univariate_aucs` measures each feature alone:
its AUC against the target on the held-out rows, in the better of the two directions,
with missing values as a level of their own (missingness itself can leak). Categories
are scored by their default rate on the training rows only, so that an identifier-like
column does not look predictive by memorising the held-out labels.

Leakage split across columns escapes that screen: three noisy copies of a leak (each
12% flipped) have univariate AUCs of 0.85-0.87 but vote it back to 0.98, and two flags
whose XOR is the outcome have univariate AUCs of 0.5 each. :func:`group_aucs` is the
model-based check: a shallow gradient-boosted model (depth 3) fitted on the training rows
of only the top ``k`` columns (``k`` = 2 and 3; ranked by the model's SHAP importance and,
separately, by univariate AUC) is scored on the held-out rows, and so is every pair of
columns by a lookup table of its cells' default rates (:func:`pair_aucs`). A small set of columns
that separates the outcome almost perfectly on its own is leakage until shown otherwise.

:func:`leakage_gate` (pure) refuses every feature whose AUC reaches the policy's
``max_univariate_auc``, and every group of at most ``max_group_columns`` whose AUC
reaches ``max_group_auc``, unless (each of) its columns was acknowledged with a recorded
reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "group_aucs",
    "leakage_evidence",
    "leakage_gate",
    "parse_acknowledgements",
    "univariate_aucs",
]

PAIR_LEVELS = 8
"""Levels per column in the all-pairs screen (:func:`pair_aucs`)."""
MAX_PAIR_COLUMNS = 40
"""Wider data: only pairs among the model's 40 most important columns are screened."""

GROUP_SIZES = (2, 3)
"""Sizes of the column groups the model-based check scores (one column: the univariate
screen)."""

_MISSING = "\x00missing"


def univariate_aucs(
    train_X: pd.DataFrame,
    train_y: Any,
    test_X: pd.DataFrame,
    test_y: Any,
) -> dict[str, float]:
    """Each feature's AUC against the target on the held-out rows, in ``[0.5, 1]``."""
    from sklearn.metrics import roc_auc_score

    y_train = np.asarray(train_y, dtype=float)
    y_test = np.asarray(test_y, dtype=float)
    out: dict[str, float] = {}
    if len(np.unique(y_test)) < 2:
        return {str(c): float("nan") for c in test_X.columns}
    for name in test_X.columns:
        column = test_X[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=float, na_value=np.nan)
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                out[str(name)] = 0.5
                continue
            low, high = finite.min() - 1.0, finite.max() + 1.0
            candidates = [
                roc_auc_score(y_test, np.where(np.isnan(values), fill, values))
                for fill in (low, high)
            ]
        else:
            rates = pd.Series(y_train).groupby(_levels(train_X[name]).to_numpy()).mean()
            score = _levels(column).map(rates).fillna(float(y_train.mean())).to_numpy(dtype=float)
            candidates = [roc_auc_score(y_test, score)]
        out[str(name)] = float(max(max(a, 1.0 - a) for a in candidates))
    return out


def _encoded(train_X: pd.DataFrame, y_train: np.ndarray, X: pd.DataFrame) -> np.ndarray:
    """Numbers as they are (missing kept), categories as their training default rate."""
    out = np.empty((len(X), X.shape[1]))
    for j, name in enumerate(X.columns):
        column = X[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            out[:, j] = column.to_numpy(dtype=float, na_value=np.nan)
        else:
            rates = pd.Series(y_train).groupby(_levels(train_X[name]).to_numpy()).mean()
            out[:, j] = _levels(column).map(rates).fillna(float(y_train.mean())).to_numpy(float)
    return out


def group_aucs(
    train_X: pd.DataFrame,
    train_y: Any,
    test_X: pd.DataFrame,
    test_y: Any,
    rankings: Mapping[str, list[str]],
    sizes: tuple[int, ...] = GROUP_SIZES,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Held-out AUC of a shallow model on each group of top-ranked columns alone.

    Parameters
    ----------
    train_X, train_y, test_X, test_y
        The family's split.
    rankings
        ``{"shap": [...], "univariate": [...]}``: columns, most important first.
    sizes
        Group sizes to score (the top ``k`` of each ranking).

    Returns
    -------
    list of dict
        ``{"columns", "auc", "ranking"}`` per distinct group, highest AUC first.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    y_train = np.asarray(train_y, dtype=float)
    y_test = np.asarray(test_y, dtype=float)
    if len(np.unique(y_test)) < 2 or len(np.unique(y_train)) < 2:
        return []
    seen: dict[tuple[str, ...], dict[str, Any]] = {}
    for ranking, group in _candidate_groups(rankings, list(test_X.columns), sizes):
        key = tuple(sorted(group))
        if key in seen:
            if ranking not in seen[key]["ranking"]:
                seen[key]["ranking"] += f", {ranking}"
            continue
        model = HistGradientBoostingClassifier(
            max_depth=3, max_iter=100, learning_rate=0.1, early_stopping=False, random_state=seed
        )
        columns = list(group)
        model.fit(_encoded(train_X[columns], y_train, train_X[columns]), y_train)
        score = model.predict_proba(_encoded(train_X[columns], y_train, test_X[columns]))[:, 1]
        seen[key] = {
            "columns": columns,
            "auc": float(roc_auc_score(y_test, score)),
            "ranking": ranking,
        }
    pool = list(rankings.get("shap") or test_X.columns)[:MAX_PAIR_COLUMNS]
    pairs = pair_aucs(train_X, y_train, test_X, y_test, [c for c in pool if c in test_X.columns])
    for pair in pairs:
        seen.setdefault(tuple(sorted(pair["columns"])), pair)
    return sorted(seen.values(), key=lambda g: -g["auc"])


def _candidate_groups(
    rankings: Mapping[str, list[str]], available: list[str], sizes: tuple[int, ...]
) -> list[tuple[str, tuple[str, ...]]]:
    """The top ``k`` columns of each ranking."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for ranking, columns in rankings.items():
        usable = [c for c in columns if c in available]
        out += [(ranking, tuple(usable[:k])) for k in sizes if len(usable) >= k]
    return out


def pair_aucs(
    train_X: pd.DataFrame,
    train_y: Any,
    test_X: pd.DataFrame,
    test_y: Any,
    columns: list[str],
    keep: int = 5,
) -> list[dict[str, Any]]:
    """Held-out AUC of every pair of ``columns`` scored by a lookup table of cell rates.

    Each column is cut into at most :data:`PAIR_LEVELS` levels on the training rows
    (quantiles of a number, the most frequent categories; missing is a level), each cell
    of a pair gets its training default rate (shrunk towards the overall rate by one
    pseudo-applicant), and the held-out rows are scored by their cell. An interaction
    such as an XOR has no univariate signal and need not be among the model's top
    columns; this screen sees every pair, at the cost of a coarse model.
    """
    import itertools

    from sklearn.metrics import roc_auc_score

    y_train = np.asarray(train_y, dtype=float)
    y_test = np.asarray(test_y, dtype=float)
    if len(np.unique(y_test)) < 2:
        return []
    levels = {c: _pair_levels(train_X[c], test_X[c]) for c in columns}
    prior = float(y_train.mean())
    found: list[dict[str, Any]] = []
    for a, b in itertools.combinations(columns, 2):
        (train_a, test_a), (train_b, test_b) = levels[a], levels[b]
        cell_train = train_a * (PAIR_LEVELS + 1) + train_b
        cell_test = test_a * (PAIR_LEVELS + 1) + test_b
        size = (PAIR_LEVELS + 1) ** 2
        counts = np.bincount(cell_train, minlength=size)
        events = np.bincount(cell_train, weights=y_train, minlength=size)
        rate = (events + prior) / (counts + 1.0)
        found.append(
            {
                "columns": [a, b],
                "auc": float(roc_auc_score(y_test, rate[cell_test])),
                "ranking": "all pairs",
            }
        )
    return sorted(found, key=lambda g: -float(g["auc"]))[:keep]


def _pair_levels(train: pd.Series, test: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Level codes ``0..PAIR_LEVELS`` of a column (``PAIR_LEVELS`` is missing/other)."""
    if pd.api.types.is_bool_dtype(train) or pd.api.types.is_numeric_dtype(train):
        values = train.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        edges = (
            np.unique(np.quantile(finite, np.linspace(0, 1, PAIR_LEVELS + 1)[1:-1]))
            if finite.size
            else np.array([])
        )

        def code(x: pd.Series) -> np.ndarray:
            v = x.to_numpy(dtype=float, na_value=np.nan)
            return np.where(np.isnan(v), PAIR_LEVELS, np.searchsorted(edges, v, side="right"))

        return code(train).astype(int), code(test).astype(int)
    top = _levels(train).value_counts().index[:PAIR_LEVELS]
    mapping = {v: i for i, v in enumerate(top)}

    def category(x: pd.Series) -> np.ndarray:
        return _levels(x).map(mapping).fillna(PAIR_LEVELS).to_numpy(dtype=int)

    return category(train), category(test)


def _levels(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), _MISSING).map(str).reset_index(drop=True)


def parse_acknowledgements(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["COL: reason", ...]`` (the ``--acknowledge-leakage`` option) as ``{col: reason}``."""
    from riskops.errors import BadInputError

    out: dict[str, str] = {}
    for item in items or ():
        column, sep, reason = item.partition(":")
        if not sep or not column.strip() or not reason.strip():
            raise BadInputError(
                f"--acknowledge-leakage: {item!r} must be 'COLUMN: reason why it is not leakage'"
            )
        out[column.strip()] = reason.strip()
    return out


def leakage_evidence(
    aucs: Mapping[str, float],
    acknowledged: Mapping[str, str],
    groups: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the gate reads: every feature's univariate AUC, the column groups' AUCs
    (:func:`group_aucs`) and the acknowledged columns."""
    from riskops.errors import BadInputError

    unknown = sorted(set(acknowledged) - set(aucs))
    if unknown:
        raise BadInputError(f"--acknowledge-leakage: {unknown} are not model features")
    ranked = dict(sorted(aucs.items(), key=lambda kv: -kv[1] if math.isfinite(kv[1]) else 0))
    return {
        "univariate_auc": ranked,
        "groups": list(groups or []),
        "acknowledged": dict(acknowledged),
    }


def leakage_gate(evidence: Mapping[str, Any], policy: Any) -> list[Any]:
    """One failed result per unacknowledged feature at or above the AUC limit, else one pass."""
    from riskops.gates import GateResult

    rule = policy.leakage
    limit = float(rule.max_univariate_auc)
    found = (evidence.get("evidence") or {}).get("leakage")
    if not found:
        return [GateResult("leakage", False, "no target-leakage evidence (univariate AUCs)")]
    acknowledged = found.get("acknowledged") or {}
    results = []
    for column, value in (found.get("univariate_auc") or {}).items():
        auc = float(value) if value is not None else float("nan")
        if not math.isfinite(auc):
            results.append(
                GateResult(
                    f"leakage:{column}",
                    False,
                    f"univariate AUC of {column} is not finite ({auc})",
                    auc,
                    limit,
                )
            )
        elif auc >= limit and column in acknowledged:
            results.append(
                GateResult(
                    f"leakage:{column}",
                    True,
                    f"{column} alone has AUC {auc:.3f} >= {limit:g}; acknowledged: "
                    f"{acknowledged[column]}",
                    auc,
                    limit,
                )
            )
        elif auc >= limit:
            results.append(
                GateResult(
                    f"leakage:{column}",
                    False,
                    f"target leakage suspected: {column} alone separates defaults with AUC "
                    f"{auc:.3f} >= {limit:g}; drop the column if it is recorded after the "
                    f"decision or the outcome, or retrain with --acknowledge-leakage "
                    f"'{column}: why it is known at application time'",
                    auc,
                    limit,
                )
            )
    if not results:
        aucs = found.get("univariate_auc") or {}
        top = next(iter(aucs.items()), (None, float("nan")))
        results.append(
            GateResult(
                "leakage",
                True,
                f"highest univariate AUC {float(top[1]):.3f} ({top[0]}) < {limit:g}",
                top[1],
                limit,
            )
        )
    return results + _group_results(found, rule, acknowledged)


def _group_results(found: Mapping[str, Any], rule: Any, acknowledged: Mapping[str, str]) -> list:
    from riskops.gates import GateResult

    limit = getattr(rule, "max_group_auc", None)
    groups = found.get("groups")
    if limit is None:
        return []
    if groups is None:
        return [
            GateResult(
                "leakage:groups",
                False,
                "no multivariate leakage evidence (column groups' AUCs); retrain to measure it",
                evaluated=False,
            )
        ]
    results = []
    for group in groups:
        columns = list(group["columns"])
        if len(columns) > rule.max_group_columns:
            continue
        auc = float(group["auc"]) if group.get("auc") is not None else float("nan")
        gate = "leakage:group:" + "+".join(columns)
        named = ", ".join(columns)
        if not math.isfinite(auc):
            results.append(GateResult(gate, False, f"AUC of {named} is not finite", auc, limit))
        elif auc >= limit and all(c in acknowledged for c in columns):
            results.append(
                GateResult(
                    gate,
                    True,
                    f"{named} together have AUC {auc:.3f} >= {limit:g}; acknowledged: "
                    + "; ".join(f"{c}: {acknowledged[c]}" for c in columns),
                    auc,
                    limit,
                )
            )
        elif auc >= limit:
            missing = [c for c in columns if c not in acknowledged]
            results.append(
                GateResult(
                    gate,
                    False,
                    f"target leakage suspected across columns: {named} alone separate the "
                    f"outcome with AUC {auc:.3f} >= {limit:g} ("
                    + (
                        "a lookup table of the pair's cells"
                        if group.get("ranking") == "all pairs"
                        else f"a depth-3 model on these {len(columns)} columns only, top by "
                        f"{group.get('ranking')}"
                    )
                    + ", held-out rows);"
                    " drop the columns recorded after the decision or the outcome, or "
                    "retrain with --acknowledge-leakage for "
                    + ", ".join(f"'{c}: reason'" for c in missing),
                    auc,
                    limit,
                )
            )
    if not results and groups:
        top = groups[0]
        results.append(
            GateResult(
                "leakage:groups",
                True,
                f"highest AUC of {len(top['columns'])} columns alone {float(top['auc']):.3f} "
                f"({', '.join(top['columns'])}) < {limit:g}",
                float(top["auc"]),
                limit,
            )
        )
    return results
