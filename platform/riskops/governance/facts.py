"""Everything known about one registered version, gathered once from registry, run and audit.

:func:`collect` is the only place in the governance package that does I/O on the
registry, the tracking store and the audit trail (through :mod:`riskops.registry`,
:mod:`riskops.tracking` and :mod:`riskops.audit`). The card, the validation report and
the lineage are pure functions of the :class:`VersionFacts` it returns, so they can be
tested on any facts and never disagree with each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from riskops.errors import NotFoundError

if TYPE_CHECKING:
    from riskops.audit import AuditRecord, VerifyResult
    from riskops.policy import Policy
    from riskops.registry import VersionInfo
    from riskops.settings import Settings

EVIDENCE_FILE = "gate_evidence.json"
LINEAGE_FILE = "lineage.json"
FAMILY_EVIDENCE_FILE = "evidence.json"
GATES_DIR = "gates"
GOVERNANCE_DIR = "governance"
DRIFT_HTML = "drift/data_drift.html"

_SKIPPED_PREFIXES = (f"{GOVERNANCE_DIR}/", "model/", "data/")
"""Our own outputs, the model and the reference sample are never read back."""
_SKIPPED_FILES = ("shap/shap_values.parquet", "attributions.parquet")
_WANTED_SUFFIXES = (".png", ".json", ".csv", ".parquet")


@dataclass
class VersionFacts:
    """One version's registry entry, run, evidence, gate reports and audit records.

    Attributes
    ----------
    info
        The registry entry (name, version, run id, tags, aliases).
    family
        ``credit``, ``var``, ``volatility`` or ``anomaly``.
    run
        :func:`riskops.tracking.run_facts` of the version's run (params, metrics, tags).
    lineage
        The run's ``lineage.json`` (dataset description, source, code version...).
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
    """

    info: VersionInfo
    family: str
    run: dict[str, Any]
    lineage: dict[str, Any]
    gate_evidence: dict[str, Any]
    gate_reports: list[dict[str, Any]]
    audit: list[AuditRecord]
    audit_check: VerifyResult | None
    champion: VersionInfo | None
    previous: VersionInfo | None
    parent: VersionInfo | None
    champion_metrics: dict[str, float]
    policy: Policy | None
    artifacts: list[str]
    local_dir: Path
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )

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


def wanted(artifact: str) -> bool:
    """Whether the governance documents read this artifact (images, tables, JSON, drift)."""
    if artifact.startswith(_SKIPPED_PREFIXES) or artifact in _SKIPPED_FILES:
        return False
    return artifact == DRIFT_HTML or artifact.endswith(_WANTED_SUFFIXES)


def json_only(artifact: str) -> bool:
    """The JSON documents alone: enough for lineage."""
    return wanted(artifact) and artifact.endswith(".json")


def collect(
    settings: Settings,
    name: str,
    version: int | None = None,
    *,
    workdir: Path,
    fetch: Callable[[str], bool] = wanted,
    local_dir: Path | None = None,
) -> VersionFacts:
    """Gather the facts of ``name`` (version ``version``, else the challenger, else the latest).

    Artifacts selected by ``fetch`` (by default all that the documents read) are copied
    under ``workdir``. With ``local_dir`` (a folder holding some of the run's artifacts at
    their artifact paths, e.g. the one they were logged from) those are read in place and
    only the missing ones are copied, into ``local_dir``.
    """
    from riskops import tracking
    from riskops.audit import AuditTrail
    from riskops.families import family_of_registered
    from riskops.policy import load_policies
    from riskops.registry import CHAMPION, PREVIOUS, Registry

    registry = Registry(settings)
    info = registry.resolve(name, version)
    family = family_of_registered(name, info.tags.get("family"))
    run = tracking.run_facts(settings, info.run_id)

    # The run's own files: the documents never read the logged model's (``model/``).
    artifacts = sorted(tracking.list_run_artifacts(settings, info.run_id))
    if local_dir is None:
        local_dir = Path(workdir) / f"{name}-v{info.version}"
    missing = [a for a in artifacts if fetch(a) and not (local_dir / a).is_file()]
    tracking.download_files(settings, info.run_id, missing, local_dir)

    def read(artifact: str) -> dict[str, Any]:
        path = local_dir / artifact
        return json.loads(path.read_text()) if path.is_file() else {}

    gate_reports = [
        {"artifact": a, "report": read(a)}
        for a in artifacts
        if a.startswith(f"{GATES_DIR}/") and a.endswith(".json")
    ]
    champion = registry.version_for_alias(name, CHAMPION)
    previous = registry.version_for_alias(name, PREVIOUS)
    champion_metrics: dict[str, float] = {}
    if champion is not None:
        champion_metrics = dict(tracking.run_facts(settings, champion.run_id)["metrics"])
    lineage = read(LINEAGE_FILE)
    parent = _parent(registry, name, lineage, info.tags)

    trail = AuditTrail(settings)
    try:
        policy: Policy | None = load_policies(settings.policy_file).for_model(name, family)
    except Exception:  # a card must still render when the policy file is broken
        policy = None
    return VersionFacts(
        info=info,
        family=family,
        run=run,
        lineage=lineage,
        gate_evidence=read(EVIDENCE_FILE),
        gate_reports=gate_reports,
        audit=trail.records(name),
        audit_check=trail.verify(),
        champion=champion,
        previous=previous,
        parent=parent,
        champion_metrics=champion_metrics,
        policy=policy,
        artifacts=artifacts,
        local_dir=local_dir,
    )


def _parent(
    registry: Any, name: str, lineage: dict[str, Any], tags: dict[str, str]
) -> VersionInfo | None:
    parent = (lineage.get("parent_champion") or {}).get("version") or tags.get("parent_champion")
    if not parent:
        return None
    try:
        return registry.get_version(name, int(parent))
    except (NotFoundError, ValueError):
        return None
