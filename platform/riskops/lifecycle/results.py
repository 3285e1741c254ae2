"""What the use cases return: one training result and one decision result.

Every promotion decision -- ``promote``, ``approve``, ``reject``, ``rollback`` -- returns a
:class:`PromotionResult` whose :attr:`~PromotionResult.outcome` says what happened; nothing
is raised for a refusal. The CLI maps outcomes to exit codes (``refused``: 3, else 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from riskops.gates import GateReport


class Outcome(StrEnum):
    PROMOTED = "promoted"
    REFUSED = "refused"
    AWAITING_APPROVAL = "awaiting_approval"
    ALREADY_CHAMPION = "already_champion"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    SHADOW_STARTED = "shadow_started"
    SHADOW_STOPPED = "shadow_stopped"


@dataclass(frozen=True)
class TrainResult:
    family: str
    name: str
    version: int
    run_id: str
    model_kind: str
    metrics: dict[str, float]
    dataset: dict[str, Any]
    champion_version: int | None
    data_drift_share: float | None
    seconds: float
    data_drift: dict[str, Any] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    """Where the card and validation report were logged (``error`` when they were not)."""
    family_summary: dict[str, Any] = field(default_factory=dict)
    """What the family adds to the result (credit: fairness, the protected-attribute screen),
    from :meth:`~riskops.families.base.Family.summarize`."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "model": {
                "name": self.name,
                "version": self.version,
                "kind": self.model_kind,
                "features": self.features,
            },
            "run_id": self.run_id,
            "metrics": self.metrics,
            "dataset": self.dataset,
            "champion_version": self.champion_version,
            "data_drift_share": self.data_drift_share,
            "data_drift": {
                k: self.data_drift.get(k)
                for k in ("evaluated", "reason", "share_of_drifted_columns", "drifted_columns")
                if k in self.data_drift
            }
            | {"window": self.data_drift.get("window")},
            **self.family_summary,
            "documents": self.documents,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class PromotionResult:
    """A decision about a version of ``name``.

    Attributes
    ----------
    outcome
        What happened (:class:`Outcome`).
    version
        The version decided about (for a rollback: the champion again).
    champion
        The champion after the decision.
    previous_champion
        The champion before it.
    forced
        Promoted by a recorded override of failed gates.
    report
        The gates as judged (``None`` for a rejection or a rollback).
    approvals
        ``{"approved_by": [...], "required": n}`` for a maker-checker decision.
    audit_seq
        The audit records the decision wrote.
    """

    name: str
    version: int
    outcome: Outcome
    champion: int | None = None
    previous_champion: int | None = None
    forced: bool = False
    report: GateReport | None = None
    note: str = ""
    approvals: dict[str, Any] | None = None
    audit_seq: list[int] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    """Where this decision's card and validation report were logged (``error`` if not)."""

    @property
    def promoted(self) -> bool:
        return self.outcome == Outcome.PROMOTED

    @property
    def refused(self) -> bool:
        return self.outcome == Outcome.REFUSED

    def reasons(self) -> list[str]:
        """Why the gates refused (empty unless refused)."""
        return [] if self.report is None else [r.reason for r in self.report.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {"name": self.name, "version": self.version},
            "outcome": str(self.outcome),
            "promoted": self.promoted,
            "forced": self.forced,
            "champion": self.champion,
            "previous_champion": self.previous_champion,
            "note": self.note,
            "report": None if self.report is None else self.report.to_dict(),
            "approvals": self.approvals,
            "audit_seq": self.audit_seq,
            "documents": self.documents,
        }
