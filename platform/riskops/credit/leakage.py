"""Target leakage: a single feature that separates defaults almost perfectly.

A column recorded after the decision or the outcome (a spending figure that exists only
for accepted applicants, a collections flag) makes a model look excellent on held-out
data and useless in production. :func:`univariate_aucs` measures each feature alone:
its AUC against the target on the held-out rows, in the better of the two directions,
with missing values as a level of their own (missingness itself can leak). Categories
are scored by their default rate on the training rows only, so that an identifier-like
column does not look predictive by memorising the held-out labels.

:func:`leakage_gate` (pure) refuses every feature whose AUC reaches the policy's
``max_univariate_auc`` unless it was acknowledged with a recorded reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["leakage_evidence", "leakage_gate", "parse_acknowledgements", "univariate_aucs"]

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


def leakage_evidence(aucs: Mapping[str, float], acknowledged: Mapping[str, str]) -> dict[str, Any]:
    """What the gate reads: every feature's univariate AUC and the acknowledged columns."""
    from riskops.errors import BadInputError

    unknown = sorted(set(acknowledged) - set(aucs))
    if unknown:
        raise BadInputError(f"--acknowledge-leakage: {unknown} are not model features")
    ranked = dict(sorted(aucs.items(), key=lambda kv: -kv[1] if math.isfinite(kv[1]) else 0))
    return {"univariate_auc": ranked, "acknowledged": dict(acknowledged)}


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
    return results
