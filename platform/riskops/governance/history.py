"""Audit records in words an auditor reads: which alias moved, from which version to which,
who did it, why, and on what evidence.

One wording for the ``riskops audit`` table, its CSV export, the model card's approval
history and ``riskops lineage``. Works on :class:`~riskops.audit.AuditRecord` objects or
their ``to_dict()`` form; imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

ALIAS_ACTIONS = ("promote", "override", "rollback")
"""Actions that move the champion alias."""


@dataclass(frozen=True)
class HistoryRow:
    """One audit record, readable. ``alias_changes`` e.g. ``champion v1 → v2; previous → v1``."""

    seq: int
    time: str
    actor: str
    action: str
    model: str
    version: int | None
    alias_changes: str
    decision: str
    evidence: str
    actor_source: str = ""
    """How the actor was established: ``token``, ``oidc`` or ``self_declared`` (empty in
    records written before identities were authenticated)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _plain(record: Any) -> dict[str, Any]:
    return record if isinstance(record, dict) else record.to_dict()


def _v(value: Any) -> str:
    return "none" if value is None else f"v{value}"


def alias_changes_text(body: dict[str, Any]) -> str:
    """``champion v1 → v2; previous → v1`` from a record body (empty when nothing moved)."""
    changes = list(body.get("alias_changes") or [])
    if "alias_change" in body:
        changes.append(body["alias_change"])
    parts = []
    for change in changes:
        target = _v(change.get("to"))
        if "from" in change:
            parts.append(f"{change['alias']} {_v(change['from'])} → {target}")
        else:
            parts.append(f"{change['alias']} → {target}")
    return "; ".join(parts)


def _failed_gates(report: dict[str, Any]) -> list[str]:
    return [r["gate"] for r in report.get("results", []) if not r.get("passed")]


def decision_text(action: str, body: dict[str, Any]) -> str:
    """What was decided and why, in one line."""
    reason = f"reason: {body['reason']}" if body.get("reason") else ""
    if action == "register":
        data = body.get("dataset_hash", "")
        return f"registered as challenger; trained on {body.get('dataset', '?')} ({data})"
    if action == "gate_decision":
        if body.get("passed"):
            return "all gates passed"
        return "gates failed: " + ", ".join(_failed_gates(body.get("report") or {}))
    if action == "refuse":
        return "promotion refused: " + "; ".join(body.get("reasons") or [])
    if action == "promote":
        approved = body.get("approved_by")
        by = (
            f"approved by {', '.join(approved)} (requested by {body.get('requested_by', '?')})"
            if approved
            else ""
        )
        return "; ".join(x for x in ("promoted, all gates passed", by, reason) if x)
    if action == "approval_requested":
        kind = "override" if body.get("forced") else "promotion"
        needed = body.get("required_approvals", 1)
        return "; ".join(x for x in (f"{kind} awaits {needed} approval(s)", reason) if x)
    if action == "approve":
        return "; ".join(x for x in (f"approved request {body.get('request_seq')}", reason) if x)
    if action == "reject":
        return "; ".join(x for x in (f"rejected request {body.get('request_seq')}", reason) if x)
    if action == "override":
        failures = "; ".join(body.get("failures") or [])
        approved = body.get("approved_by")
        by = f"approved by {', '.join(approved)}" if approved else ""
        return "; ".join(x for x in (f"forced over failed gates ({failures})", by, reason) if x)
    if action == "rollback":
        return "; ".join(x for x in ("rolled back to the previous champion", reason) if x)
    if action == "noop":
        return str(body.get("note", ""))
    if action == "monitor":
        share = body.get("share_of_drifted_columns")
        if share is None:
            return f"drift not checked: {body.get('note') or 'no recent data'}"
        drifted = ", ".join(body.get("drifted_columns") or []) or "none"
        verdict = "retraining asked" if body.get("retrain") else "within policy"
        return (
            f"drift check on {body.get('source')}: {share:.0%} of inputs drifted (policy "
            f"{body.get('threshold', 0):.0%}, {verdict}); drifted: {drifted}"
        )
    if action == "alias_change_failed":
        return f"alias change failed: {body.get('error', '')}"
    if action == "finding_added":
        return (
            f"{body.get('severity')} finding (owner {body.get('owner')}, due {body.get('due')}): "
            f"{body.get('text')}"
        )
    if action == "finding_closed":
        return "; ".join(x for x in (f"closed finding #{body.get('finding')}", reason) if x)
    if action in ("identity_bootstrap", "identity_added"):
        roles = ", ".join(body.get("roles") or [])
        return f"identity {body.get('identity')} created ({roles}), token {body.get('token_id')}"
    if action == "token_issued":
        return f"token {body.get('token_id')} issued to {body.get('identity')}"
    if action == "identity_revoked":
        return (
            f"identity {body.get('identity')} revoked with its "
            f"{body.get('tokens_revoked')} token(s)"
        )
    return ", ".join(f"{k}={v}" for k, v in sorted(body.items()))[:200]


def evidence_text(body: dict[str, Any]) -> str:
    """Where the evidence lives: the gate-evidence URI, else the run."""
    if body.get("evidence_uri"):
        return str(body["evidence_uri"])
    if body.get("report_uri"):
        return str(body["report_uri"])
    if body.get("run_id"):
        return f"runs:/{body['run_id']}"
    return ""


def describe(record: Any) -> HistoryRow:
    """A readable row of one audit record (an ``AuditRecord`` or its dict)."""
    r = _plain(record)
    body = r.get("body") or {}
    return HistoryRow(
        seq=int(r["seq"]),
        time=str(r["ts"])[:19].replace("T", " "),
        actor=str(r["actor"]),
        action=str(r["action"]),
        model=str(r["model"]),
        version=r.get("version"),
        alias_changes=alias_changes_text(body),
        decision=decision_text(str(r["action"]), body),
        evidence=evidence_text(body),
        actor_source=str(body.get("actor_source") or ""),
    )


def touches(record: Any, version: int) -> bool:
    """Whether a record concerns ``version``: about it, or moving an alias to or from it."""
    r = _plain(record)
    if r.get("version") == version:
        return True
    body = r.get("body") or {}
    changes = list(body.get("alias_changes") or []) + (
        [body["alias_change"]] if "alias_change" in body else []
    )
    return any(version in (c.get("from"), c.get("to")) for c in changes)


def history_rows(records: Sequence[Any], version: int | None = None) -> list[HistoryRow]:
    """Readable rows, oldest first; with ``version``, only the records that touch it."""
    rows = [r for r in records if version is None or touches(r, version)]
    return [describe(r) for r in sorted(rows, key=lambda r: _plain(r)["seq"])]
