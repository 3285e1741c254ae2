"""Lineage of a version: from the alias history back to the exact data and code it came from.

Three independent records name the training data: the run's ``lineage.json``, the
registry tag ``dataset_hash`` and the audit trail's ``register`` record. The lineage
shows all three and says whether they agree, so a tampered or mis-registered version
stands out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskops.governance.history import ALIAS_ACTIONS, history_rows

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts


def build_lineage(facts: VersionFacts) -> dict[str, Any]:
    """Run, data hashes, schema and code versions, parent champion, gate reports, alias history."""
    data = facts.dataset
    recent = facts.lineage.get("recent_window") or None
    register = [r for r in facts.audit if r.action == "register" and r.version == facts.version]
    hashes = {
        "run_lineage": data.get("content_hash"),
        "registry_tag": facts.tags.get("dataset_hash"),
        "audit_register": register[-1].body.get("dataset_hash") if register else None,
        "gate_evidence": facts.gate_evidence.get("dataset_hash"),
    }
    known = {h for h in hashes.values() if h}
    parent_record = facts.lineage.get("parent_champion") or None
    parent = None
    if parent_record or facts.parent is not None:
        parent = {
            "version": (parent_record or {}).get("version")
            or (facts.parent.version if facts.parent else None),
            "run_id": (parent_record or {}).get("run_id")
            or (facts.parent.run_id if facts.parent else None),
            "dataset_hash": facts.parent.tags.get("dataset_hash") if facts.parent else None,
            "code_version": facts.parent.tags.get("code_version") if facts.parent else None,
        }
    compared = facts.gate_evidence.get("champion") or None
    events = history_rows(facts.audit, facts.version)
    check = facts.audit_check
    return {
        "model": facts.name,
        "version": facts.version,
        "family": facts.family,
        "model_kind": facts.model_kind,
        "model_uri": facts.info.uri,
        "aliases": list(facts.info.aliases),
        "run_id": facts.run_id,
        "experiment_id": facts.run.get("experiment_id"),
        "artifact_uri": facts.run.get("artifact_uri"),
        "dataset": {
            "name": data.get("name"),
            "source": data.get("source"),
            "content_hash": data.get("content_hash"),
            "schema_version": data.get("schema_version"),
            "period": data.get("period"),
            "rows": data.get("rows"),
        },
        "recent_window": None
        if recent is None
        else {
            "name": recent.get("name"),
            "content_hash": recent.get("content_hash"),
            "period": recent.get("period"),
        },
        "data_source": facts.lineage.get("source"),
        "dataset_hashes": hashes,
        "dataset_hash_consistent": len(known) == 1,
        "schema_version": data.get("schema_version") or facts.tags.get("schema_version"),
        "code_version": facts.lineage.get("code_version") or facts.tags.get("code_version"),
        "training_options": facts.lineage.get("options"),
        "parent_champion": parent,
        "compared_with_champion": None
        if compared is None
        else {
            "version": compared.get("version"),
            "run_id": compared.get("run_id"),
            "metrics": compared.get("metrics"),
        },
        "gate_evidence_uri": facts.uri("gate_evidence.json"),
        "gate_reports": [
            {
                "artifact": g["artifact"],
                "uri": facts.uri(g["artifact"]),
                "passed": g["report"].get("passed"),
                "champion_version": g["report"].get("champion_version"),
                "failed_gates": [
                    r["gate"] for r in g["report"].get("results", []) if not r.get("passed")
                ],
            }
            for g in facts.gate_reports
        ],
        "validation_status": facts.tags.get("validation_status"),
        "alias_history": [e.to_dict() for e in events if e.action in ALIAS_ACTIONS],
        "audit_records": [e.to_dict() for e in events],
        "audit_chain_intact": None if check is None else check.ok,
    }
