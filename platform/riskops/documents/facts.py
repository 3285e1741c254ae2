"""Everything known about one registered version: what every part of its documents reads.

:class:`VersionFacts` is plain data. :func:`riskops.governance.facts.collect` fills it from
the registry, the version's run and the audit trail (the only I/O); the card, the validation
report, the lineage and every family's part of them (:class:`~riskops.documents.FamilyDocuments`)
are pure functions of it, so they can be tested on facts built by hand and never disagree.

The registry entry, the audit records and the chain check are typed by what the documents
read of them (:class:`RegistryEntry`, :class:`AuditEntry`, :class:`ChainCheck`), so that this
module stays below the registry and the audit trail: :class:`riskops.registry.VersionInfo`,
:class:`riskops.audit.AuditRecord` and :class:`riskops.audit.VerifyResult` are what
``collect`` puts there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from riskops.policy import Policy

__all__ = ["AuditEntry", "ChainCheck", "RegistryEntry", "VersionFacts"]


class RegistryEntry(Protocol):
    """What the documents read of a registered version (:class:`riskops.registry.VersionInfo`)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def run_id(self) -> str: ...
    @property
    def tags(self) -> dict[str, str]: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def created_at_ms(self) -> int: ...
    @property
    def uri(self) -> str: ...


class AuditEntry(Protocol):
    """What the documents read of an audit record (:class:`riskops.audit.AuditRecord`)."""

    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def version(self) -> int | None: ...
    @property
    def body(self) -> dict[str, Any]: ...


class ChainCheck(Protocol):
    """What the documents read of the audit chain's check (:class:`riskops.audit.VerifyResult`)."""

    @property
    def ok(self) -> bool: ...
    @property
    def records(self) -> int: ...
    @property
    def first_broken(self) -> int | None: ...
    @property
    def reason(self) -> str: ...


@dataclass
class VersionFacts:
    """One version's registry entry, run, evidence, gate reports and audit records.

    Attributes
    ----------
    info
        The registry entry (name, version, run id, tags, aliases).
    family
        The family's name (``credit``, ``var``, ``volatility``, ``anomaly`` or a plug-in's).
    run
        :func:`riskops.tracking.run_facts` of the version's run (params, metrics, tags).
    lineage
        The run's ``lineage.json`` (dataset description, source, code version,
        the unfitted specification...).
    gate_evidence
        The run's ``gate_evidence.json`` (metrics, evidence, drift, champion comparison).
    gate_reports
        Every ``gates/gate_report_<stamp>.json``, oldest first, as
        ``{"artifact": path, "report": {...}}``.
    audit
        Every audit record of the model, oldest first.
    audit_check
        The hash-chain verification of the whole trail.
    champion, previous, parent
        Current ``champion`` and ``previous`` versions, and the champion this version
        was compared with at training time (``None`` when absent or deleted).
    champion_metrics
        Metrics logged by the current champion's own run.
    policy
        The promotion policy that applies to the model.
    artifacts
        Paths of every artifact the run logged itself (the logged model's files excluded).
    local_dir
        Folder holding local copies of the artifacts the documents read.
    generated_at
        UTC time of collection (ISO 8601, seconds).
    live
        The version's live record since its promotion
        (:func:`riskops.live.record.champion_record`), or ``None`` when it ran no live day.
    """

    info: RegistryEntry
    family: str
    run: dict[str, Any]
    lineage: dict[str, Any]
    gate_evidence: dict[str, Any]
    gate_reports: list[dict[str, Any]]
    audit: Sequence[AuditEntry]
    audit_check: ChainCheck | None
    champion: RegistryEntry | None
    previous: RegistryEntry | None
    parent: RegistryEntry | None
    champion_metrics: dict[str, float]
    policy: Policy | None
    artifacts: list[str]
    local_dir: Path
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    live: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def tags(self) -> dict[str, str]:
        return self.info.tags

    @property
    def model_kind(self) -> str:
        return self.tags.get("model_kind") or self.gate_evidence.get("model_kind") or "?"

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.run.get("metrics") or {})

    @property
    def params(self) -> dict[str, str]:
        return dict(self.run.get("params") or {})

    @property
    def evidence(self) -> dict[str, Any]:
        """The family's evidence (backtests, events, grade tables...)."""
        return dict(self.gate_evidence.get("evidence") or {})

    @property
    def dataset(self) -> dict[str, Any]:
        return dict(self.lineage.get("dataset") or {})

    @property
    def specification(self) -> Any:
        """The unfitted specification stored with the version (class path and
        hyperparameters, :func:`riskops.families.contracts.spec_description`), or ``None``."""
        return self.lineage.get("specification")

    @property
    def latest_gate_report(self) -> dict[str, Any] | None:
        return self.gate_reports[-1] if self.gate_reports else None

    @property
    def is_champion(self) -> bool:
        return self.champion is not None and self.champion.version == self.version

    def local(self, artifact: str) -> Path | None:
        """The local copy of an artifact, when it exists and was fetched."""
        path = self.local_dir / PurePosixPath(artifact)
        return path if path.is_file() else None

    def uri(self, artifact: str) -> str:
        return f"runs:/{self.run_id}/{artifact}"
