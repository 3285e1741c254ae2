"""The credit evidence section of the card and report: how independent the evaluation is,
target leakage, protected attributes and the change of features against the champion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskops.governance.card import Block, Facts, Section, Table, Text, fmt

if TYPE_CHECKING:
    from riskops.governance.facts import VersionFacts

TOP_LEAKAGE_ROWS = 8


def credit_evidence_section(facts: VersionFacts) -> Section | None:
    """``None`` for other families, or a credit version logged before this evidence existed."""
    if facts.family != "credit":
        return None
    evidence = facts.evidence
    blocks: list[Block] = []
    blocks += _split_blocks(evidence.get("split") or {}, facts.gate_evidence.get("champion"))
    blocks += _leakage_blocks(evidence.get("leakage"))
    blocks += _fairness_blocks(evidence.get("fairness"))
    if not blocks:
        return None
    return Section("credit_evidence", "Independence, leakage and fairness", tuple(blocks))


def _split_blocks(split: dict[str, Any], champion: dict[str, Any] | None) -> list[Block]:
    kinds = {
        "out_of_time": "out of time (by date)",
        "applicant_key": f"by applicant key ({split.get('id_col')})",
        "feature_hash": "by applicant (hash of the feature values, never the label)",
    }
    pairs = [("Held-out split", kinds.get(split.get("kind", ""), str(split.get("kind"))))]
    follows = split.get("follows_champion")
    if follows:
        pairs.append(
            (
                "Follows the champion's split",
                f"v{follows.get('version')}: {follows.get('rows_trained_on')} rows it trained on "
                f"kept for training, {follows.get('rows_held_out')} it held out kept held out",
            )
        )
    if champion:
        window = champion.get("window") or {}
        independent = window.get("independent")
        pairs.append(
            (
                "Comparison window",
                f"{fmt(window.get('n_rows'))} held-out rows, "
                f"{fmt(window.get('excluded_champion_training_rows'))} rows the champion "
                "trained on dropped"
                + ("" if independent else f"; NOT independent: {window.get('reason')}"),
            )
        )
        pairs.append(("Features added", ", ".join(champion.get("features_added") or []) or "none"))
        pairs.append(
            ("Features dropped", ", ".join(champion.get("features_dropped") or []) or "none")
        )
    return [Facts(tuple(pairs))]


def _leakage_blocks(leakage: dict[str, Any] | None) -> list[Block]:
    if not leakage:
        return []
    aucs = list((leakage.get("univariate_auc") or {}).items())[:TOP_LEAKAGE_ROWS]
    acknowledged = leakage.get("acknowledged") or {}
    rows = tuple((name, fmt(auc), acknowledged.get(name, "")) for name, auc in aucs)
    return [
        Table(
            ("feature", "univariate AUC (held out)", "acknowledged as not leakage"),
            rows,
            "Target leakage check: each feature alone against the outcome",
        )
    ]


def _fairness_blocks(fairness: dict[str, Any] | None) -> list[Block]:
    if not fairness:
        return []
    blocks: list[Block] = [
        Text(
            "Protected attributes are not model features. Approval means PD <= "
            f"{fmt(fairness.get('approval_max_pd'))}; the adverse impact ratio is the lowest "
            "group approval rate over the highest (four-fifths rule: at least 0.8)."
        )
    ]
    for name, attribute in (fairness.get("attributes") or {}).items():
        blocks.append(
            Table(
                ("group", "held-out rows", "approval rate"),
                tuple(
                    (g["group"], fmt(g["n"]), f"{g['approval_rate']:.1%}")
                    for g in attribute.get("groups", [])
                ),
                f"{name}: adverse impact ratio {fmt(attribute.get('adverse_impact_ratio'))}",
            )
        )
    return blocks
