"""What the console's pages show, gathered from the library (no HTTP here).

Each page gets one object; the templates only format it. The version page's sections are
the templates in ``templates/version/`` (rendered in file-name order, each receiving the
same :class:`VersionView` as ``v``), so a new section is one template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskops.settings import Settings

FIGURE_PREFIXES = ("shap/", "plots/")
SERVED_SUFFIXES = (".png", ".html", ".json", ".md")
"""Artifacts the console serves (figures, card, reports); never the model's files."""


@dataclass
class VersionView:
    """Everything the version page's sections read."""

    name: str
    version: int
    facts: Any
    lineage: dict[str, Any]
    gates: list[dict[str, Any]]
    gates_source: str
    drift: dict[str, Any]
    prediction_drift: dict[str, Any] | None
    figures: list[str]
    documents: dict[str, str]
    history: list[Any]
    findings: list[Any]
    pending: Any
    metrics: list[tuple[str, Any]]
    aliases: list[str]
    champion_version: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_champion(self) -> bool:
        return self.champion_version == self.version


def _gate_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "gate": r.get("gate"),
            "passed": bool(r.get("passed")),
            "reason": r.get("reason", ""),
            "observed": r.get("observed"),
            "threshold": r.get("threshold"),
            "errored": bool(r.get("errored")),
        }
        for r in results
    ]


def _documents(artifacts: list[str]) -> dict[str, str]:
    """The card and validation report: the newest decision's copy, else registration's."""
    out: dict[str, str] = {}
    for label, file in (
        ("Model card", "model_card.html"),
        ("Validation report", "validation_report.html"),
    ):
        copies = sorted(
            a
            for a in artifacts
            if (a.startswith("governance/") and a.endswith("/" + file)) or a == f"governance/{file}"
        )
        decided = [a for a in copies if "/promotion-" in a or "/report-" in a]
        chosen = decided or copies
        if chosen:
            out[label] = chosen[-1]
    return out


def version_view(settings: Settings, name: str, version: int, workdir: Path) -> VersionView:
    from riskops.findings import findings_from
    from riskops.gates import evaluate
    from riskops.governance.facts import collect, json_only
    from riskops.governance.history import history_rows
    from riskops.governance.lineage import build_lineage
    from riskops.ledger.state import fold

    facts = collect(settings, name, version, workdir=workdir, fetch=json_only)
    latest = facts.latest_gate_report
    if latest is not None and latest.get("report", {}).get("results"):
        gates = _gate_rows(latest["report"]["results"])
        source = f"recorded at the last promotion decision ({latest['artifact']})"
    elif facts.policy is not None and facts.gate_evidence:
        report = evaluate(name, facts.version, facts.gate_evidence, facts.policy)
        gates = _gate_rows(report.to_dict()["results"])
        source = (
            "not decided yet: the policy's gates evaluated now on the stored evidence "
            "(the artifact check and findings run at the promotion request)"
        )
    else:
        gates, source = [], "no gate evidence stored with this version"
    evidence = facts.gate_evidence
    figures = [a for a in facts.artifacts if a.endswith(".png") and a.startswith(FIGURE_PREFIXES)]
    return VersionView(
        name=name,
        version=facts.version,
        facts=facts,
        lineage=build_lineage(facts),
        gates=gates,
        gates_source=source,
        drift=dict(evidence.get("data_drift") or {}),
        prediction_drift=evidence.get("prediction_drift"),
        figures=figures,
        documents=_documents(facts.artifacts),
        history=history_rows(facts.audit, facts.version),
        findings=[f for f in findings_from(facts.audit) if f.version == facts.version],
        pending=fold(facts.audit, name).pending.get(facts.version),
        metrics=sorted(facts.metrics.items()),
        aliases=list(facts.info.aliases),
        champion_version=facts.champion.version if facts.champion else None,
    )


def served_artifact(settings: Settings, name: str, version: int, path: str, cache: Path) -> Path:
    """A local copy of one artifact of the version, if the console may serve it."""
    from riskops import tracking
    from riskops.errors import NotFoundError
    from riskops.registry import Registry

    info = Registry(settings).get_version(name, version)
    if not path.endswith(SERVED_SUFFIXES) or path.startswith(("model/", "data/")):
        raise NotFoundError(f"artifact: {path!r} is not served by the console")
    if path not in tracking.list_run_artifacts(settings, info.run_id):
        raise NotFoundError(f"artifact: {name} v{version} has no {path!r}")
    target = cache / name / str(version)
    local = target / path
    if not local.is_file():
        tracking.download_files(settings, info.run_id, [path], target)
    return local


def pending_approvals(settings: Settings) -> list[dict[str, Any]]:
    """Every open promotion request, with the gate results it was requested on."""
    from riskops.audit import AuditTrail
    from riskops.ledger.state import fold_all

    records = AuditTrail(settings).records()
    by_seq = {r.seq: r for r in records}
    out = []
    for model, state in fold_all(records).items():
        for version, request in sorted(state.pending.items()):
            asked = by_seq[request.seq]
            decision = by_seq.get(int(asked.body.get("gate_decision_seq") or 0))
            results = (decision.body.get("report") or {}).get("results", []) if decision else []
            out.append(
                {
                    "model": model,
                    "version": version,
                    "request": request,
                    "requested_at": asked.ts,
                    "gate_passed": asked.body.get("gate_passed"),
                    "gates": _gate_rows(results),
                }
            )
    return out


def audit_view(settings: Settings, model: str | None) -> dict[str, Any]:
    from riskops.audit import AuditTrail
    from riskops.governance.history import describe

    trail = AuditTrail(settings)
    records = trail.records(model or None)
    return {
        "model": model,
        "rows": [describe(r) for r in reversed(records)],
        "verify": trail.verify(),
        "models": sorted({r.model for r in trail.records()}),
    }


def findings_view(settings: Settings) -> list[Any]:
    from riskops.audit import AuditTrail
    from riskops.findings import findings_from

    return sorted(
        findings_from(AuditTrail(settings).records()),
        key=lambda f: (not f.open, f.due, f.id),
    )


def new_workdir(settings: Settings) -> Path:
    """The console's working folder, under the home (removed at shutdown, or by the next
    command's clean-up when the console was killed)."""
    from riskops.settings import make_scratch

    return make_scratch(settings, "console")
