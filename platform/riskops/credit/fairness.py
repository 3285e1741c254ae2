"""Protected attributes: approval rates per group and the adverse impact ratio.

Protected attributes (race, sex, age band... under ECOA / Regulation B in the US and the
EU AI Act for credit scoring) are never model features (the dataset keeps them out of
``X``); they are kept next to the held-out rows to measure outcomes. An applicant is
approved when the model's PD is at most the policy's cut-off. Per attribute, the
*adverse impact ratio* is the lowest group approval rate divided by the highest (the
"four-fifths rule" of the US Uniform Guidelines, 29 CFR 1607.4(D), flags a ratio below
0.8). Groups smaller than ``min_group_rows`` are shown but not compared.

The ratio on a few hundred held-out applicants is an estimate: the gate reads its
confidence interval (Koopman's score interval for a ratio of two proportions,
:func:`riskops.stats.proportions.ratio_interval`), never the point alone.
:func:`fairness_gate` (pure) passes an attribute whose whole interval is at or above the
policy's minimum, fails one whose whole interval is below it, and reports "not enough
evidence" (``evaluated`` false) when the interval straddles the minimum or fewer than two
groups reach ``min_group_rows``; the policy (``on_insufficient_evidence``) decides
whether that refuses (the default) or passes.

:func:`suspected_protected` screens the model's features for protected attributes (sex,
age, marital status, race or ethnicity, religion, national origin, disability) by column
name and by the data card's description of the column; a suspect must be declared
``--protected`` (then it is no feature) or acknowledged with a reason, which is recorded
(:func:`protected_screen`, gated by :func:`protected_screen_gate`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "adverse_impact",
    "adverse_impact_interval",
    "card_descriptions",
    "fairness_gate",
    "parse_attribute_acknowledgements",
    "protected_screen",
    "protected_screen_gate",
    "suspected_protected",
]

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
            {
                "group": str(g),
                "n": int(r["size"]),
                "approved": round(float(r["mean"]) * int(r["size"])),
                "approval_rate": float(r["mean"]),
            }
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


def adverse_impact_interval(
    attribute: Mapping[str, Any], confidence: float
) -> tuple[float, float] | None:
    """Koopman's interval of the lowest over the highest approval rate, from the counts."""
    from riskops.stats.proportions import ratio_interval

    groups = {g["group"]: g for g in attribute.get("groups", [])}
    low, high = groups.get(attribute.get("lowest")), groups.get(attribute.get("highest"))
    if low is None or high is None or not high.get("approved"):
        return None
    counts = [int(g.get("approved", round(g["approval_rate"] * g["n"]))) for g in (low, high)]
    found = ratio_interval(counts[0], low["n"], counts[1], high["n"], confidence=confidence)
    return found.low, found.high


def fairness_gate(evidence: Mapping[str, Any], policy: Any) -> list[Any]:
    """Four-fifths rule per protected attribute, on the ratio's confidence interval."""
    from riskops.gates import GateResult

    rule = policy.fairness
    found = (evidence.get("evidence") or {}).get("fairness")
    results = protected_screen_gate(evidence, policy)
    if not found or not found.get("attributes"):
        return results
    limit = rule.min_adverse_impact_ratio
    lenient = rule.on_insufficient_evidence == "pass"
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
            continue
        interval = (
            adverse_impact_interval(attribute, rule.confidence) if math.isfinite(ratio) else None
        )
        observed: Any = (
            ratio if interval is None else {"ratio": ratio, "low": interval[0], "high": interval[1]}
        )
        shown = (
            f"{ratio:.3f}"
            if interval is None
            else f"{ratio:.3f} ({rule.confidence:.0%} interval {interval[0]:.3f}-"
            f"{interval[1]:.3f}, {attribute['lowest']} vs {attribute['highest']})"
        )
        if limit is None:
            results.append(
                GateResult(gate, True, f"adverse impact ratio {shown} (not gated); {at}", observed)
            )
        elif not math.isfinite(ratio) or interval is None:
            results.append(
                GateResult(
                    gate,
                    lenient,
                    f"not enough evidence: the adverse impact ratio of {name} cannot be "
                    f"measured ({ratio}): fewer than two groups with "
                    f"{found['min_group_rows']}+ held-out rows, or no approval; {at}"
                    + ("" if lenient else "; the policy refuses without evidence"),
                    observed,
                    limit,
                    evaluated=False,
                )
            )
        elif interval[1] < limit:
            results.append(
                GateResult(
                    gate,
                    False,
                    f"adverse impact ratio {shown} is below the four-fifths rule {limit:g} "
                    f"over its whole interval; {at}",
                    observed,
                    limit,
                )
            )
        elif interval[0] >= limit:
            results.append(
                GateResult(
                    gate,
                    True,
                    f"adverse impact ratio {shown} >= {limit:g} over its whole interval; {at}",
                    observed,
                    limit,
                )
            )
        else:
            smallest = min(
                (
                    g
                    for g in attribute["groups"]
                    if g["group"] in (attribute["lowest"], attribute["highest"])
                ),
                key=lambda g: g["n"],
            )
            results.append(
                GateResult(
                    gate,
                    lenient,
                    f"not enough evidence: adverse impact ratio {shown} reaches below "
                    f"{limit:g} (smallest compared group {smallest['group']}, "
                    f"n={smallest['n']}); {at}"
                    + ("" if lenient else "; the policy refuses without evidence"),
                    observed,
                    limit,
                    evaluated=False,
                )
            )
    return results


# ---------------------------------------------------------------- protected-attribute screen

_PROTECTED_WORDS: dict[str, tuple[str, ...]] = {
    "sex": ("sex", "gender", "male", "female", "males", "females", "women", "men"),
    "age": ("age", "ages", "aged", "birth", "birthdate", "dob", "yob", "born", "elderly"),
    "marital status": (
        "marital",
        "married",
        "marriage",
        "spouse",
        "single",
        "divorced",
        "widowed",
        "separated",
        "personal_status",
    ),
    "race or ethnicity": (
        "race",
        "racial",
        "ethnic",
        "ethnicity",
        "afam",
        "african",
        "black",
        "white",
        "hispanic",
        "latino",
        "asian",
        "caucasian",
        "colour",
        "color",
    ),
    "religion": ("religion", "religious", "faith", "church", "muslim", "christian", "jewish"),
    "national origin": (
        "nationality",
        "national",
        "citizen",
        "citizenship",
        "foreign",
        "foreigner",
        "immigrant",
        "native",
        "origin",
    ),
    "disability": ("disability", "disabled", "handicap"),
}


def _tokens(text: str) -> set[str]:
    import itertools
    import re

    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    joined = {"_".join(pair) for pair in itertools.pairwise(words)}
    return set(words) | joined


def suspected_protected(
    columns: list[str], descriptions: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Columns that look like protected attributes: ``{column: "age (name)"...}``.

    A column is suspect when a word of its name, or of its description in the data card
    (``descriptions``), names a protected ground (see ``_PROTECTED_WORDS``): ``Age``,
    ``age_in_years``, ``personal_status_and_sex``, ``foreign_worker``, HMDA's ``afam``
    ("Is the individual African-American?") and ``single``. Words inside longer words do
    not count (``mortgage`` is not ``age``).
    """
    out: dict[str, str] = {}
    for column in columns:
        found = []
        for source, text in (("name", column), ("data card", (descriptions or {}).get(column))):
            if not text:
                continue
            words = _tokens(text)
            grounds = [g for g, vocab in _PROTECTED_WORDS.items() if words & set(vocab)]
            found += [f"{g} ({source})" for g in grounds]
        if found:
            out[str(column)] = ", ".join(dict.fromkeys(found))
    return out


def card_descriptions(card: str, columns: list[str]) -> dict[str, str]:
    """Each column's description in a data card's text (an R documentation page, a
    Markdown list ``column: text``): the lines after a line that is the column's name (or
    starts with it and a colon), up to the next column or heading."""
    names = {str(c).strip().lower(): str(c) for c in columns}
    out: dict[str, list[str]] = {}
    current: str | None = None
    for raw in card.splitlines():
        line = raw.strip().strip("*`-|# ").strip()
        if not line:
            continue
        head, sep, rest = line.partition(":")
        key = line.lower() if line.lower() in names else head.strip().lower() if sep else None
        if key in names:
            current = names[key]
            out.setdefault(current, [])
            if sep and rest.strip():
                out[current].append(rest.strip())
            continue
        if raw.lstrip().startswith("#"):
            current = None
            continue
        if current is not None:
            out[current].append(line)
    return {c: " ".join(lines) for c, lines in out.items() if lines}


def parse_attribute_acknowledgements(items: Any) -> dict[str, str]:
    """``["COL: reason", ...]`` (``--acknowledge-protected``) as ``{col: reason}``."""
    from riskops.errors import BadInputError

    out: dict[str, str] = {}
    for item in items or ():
        column, sep, reason = str(item).partition(":")
        if not sep or not column.strip() or not reason.strip():
            raise BadInputError(
                f"--acknowledge-protected: {item!r} must be 'COLUMN: why it may be a feature'"
            )
        out[column.strip()] = reason.strip()
    return out


def protected_screen(
    features: list[str],
    declared: list[str],
    descriptions: Mapping[str, str] | None,
    acknowledged: Mapping[str, str],
    card_source: str | None = None,
) -> dict[str, Any]:
    """The evidence of the screen: suspects among the features, declared and acknowledged."""
    from riskops.errors import BadInputError

    suspects = suspected_protected(features, descriptions)
    unknown = sorted(set(acknowledged) - set(features))
    if unknown:
        raise BadInputError(f"--acknowledge-protected: {unknown} are not model features")
    return {
        "suspected": suspects,
        "acknowledged": {c: r for c, r in acknowledged.items()},
        "declared": list(declared),
        "unresolved": [c for c in suspects if c not in acknowledged],
        "card": card_source,
    }


def protected_screen_gate(evidence: Mapping[str, Any], policy: Any) -> list[Any]:
    """Refuse (or record, per policy) features that look protected and were not resolved."""
    from riskops.gates import GateResult

    screen = (evidence.get("evidence") or {}).get("protected_screen")
    rule = policy.fairness
    if screen is None:
        return [
            GateResult(
                "fairness:protected_screen",
                rule.undeclared_protected != "refuse",
                "no protected-attribute screen in the evidence (trained before it existed)",
                evaluated=False,
            )
        ]
    suspects = screen.get("suspected") or {}
    unresolved = [c for c in screen.get("unresolved") or [] if c in suspects]
    acknowledged = screen.get("acknowledged") or {}
    if unresolved:
        listed = "; ".join(f"{c}: {suspects[c]}" for c in unresolved)
        refuse = rule.undeclared_protected == "refuse"
        return [
            GateResult(
                "fairness:protected_screen",
                not refuse,
                f"features that look like protected attributes: {listed}; declare them with "
                f"--protected (no longer features, fairness measured) or retrain with "
                f"--acknowledge-protected 'COLUMN: why it may be used'"
                + ("" if refuse else "; recorded, not a veto (policy)"),
                unresolved,
                {"undeclared_protected": rule.undeclared_protected},
            )
        ]
    note = (
        "; acknowledged: " + "; ".join(f"{c} ({r})" for c, r in acknowledged.items())
        if acknowledged
        else ""
    )
    return [
        GateResult(
            "fairness:protected_screen",
            True,
            f"no undeclared feature looks like a protected attribute{note}",
            sorted(suspects),
        )
    ]


def summary(fairness: dict[str, Any] | None, confidence: float = 0.95) -> dict[str, Any] | None:
    """Per protected attribute: the adverse impact ratio with its interval, the approval rate
    and the size of each group (what ``riskops train --json`` shows)."""
    if not fairness:
        return None

    def interval(attribute: dict[str, Any]) -> list[float] | None:
        found = adverse_impact_interval(attribute, confidence)
        return None if found is None else [round(found[0], 4), round(found[1], 4)]

    return {
        "approval_max_pd": fairness["approval_max_pd"],
        "attributes": {
            name: {
                "adverse_impact_ratio": a["adverse_impact_ratio"],
                "approval_rates": {g["group"]: g["approval_rate"] for g in a["groups"]},
                "group_sizes": {g["group"]: g["n"] for g in a["groups"]},
                "lowest": a.get("lowest"),
                "highest": a.get("highest"),
                "interval": interval(a),
                "confidence": confidence,
            }
            for name, a in fairness["attributes"].items()
        },
    }
