"""``riskops audit verify``: the chain, its anchors, and every model's registry against the fold.

The audit trail is the source of truth (:mod:`riskops.ledger.state`); the registry's aliases
are a projection written after each record. Verification reports, per model named by the
trail or the registry:

* the **chain** and its anchors (the anchor file, each model's registry tag, the append-only
  anchor table when one is configured): :meth:`riskops.audit.AuditTrail.verify`;
* a registered model that was **deleted** (the trail still has a champion for it) or
  **deleted and created again** (its history does not carry over);
* each alias (``champion``, ``previous``, ``challenger``, ``shadow``) against the fold: an
  alias moved by anything but RiskOps is an error; one that still holds the value before the
  newest recorded decision is a projection not yet applied (a warning: ``riskops
  reconcile`` applies it); what is served never depends on either;
* the champion's **identity** (its run and incarnation), its **model files** and its
  **evidence files** against the hashes recorded at registration;
* a promotion request holding every approval it needs but no promotion (an ``approve``
  interrupted between its two records: a warning, the approver's command run again
  completes it);
* every stream of live evidence a record **sealed** (the decisions and outcomes an outcome
  test or a retrain read, :meth:`riskops.evidence.store.EvidenceStore.seal`): its hash
  chain, and each sealed row still there with its digest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from riskops.ledger.state import ModelState, fold, fold_all

ALIASES = ("champion", "previous", "challenger", "shadow")


@dataclass(frozen=True)
class Finding:
    severity: Literal["error", "warning"]
    kind: str
    message: str
    model: str | None = None
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IntegrityReport:
    chain: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The chain's fields at the top (``ok`` is the overall verdict), then the rest."""
        errors = [f.message for f in self.findings if f.severity == "error"]
        return {
            **self.chain,
            "ok": self.ok,
            "reason": self.chain.get("reason") or (errors[0] if errors else ""),
            "findings": [f.to_dict() for f in self.findings],
            "models": self.models,
        }


def alias_findings(
    name: str,
    state: ModelState,
    before: ModelState | None,
    aliases: dict[str, int | None],
    *,
    same_model: bool,
) -> list[Finding]:
    """Each alias against the fold (pure). ``before`` is the state before the newest
    decision: an alias still saying what it said then is a projection that lags (a crash
    between the record and the alias move), not a move outside RiskOps. ``same_model``: the
    registry's model is the incarnation the trail knows (else every alias is unaudited)."""
    out: list[Finding] = []
    for alias in ALIASES:
        found = aliases.get(alias)
        expected = state.alias(alias) if same_model else None
        if found == expected:
            continue
        if same_model and before is not None and found == before.alias(alias):
            out.append(
                Finding(
                    "warning",
                    "projection",
                    f"{name}@{alias} still points to {_v(found)}: the newest decision (record "
                    f"{state.decision_seq}) was not applied to the registry, where it should "
                    f"point to {_v(expected)}; `riskops reconcile {name}` applies it (what "
                    "is served follows the trail)",
                    model=name,
                    seq=state.decision_seq,
                )
            )
            continue
        # What is served, rolled back to or shadowed never comes from an alias; a moved
        # challenger alias is only misleading (promotion's default target is the trail's).
        severity: Literal["error", "warning"] = "warning" if alias == "challenger" else "error"
        out.append(
            Finding(
                severity,
                "alias",
                f"{name}@{alias} points to {_v(found)} but the audit trail's {alias} is "
                f"{_v(expected)}: the alias was moved outside RiskOps, and is not used",
                model=name,
            )
        )
    return out


def unaudited_versions(
    name: str,
    state: ModelState,
    records: list[Any],
    in_registry: list[int],
    incarnation: int | None,
) -> list[int]:
    """The registry's versions of ``name`` (this ``incarnation``) that no ``register`` record
    names, less those a ``reconcile`` record already recorded (pure): a registration killed
    between MLflow's new version and its record, or a version made with plain MLflow. Never
    served nor promotable (the fold does not know them); reported until recorded."""
    recorded: set[int] = set()
    for record in records:
        found = record.body.get("unaudited") if record.model == name else None
        if isinstance(found, dict) and found.get("incarnation") == incarnation:
            recorded.update(int(v) for v in found.get("versions") or ())
    return sorted(set(in_registry) - set(state.versions) - recorded)


def approved_not_applied(name: str, state: ModelState) -> list[Finding]:
    """Promotion requests holding every approval they need but no promotion (pure): an
    ``approve`` killed between the approval's record and the promotion's. Nothing moved;
    the approver's command, run again, completes it without a second approval."""
    out = []
    for version, request in sorted(state.pending.items()):
        if not request.fully_approved:
            continue
        plural = "" if request.required == 1 else "s"
        out.append(
            Finding(
                "warning",
                "approval",
                f"{name} v{version}: its promotion request (record {request.seq}) has the "
                f"{request.required} approval{plural} it needs ({', '.join(request.approvers)}) "
                "but no promotion was recorded (an approval interrupted?); `riskops approve "
                f"{name} --version {version}` run again by an approver completes it",
                model=name,
                seq=request.seq,
            )
        )
    return out


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"


def verify_installation(settings: Any, *, artifacts: bool = True) -> IntegrityReport:
    """The chain and its anchors, every model's aliases, identity, files and evidence."""
    from riskops.audit import Anchor, AuditTrail
    from riskops.ledger.loader import VerifiedLoader
    from riskops.manifests import manifest_mismatch
    from riskops.registry import AUDIT_HEAD_TAG, Registry

    trail = AuditTrail(settings)
    registry = Registry(settings)
    loader = VerifiedLoader(settings, registry, trail)
    chain = trail.verify()
    findings: list[Finding] = []
    if not chain.ok:
        where = f"record {chain.first_broken}" if chain.first_broken else "anchor"
        findings.append(
            Finding("error", "chain", f"{where}: {chain.reason}", seq=chain.first_broken)
        )
    if chain.note:
        findings.append(Finding("warning", "interrupted", chain.note))
    tags = registry.model_tags()
    for model, model_tags in sorted(tags.items()):
        value = model_tags.get(AUDIT_HEAD_TAG)
        if value:
            anchor = Anchor.parse(value)
            problem = trail.check_anchor(anchor, f"the registry's anchor tag of {model}")
            if problem:
                findings.append(Finding("error", "anchor", problem, model=model, seq=anchor.seq))
    records = trail.records()
    states = fold_all(records)
    models: dict[str, dict[str, Any]] = {}
    for name in sorted(set(states) | set(tags)):
        state = states.get(name) or ModelState(name)
        row: dict[str, Any] = {"audited_champion": state.champion}
        models[name] = row
        for anomaly in state.anomalies:
            findings.append(Finding("error", "trail", f"{name}: {anomaly}", model=name))
        incarnation = registry.incarnation(name)
        if incarnation is None:
            row["registered"] = False
            if state.champion is not None:
                findings.append(
                    Finding(
                        "error",
                        "deleted",
                        f"{name}: the registered model was deleted, but the audit trail's "
                        f"champion is v{state.champion}: nothing can be served",
                        model=name,
                    )
                )
            continue
        same = state.incarnation is None or state.incarnation == incarnation
        if not same:
            findings.append(
                Finding(
                    "error",
                    "recreated",
                    f"{name} was deleted and created again: the audit trail's history "
                    f"(champion {_v(state.champion)}) belongs to the deleted model, and the new "
                    "one has no audited version",
                    model=name,
                )
            )
        aliases = {a: _alias(registry, name, a) for a in ALIASES}
        row.update({f"{a}_alias": v for a, v in aliases.items()})
        row["state"] = "audited" if aliases["champion"] == state.champion and same else "mismatch"
        before = None
        if state.decision_seq is not None:
            earlier = [r for r in records if r.model == name and r.seq < state.decision_seq]
            before = fold(earlier, name)
            if before.incarnation != state.incarnation:
                before = None  # the decision started a new model: nothing of the old lags
        findings += alias_findings(name, state, before, aliases, same_model=same)
        findings += approved_not_applied(name, state)
        if same:
            in_registry = [v.version for v in registry.versions(name)]
            row["unaudited_versions"] = unaudited_versions(
                name, state, records, in_registry, incarnation
            )
            findings += [
                Finding(
                    "warning",
                    "unaudited",
                    f"{name} v{v} is in the registry without an audited registration (a "
                    "registration interrupted, or a version made outside RiskOps): it is "
                    f"neither served nor promotable; `riskops reconcile {name}` records it",
                    model=name,
                )
                for v in row["unaudited_versions"]
            ]
        if not (artifacts and same and state.champion is not None):
            continue
        row["artifacts"] = "verified"
        row["evidence"] = "verified"
        try:
            record, _ = loader.registered(name, state.champion, state)
            problems = manifest_mismatch(
                dict(record.manifest), registry.artifact_manifest(name, state.champion)
            )
            evidence = loader.evidence_problems(name, state.champion)
        except Exception as exc:  # unreadable store, a replaced version: fail closed
            problems, evidence = [f"{type(exc).__name__}: {exc}"], []
        if problems:
            row["artifacts"] = "mismatch"
            findings.append(
                Finding(
                    "error",
                    "artifacts",
                    f"{name} v{state.champion}: artifacts differ from the audited hashes: "
                    + ", ".join(problems),
                    model=name,
                )
            )
        if evidence:
            row["evidence"] = "mismatch"
            findings.append(
                Finding(
                    "error",
                    "evidence",
                    f"{name} v{state.champion}: evidence differs from the hashes recorded at "
                    "registration: " + ", ".join(evidence),
                    model=name,
                )
            )
    findings += seal_findings(settings, records)
    return IntegrityReport(chain.to_dict(), findings, models)


def _seals(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The seals a record's body names: its own, those of what a training added, and those
    of the live evidence a gate decision read (its report's: a shadow window's streams)."""
    found = list(body.get("seals") or [])
    for part in ("outcomes_added", "report"):
        added = body.get(part)
        if isinstance(added, dict):
            found += list(added.get("seals") or [])
    return [s for s in found if isinstance(s, dict) and {"kind", "stream", "seq"} <= set(s)]


def seal_findings(settings: Any, records: list[Any]) -> list[Finding]:
    """Each sealed stream's chain verified once, and each seal checked against it."""
    sealed = [(record, seal) for record in records for seal in _seals(record.body)]
    if not sealed:
        return []
    from riskops.evidence.store import EvidenceStore

    store = EvidenceStore(settings)
    findings: list[Finding] = []
    kinds: dict[str, Any] = {}
    chains: dict[tuple[str, str], list[str]] = {}
    for record, seal in sealed:
        name, stream = str(seal["kind"]), str(seal["stream"])
        if name not in kinds:
            kinds[name] = store.kind_named(name)
        kind = kinds[name]
        if kind is None:
            if int(seal["seq"]) > 0:
                findings.append(
                    Finding(
                        "error",
                        "seal",
                        f"record {record.seq} ({record.action}) sealed {name} {stream} up to "
                        f"row {seal['seq']}, but the store holds no {name} at all",
                        model=record.model,
                        seq=record.seq,
                    )
                )
            continue
        if (name, stream) not in chains:
            chains[name, stream] = store.verify(kind, stream)
            findings += [
                Finding("error", "evidence_chain", problem, model=record.model)
                for problem in chains[name, stream]
            ]
        problem = store.check_seal(seal, kind)
        if problem:
            findings.append(
                Finding(
                    "error",
                    "seal",
                    f"record {record.seq} ({record.action}): {problem}",
                    model=record.model,
                    seq=record.seq,
                )
            )
    return findings


def _alias(registry: Any, name: str, alias: str) -> int | None:
    found = registry.version_for_alias(name, alias)
    return None if found is None else found.version
