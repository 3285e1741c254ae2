"""Everything known about one registered version, gathered once from registry, run and audit.

:func:`collect` is the only place in the governance package that does I/O on the
registry, the tracking store and the audit trail (through :mod:`riskops.registry`,
:mod:`riskops.tracking` and :mod:`riskops.audit`). The card, the validation report, the
lineage and every family's part of them are pure functions of the
:class:`~riskops.documents.facts.VersionFacts` it returns, so they can be tested on any facts
and never disagree with each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.documents.facts import VersionFacts
from riskops.errors import NotFoundError

if TYPE_CHECKING:
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
        live=_live_record(settings, name, info.version),
    )


def _live_record(settings: Settings, name: str, version: int) -> dict[str, Any] | None:
    """The version's live record (a card renders without it when it cannot be read)."""
    import logging

    from riskops.ledger.loader import VerifiedLoader
    from riskops.live.record import champion_record

    try:
        return champion_record(VerifiedLoader(settings), name, version)
    except Exception as exc:  # the card says "not evaluated"; the log says why
        logging.getLogger("riskops.governance").warning(
            "%s v%s: live record not read: %s", name, version, exc
        )
        return None


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
