"""Protected attributes: approval rates per group and the adverse impact ratio.

Protected attributes (race, sex, age band... under ECOA / Regulation B in the US and the
EU AI Act for credit scoring) are never model features (the dataset keeps them out of
``X``); they are kept next to the held-out rows to measure outcomes. An applicant is
approved when the model's PD is at most the policy's cut-off. Per attribute, the
*adverse impact ratio* is the lowest group approval rate divided by the highest (the
"four-fifths rule" of the US Uniform Guidelines, 29 CFR 1607.4(D), flags a ratio below
0.8). Groups smaller than ``min_group_rows`` are shown but not compared.

:func:`fairness_gate` (pure) fails an attribute whose ratio is below the policy's
minimum, or is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["adverse_impact", "fairness_gate"]

_MAX_LEVELS = 12
"""A numeric attribute with more distinct values is reported by quartile band."""


def adverse_impact(
    groups: pd.DataFrame, pd_: np.ndarray, approval_max_pd: float, min_group_rows: int = 30
) -> dict[str, Any]:
    """Per protected column: approval rate per group and the adverse impact ratio."""
    approved = np.asarray(pd_, dtype=float) <= approval_max_pd
    attributes: dict[str, Any] = {}
    for name in groups.columns:
        labels = _group_labels(groups[name].reset_index(drop=True))
        table = (
            pd.DataFrame({"group": labels, "approved": approved})
            .groupby("group", sort=True)["approved"]
            .agg(["size", "mean"])
        )
        rows: list[dict[str, Any]] = [
            {"group": str(g), "n": int(r["size"]), "approval_rate": float(r["mean"])}
            for g, r in table.iterrows()
        ]
        compared = [r for r in rows if r["n"] >= min_group_rows]
        ratio = float("nan")
        lowest = highest = None
        if len(compared) >= 2:
            lowest = min(compared, key=lambda r: r["approval_rate"])
            highest = max(compared, key=lambda r: r["approval_rate"])
            top = highest["approval_rate"]
            ratio = lowest["approval_rate"] / top if top > 0 else float("nan")
        attributes[str(name)] = {
            "groups": rows,
            "adverse_impact_ratio": ratio,
            "lowest": None if lowest is None else lowest["group"],
            "highest": None if highest is None else highest["group"],
            "compared_groups": len(compared),
        }
    return {
        "approval_max_pd": float(approval_max_pd),
        "min_group_rows": int(min_group_rows),
        "n": len(approved),
        "approval_rate": float(approved.mean()) if len(approved) else float("nan"),
        "attributes": attributes,
    }


def _group_labels(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > _MAX_LEVELS:
        bands = pd.qcut(column, 4, duplicates="drop")
        return bands.astype(object).where(bands.notna(), "missing").map(str)
    return column.astype(object).where(column.notna(), "missing").map(str)


def fairness_gate(evidence: Mapping[str, Any], policy: Any) -> list[Any]:
    """Four-fifths rule per protected attribute, at the cut-off the evidence was measured at."""
    from riskops.gates import GateResult

    rule = policy.fairness
    found = (evidence.get("evidence") or {}).get("fairness")
    if not found or not found.get("attributes"):
        return []
    limit = rule.min_adverse_impact_ratio
    results = []
    for name, attribute in found["attributes"].items():
        gate = f"fairness:{name}"
        ratio = float(attribute.get("adverse_impact_ratio", float("nan")))
        rates = ", ".join(
            f"{g['group']} {g['approval_rate']:.0%} (n={g['n']})" for g in attribute["groups"]
        )
        at = f"approved at PD <= {found['approval_max_pd']:g}: {rates}"
        if not math.isclose(float(found["approval_max_pd"]), rule.approval_max_pd):
            results.append(
                GateResult(
                    gate,
                    False,
                    f"evidence measured at PD cut-off {found['approval_max_pd']:g} but the "
                    f"policy's is {rule.approval_max_pd:g}; retrain to measure it",
                    ratio,
                    limit,
                )
            )
        elif limit is None:
            results.append(
                GateResult(gate, True, f"adverse impact ratio {ratio:.3f} (not gated); {at}", ratio)
            )
        elif not math.isfinite(ratio):
            results.append(
                GateResult(
                    gate,
                    False,
                    f"adverse impact ratio of {name} cannot be measured ({ratio}): fewer than "
                    f"two groups with {found['min_group_rows']}+ held-out rows, or no approval; "
                    f"{at}",
                    ratio,
                    limit,
                )
            )
        else:
            passed = ratio >= limit
            results.append(
                GateResult(
                    gate,
                    passed,
                    f"adverse impact ratio {ratio:.3f} "
                    f"({attribute['lowest']} vs {attribute['highest']}) "
                    + (">=" if passed else "< four-fifths rule")
                    + f" {limit:g}; {at}",
                    ratio,
                    limit,
                )
            )
    return results
