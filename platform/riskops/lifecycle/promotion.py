"""Promotion use cases: promote, approve, reject, roll back, reconcile -- each a decision
recorded in the audit trail *before* the registry's aliases (a projection) move.

Every decision reads the model's state from the trail (:mod:`riskops.ledger.state`), never
from an alias: the champion a challenger is compared with, the version a rollback returns to,
the open approval request. Gates are judged on evidence read through
:class:`~riskops.ledger.loader.VerifiedLoader` (the hashes recorded at registration), and the
model itself must load from its audited files and give outputs within its family's contract
(:meth:`~riskops.families.base.Family.check_outputs`); these integrity checks refuse even a
forced promotion. Decisions are taken under the model's lock; their documents (card,
validation report) are published after the lock is released.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from riskops.errors import BadInputError, NotFoundError
from riskops.families import family_of_registered, get_family
from riskops.gates import GateReport, GateResult, evaluate
from riskops.ledger.state import ModelState
from riskops.lifecycle.requests import DecideRequest, PromoteRequest
from riskops.lifecycle.results import Outcome, PromotionResult
from riskops.lifecycle.training import EVIDENCE_FILE
from riskops.names import model_name
from riskops.progress import step

if TYPE_CHECKING:
    from riskops.lifecycle.context import LifecycleContext

ARTIFACT_GATE = "artifact_integrity"
EVIDENCE_GATE = "evidence_integrity"
OUTPUT_GATE = "output_contract"
INTEGRITY_GATES = (ARTIFACT_GATE, EVIDENCE_GATE, OUTPUT_GATE)
"""Not policy gates: a version failing one is refused even with ``--force``."""


def _integrity_failed(report: GateReport) -> bool:
    return any(r.gate in INTEGRITY_GATES and not r.passed for r in report.results)


def promote(life: LifecycleContext, request: PromoteRequest) -> PromotionResult:
    """Gate a version (the trail's challenger by default) and make it champion if every gate
    passes -- or record an override (``force`` with a reason) -- or request approvals when
    the policy asks for them. Fails closed: any error while judging refuses."""
    name = model_name(request.name)
    life.require("promote", "request a promotion")
    if request.force:
        life.require("force", "force a promotion")
    if request.force and not (request.reason and request.reason.strip()):
        raise BadInputError("--reason: a forced promotion needs a reason")
    life.trail.check_writable(f"promoting {name}")
    with life.trail.model_lock(name):
        state = life.loader.state(name)
        target = _target(state, request.version)
        # The registry's version must be the one the trail registered, and readable, before
        # anything is recorded (a registry that cannot answer stops the decision, exit 1).
        life.loader.registered(name, target, state)
        report = judge(life, name, target, state)
        passed = report.passed
        seqs = [
            life.trail.append(
                "gate_decision",
                name,
                target,
                passed=passed,
                report=report.to_dict(),
                run_id=state.versions[target].identity.run_id,
                evidence_uri=f"runs:/{state.versions[target].identity.run_id}/{EVIDENCE_FILE}",
            ).seq
        ]
        life.record_report(name, target, report, "passed" if passed else "failed", seqs[0])
        champion = state.champion
        if champion == target:
            seqs.append(life.trail.append("noop", name, target, note="already champion").seq)
            result = PromotionResult(
                name,
                target,
                Outcome.ALREADY_CHAMPION,
                champion,
                champion,
                report=report,
                note="already champion",
                audit_seq=seqs,
            )
        elif not passed and (not request.force or _integrity_failed(report)):
            seqs.append(
                life.trail.append(
                    "refuse",
                    name,
                    target,
                    reasons=[r.reason for r in report.failures],
                    champion_version=champion,
                ).seq
            )
            result = PromotionResult(
                name, target, Outcome.REFUSED, champion, champion, report=report, audit_seq=seqs
            )
        elif required := life.required_approvals(name, target, state):
            seqs.append(
                life.trail.append(
                    "approval_requested",
                    name,
                    target,
                    required_approvals=required,
                    gate_passed=passed,
                    forced=request.force and not passed,
                    reason=request.reason,
                    failures=[r.reason for r in report.failures],
                    gate_decision_seq=seqs[0],
                    run_id=state.versions[target].identity.run_id,
                ).seq
            )
            life.registry.set_tags(name, target, {"validation_status": "awaiting_approval"})
            result = PromotionResult(
                name,
                target,
                Outcome.AWAITING_APPROVAL,
                champion,
                champion,
                forced=request.force and not passed,
                report=report,
                note=f"awaiting {required} approval(s) by someone other than "
                f"{life.actor()}: riskops approve {name} --version {target} --reason '...'",
                approvals={"approved_by": [], "required": required},
                audit_seq=seqs,
            )
        else:
            seqs.append(_apply(life, name, target, state, report, request.force, request.reason))
            result = PromotionResult(
                name,
                target,
                Outcome.PROMOTED,
                target,
                champion,
                forced=request.force and not passed,
                report=report,
                audit_seq=seqs,
            )
    return replace(result, documents=life.document_decision(name, target, seqs[-1]))


def approve(life: LifecycleContext, request: DecideRequest) -> PromotionResult:
    """Approve a pending promotion request; the last required approval moves the champion.

    Refuses (exit 2) self-approval, a second approval by the same actor, and a version with
    no pending request. Gates are judged again before the champion changes. An approver whose
    approval completed the request, but whose command was interrupted before the promotion
    was recorded, completes it by approving again (no second approval is recorded).
    """
    from riskops.identity.roles import canonical, same_person

    name = model_name(request.name)
    life.require("approve", "approve a promotion")
    if not (request.reason and request.reason.strip()):
        raise BadInputError("--reason: an approval needs a reason")
    life.trail.check_writable(f"approving {name}")
    actor = canonical(life.actor())
    with life.trail.model_lock(name):
        state = life.loader.state(name)
        version = _pending_version(state, request.version)
        pending = state.pending[version]
        if same_person(actor, pending.requester):
            raise BadInputError(
                f"actor: {actor} requested the promotion of {name} v{version} and cannot "
                "approve it; another person must (maker-checker)"
            )
        resuming = actor in pending.approvers and pending.fully_approved
        if actor in pending.approvers and not resuming:
            raise BadInputError(f"actor: {actor} already approved {name} v{version}")
        life.loader.registered(name, version, state)
        seqs: list[int] = []
        if not resuming:
            seqs.append(
                life.trail.append(
                    "approve", name, version, reason=request.reason, request_seq=pending.seq
                ).seq
            )
        approvers = list(pending.approvers) if resuming else [*pending.approvers, actor]
        approvals = {"approved_by": approvers, "required": pending.required}
        champion = state.champion
        if len(approvers) < pending.required:
            return PromotionResult(
                name,
                version,
                Outcome.AWAITING_APPROVAL,
                champion,
                champion,
                forced=pending.forced,
                note=f"{len(approvers)} of {pending.required} approvals",
                approvals=approvals,
                audit_seq=seqs,
            )
        report = judge(life, name, version, state)
        if not report.passed and (not pending.forced or _integrity_failed(report)):
            seqs.append(
                life.trail.append(
                    "refuse",
                    name,
                    version,
                    reasons=[r.reason for r in report.failures],
                    request_seq=pending.seq,
                ).seq
            )
            result = PromotionResult(
                name,
                version,
                Outcome.REFUSED,
                champion,
                champion,
                forced=pending.forced,
                report=report,
                note="refused at approval",
                approvals=approvals,
                audit_seq=seqs,
            )
        else:
            seqs.append(
                _apply(
                    life,
                    name,
                    version,
                    state,
                    report,
                    pending.forced,
                    pending.reason,
                    requested_by=pending.requester,
                    request_seq=pending.seq,
                    approved_by=approvers,
                )
            )
            life.registry.set_tags(name, version, {"validation_status": "approved"})
            result = PromotionResult(
                name,
                version,
                Outcome.PROMOTED,
                version,
                champion,
                forced=pending.forced and not report.passed,
                report=report,
                approvals=approvals,
                audit_seq=seqs,
            )
    return replace(result, documents=life.document_decision(name, version, seqs[-1]))


def reject(life: LifecycleContext, request: DecideRequest) -> PromotionResult:
    """Reject a pending promotion request; the champion does not change."""
    name = model_name(request.name)
    life.require("reject", "reject a promotion")
    if not (request.reason and request.reason.strip()):
        raise BadInputError("--reason: a rejection needs a reason")
    life.trail.check_writable(f"rejecting {name}")
    with life.trail.model_lock(name):
        state = life.loader.state(name)
        version = _pending_version(state, request.version)
        pending = state.pending[version]
        record = life.trail.append(
            "reject", name, version, reason=request.reason, request_seq=pending.seq
        )
        life.registry.set_tags(name, version, {"validation_status": "rejected"})
    return PromotionResult(
        name,
        version,
        Outcome.REJECTED,
        state.champion,
        state.champion,
        note=request.reason or "",
        approvals={"approved_by": list(pending.approvers), "required": pending.required},
        audit_seq=[record.seq],
    )


def rollback(life: LifecycleContext, request: DecideRequest) -> PromotionResult:
    """Make the trail's previous champion champion again (never an alias's claim).

    ``request.version``, when given, is the champion to roll back *from*: the rollback
    happens only while it is champion. A command killed after its record and run again
    then finds that version already rolled back, and records nothing (without it, a second
    run would roll back one champion further)."""
    name = model_name(request.name)
    life.require("rollback", "roll back a champion")
    life.trail.check_writable(f"rolling back {name}")
    with life.trail.model_lock(name):
        state = life.loader.state(name)
        previous, champion = state.previous, state.champion
        if request.version is not None and request.version != champion:
            done = _rolled_back_from(life, name, request.version, state)
            if done is None:
                current = "no champion" if champion is None else f"v{champion}"
                raise BadInputError(
                    f"from: {name}'s champion is {current}, not v{request.version}: "
                    "nothing rolled back"
                )
            return PromotionResult(
                name,
                state.champion or request.version,
                Outcome.ROLLED_BACK,
                state.champion,
                request.version,
                note=(
                    f"v{request.version} was already rolled back (audit record {done}); "
                    "nothing recorded"
                ),
            )
        if champion is None or previous is None:
            raise BadInputError(f"model: {name} has no audited previous champion to roll back to")
        # The version must still be what the trail registered (files and identity).
        life.loader.load(name, previous, state)
        record = life.trail.append(
            "rollback",
            name,
            previous,
            reason=request.reason,
            alias_changes=[
                {"alias": "champion", "from": champion, "to": previous},
                {"alias": "previous", "from": previous, "to": _after_rollback(state)},
            ],
        )
        life.project(name, record.seq)
        life.registry.set_tags(name, champion, {"rolled_back": "true"})
    return PromotionResult(
        name,
        previous,
        Outcome.ROLLED_BACK,
        previous,
        champion,
        note=f"v{champion} rolled back",
        audit_seq=[record.seq],
    )


def shadow(
    life: LifecycleContext, request: DecideRequest, *, stop: bool = False
) -> PromotionResult:
    """Put a registered version in shadow (it scores live traffic beside the champion, off
    the hot path), or end the shadow (``stop``). Audited like an alias change: the record
    comes first, the ``shadow`` alias follows. The version must load from its audited files
    and give outputs within its family's contract."""
    name = model_name(request.name)
    life.require("shadow", "put a version in shadow")
    life.trail.check_writable()
    with life.trail.model_lock(name):
        state = life.loader.state(name)
        current = state.shadow
        if stop:
            if current is None:
                raise BadInputError(f"model: {name} has no version in shadow")
            version: int = current
            to = None
        else:
            version = _target(state, request.version)
            if version == state.champion:
                raise BadInputError(f"version: {name} v{version} is the champion, not a shadow")
            if version == current:
                # Asked again (say, a command killed after its record and run once more):
                # recorded once; a lagging alias is reconcile's to apply.
                return PromotionResult(
                    name,
                    version,
                    Outcome.SHADOW_STARTED,
                    state.champion,
                    state.champion,
                    note=f"v{version} already shadows the champion (nothing recorded)",
                )
            failed = [r for r in _integrity(life, name, version, state) if not r.passed]
            if failed:
                raise BadInputError(
                    f"version: {name} v{version} cannot shadow: "
                    + "; ".join(r.reason for r in failed)
                )
            to = version
        record = life.trail.append(
            "shadow",
            name,
            version,
            reason=request.reason,
            alias_changes=[{"alias": "shadow", "from": current, "to": to}],
            run_id=state.versions[version].identity.run_id,
        )
        life.project(name, record.seq)
    return PromotionResult(
        name,
        version,
        Outcome.SHADOW_STOPPED if stop else Outcome.SHADOW_STARTED,
        state.champion,
        state.champion,
        note=f"v{version} "
        + ("no longer shadows the champion" if stop else "shadows the champion"),
        audit_seq=[record.seq],
    )


def judge(life: LifecycleContext, name: str, version: int, state: ModelState) -> GateReport:
    """The policy's gates on the version's verified evidence, the version's open findings,
    then the integrity checks."""
    step(f"judging the gates of {name} v{version}")
    report = _judge_evidence(life, name, version, state)
    findings = _findings(life, name, version, state)
    extra = (*([findings] if findings is not None else []), *_integrity(life, name, version, state))
    return replace(report, results=(*report.results, *extra))


def _findings(
    life: LifecycleContext, name: str, version: int, state: ModelState
) -> GateResult | None:
    """Open findings of the version that the policy makes blocking (:mod:`riskops.findings`);
    None when it has none."""
    from riskops.findings import GATE, findings_from, findings_gate

    try:
        _, info = life.loader.registered(name, version, state)
        family = family_of_registered(name, info.tags.get("family"))
        blocking = life.policies.blocking_severities(life.policies.for_model(name, family))
        records = [r for r in life.trail.records(name) if r.seq >= state.since_seq]
        return findings_gate(findings_from(records), version, blocking)
    except Exception as exc:  # fail closed, like every other gate
        return GateResult(GATE, False, f"{type(exc).__name__}: {exc}", errored=True)


def _judge_evidence(
    life: LifecycleContext, name: str, version: int, state: ModelState
) -> GateReport:
    from riskops.ledger.loader import EvidenceIntegrityError

    champion = state.champion if state.champion != version else None
    try:
        evidence = life.loader.read_json(name, version, EVIDENCE_FILE, state)
    except EvidenceIntegrityError as exc:
        return GateReport(
            name, version, champion, (GateResult(EVIDENCE_GATE, False, str(exc), errored=True),)
        )
    except Exception as exc:  # fail closed on any error while reading
        return GateReport(
            name,
            version,
            champion,
            (GateResult("evidence", False, f"{type(exc).__name__}: {exc}", errored=True),),
        )
    if evidence is None:
        return GateReport(
            name,
            version,
            champion,
            (GateResult("evidence", False, f"{EVIDENCE_FILE} is missing", errored=True),),
        )
    try:
        _, info = life.loader.registered(name, version, state)
        family_name = family_of_registered(name, info.tags.get("family"))
        policy = life.policies.for_model(name, family_name)
        family = get_family(family_name)
        from riskops.lifecycle.shadow import shadow_evidence

        # A version that has been in shadow is judged on its live window too.
        shadow = shadow_evidence(life, family, name, version, state)
        if shadow is not None:
            evidence = {**evidence, "shadow": shadow}
        report = evaluate(name, version, evidence, policy, family.extra_gates(policy))
        stale = _stale(evidence, state, version)
        if stale is not None:
            report = replace(report, results=(*report.results, stale))
        verified = state.versions[version].evidence is not None
        report = replace(
            report,
            results=(
                *report.results,
                GateResult(
                    EVIDENCE_GATE,
                    True,
                    "the gate evidence matches the hashes recorded at registration"
                    if verified
                    else "not evaluated: registered before evidence files were hashed",
                    evaluated=verified,
                ),
            ),
        )
        return report
    except Exception as exc:  # fail closed on any error while judging
        return GateReport(
            name,
            version,
            champion,
            (GateResult("evidence", False, f"{type(exc).__name__}: {exc}", errored=True),),
        )


def _stale(evidence: dict[str, Any], state: ModelState, version: int) -> GateResult | None:
    """The evidence was gathered against another champion than the trail's current one."""
    compared = evidence.get("champion") or {}
    current = state.champion if state.champion != version else None
    compared_version = compared.get("version")
    compared_run = compared.get("run_id")
    current_run = state.versions[current].identity.run_id if current is not None else None
    if compared_version == current and (current is None or compared_run == current_run):
        return None
    was = "no champion" if compared_version is None else f"champion v{compared_version}"
    now = "there is none now" if current is None else f"the champion is now v{current}"
    return GateResult(
        "evidence_current",
        False,
        f"evidence compares against {was} but {now}; retrain to gather current evidence",
        compared_version,
        current,
    )


def _integrity(
    life: LifecycleContext, name: str, version: int, state: ModelState
) -> list[GateResult]:
    """The version's files match the audited hashes, load, and give outputs within the
    family's contract on their input example."""
    try:
        loaded = life.loader.load(name, version, state)
        loaded.predict_example()
    except Exception as exc:  # fail closed: a model that cannot be loaded is not promoted
        return [
            GateResult(ARTIFACT_GATE, False, f"{type(exc).__name__}: {exc}"[:2000], errored=True)
        ]
    results = [
        GateResult(
            ARTIFACT_GATE,
            True,
            f"{len(loaded.manifest)} files match the audited SHA-256; loads and predicts its "
            "input example",
        )
    ]
    try:
        _, info = life.loader.registered(name, version, state)
        family = get_family(family_of_registered(name, info.tags.get("family")))
        problems = family.check_outputs(loaded.estimator, loaded.input_example)
    except Exception as exc:
        problems = [f"{type(exc).__name__}: {exc}"[:2000]]
    results.append(
        GateResult(
            OUTPUT_GATE,
            not problems,
            "; ".join(problems)
            if problems
            else "outputs on its input example are within the family's contract",
        )
    )
    return results


def _apply(
    life: LifecycleContext,
    name: str,
    target: int,
    state: ModelState,
    report: GateReport,
    force: bool,
    reason: str | None,
    **approval: Any,
) -> int:
    """Record the promotion (or override), then project the aliases. Returns the record."""
    passed = report.passed
    champion = state.champion
    _, info = life.loader.registered(name, target, state)
    changes: list[dict[str, Any]] = [{"alias": "champion", "from": champion, "to": target}]
    if champion is not None:
        changes.append({"alias": "previous", "from": state.previous, "to": champion})
    record = life.trail.append(
        "promote" if passed else "override",
        name,
        target,
        alias_changes=changes,
        reason=reason,
        gate_passed=passed,
        failures=[r.reason for r in report.failures],
        run_id=state.versions[target].identity.run_id,
        identity=state.versions[target].identity.to_dict(),
        dataset_hash=info.tags.get("dataset_hash"),
        artifacts_verified=True,
        **approval,
    )
    life.project(name, record.seq)
    if force and not passed:
        life.registry.set_tags(name, target, {"override_reason": reason or ""})
    return record.seq


def _target(state: ModelState, version: int | None) -> int:
    if version is not None:
        if version not in state.versions:
            raise NotFoundError(
                f"version: {state.name} v{version} was not registered through RiskOps in this "
                "incarnation of the model (no audited register record)"
            )
        return version
    if state.challenger is not None:
        return state.challenger
    if state.versions:
        return max(state.versions)
    raise NotFoundError(f"model: {state.name} has no version registered through RiskOps")


def _pending_version(state: ModelState, version: int | None) -> int:
    if version is None:
        if len(state.pending) == 1:
            return next(iter(state.pending))
        raise BadInputError(
            f"--version: {state.name} has {len(state.pending)} pending requests "
            f"({sorted(state.pending)}); name one"
        )
    if version not in state.pending:
        raise BadInputError(f"version: {state.name} v{version} has no pending promotion request")
    return version


def _rolled_back_from(
    life: LifecycleContext, name: str, version: int, state: ModelState
) -> int | None:
    """The sequence number of the rollback that made ``version`` leave the champion role,
    when it is the trail's last change of champion (``None`` otherwise)."""
    last = None
    for record in life.trail.records(name):
        # reconcile records only bring MLflow's aliases to what the trail already says
        if record.seq < state.since_seq or record.action == "reconcile":
            continue
        changes = record.body.get("alias_changes") or []
        moved = [
            c for c in changes if c.get("alias") == "champion" and c.get("from") != c.get("to")
        ]
        if moved:
            last = (record, moved[-1])
    if last is None:
        return None
    record, change = last
    if record.action == "rollback" and change.get("from") == version:
        return record.seq
    return None


def _after_rollback(state: ModelState) -> int | None:
    return state.history[-2] if len(state.history) >= 2 else None
