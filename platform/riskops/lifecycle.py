"""The lifecycle as plain functions: train and register a challenger, promote, roll back.

Prefect flows (``pipelines/``) and the CLI are thin adapters over :class:`Lifecycle`.
Evidence for the gates is gathered at training time, against the champion of that
moment, and stored with the run; promotion re-reads it, evaluates the pure gates and
applies the alias change under a per-model lock, auditing every decision.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from riskops import registry as reg
from riskops.audit import AuditTrail
from riskops.data import DataSource, load
from riskops.errors import BadInputError, PromotionRefused
from riskops.families import family_of_registered, get_family, registered_name
from riskops.families.base import TrainOptions
from riskops.gates import GateReport, GateResult, evaluate
from riskops.identity.roles import Principal
from riskops.policy import PolicyBook, load_policies
from riskops.settings import Settings

EVIDENCE_FILE = "gate_evidence.json"
ARTIFACT_GATE = "artifact_integrity"
"""Not a policy gate: a version whose files fail it is refused even with ``--force``."""


def _integrity_failed(report: GateReport) -> bool:
    return any(r.gate == ARTIFACT_GATE for r in report.failures)


SPEC_FILE = "specification.json"
"""The unfitted specification, options and data source of a version, for retraining."""


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
    fairness: dict[str, Any] | None = None
    documents: dict[str, Any] = field(default_factory=dict)
    """Where the card and validation report were logged (``error`` when they were not)."""

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
            **({"fairness": self.fairness} if self.fairness else {}),
            "documents": self.documents,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class PromotionResult:
    name: str
    version: int
    promoted: bool
    forced: bool
    report: GateReport
    previous_champion: int | None
    audit_seq: list[int] = field(default_factory=list)
    note: str = ""
    documents: dict[str, Any] = field(default_factory=dict)
    """Where this decision's card and validation report were logged (``error`` if not)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {"name": self.name, "version": self.version},
            "promoted": self.promoted,
            "forced": self.forced,
            "previous_champion": self.previous_champion,
            "note": self.note,
            "report": self.report.to_dict(),
            "audit_seq": self.audit_seq,
            "documents": self.documents,
        }


def code_version() -> str:
    """The git commit of the running code, when it runs from a checkout."""
    try:
        root = Path(__file__).resolve().parents[2]
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from riskops import __version__

        return f"riskops-{__version__}"


class Lifecycle:
    def __init__(
        self, settings: Settings | None = None, principal: Principal | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.registry = reg.Registry(self.settings)
        # Every append is also anchored as a tag on the registered model (see riskops.audit).
        # Records name ``principal``, else whoever this process authenticates (resolved once).
        self.audit = AuditTrail(
            self.settings, anchor=self.registry.anchor_audit, principal=principal
        )

    # --------------------------------------------------------------- identity
    @property
    def principal(self) -> Principal:
        """Who is acting (see :mod:`riskops.identity.resolve`)."""
        return self.audit.acting()

    def _require(self, permission: str, what: str) -> None:
        """The permission check at each entry point (exit 2 / HTTP 403 naming it)."""
        from riskops.identity.roles import require

        require(self.principal, permission, what)

    @property
    def policies(self) -> PolicyBook:
        return load_policies(self.settings.policy_file)

    # ------------------------------------------------------------------ train
    def train(
        self,
        family_name: str,
        source: DataSource | None = None,
        options: TrainOptions | None = None,
        name: str | None = None,
        recent: DataSource | None = None,
        run_name: str | None = None,
    ) -> TrainResult:
        """Train a built-in kind: :meth:`register` of ``builtin_spec(family, options)``."""
        family = get_family(family_name)
        options = options or TrainOptions()
        if options.model is not None and options.model not in family.models:
            raise BadInputError(f"--model: {options.model!r} is not one of {list(family.models)}")
        kind = options.model or family.models[0]
        options = replace(options, model=kind)
        spec = family.builtin(kind, options)
        return self.register(spec, family_name, source, options, name, recent, run_name)

    def register(
        self,
        estimator: Any,
        family_name: str,
        source: DataSource | None = None,
        options: TrainOptions | None = None,
        name: str | None = None,
        recent: DataSource | None = None,
        run_name: str | None = None,
    ) -> TrainResult:
        """Check, clone, fit, evaluate, gather gate evidence, log, register a challenger.

        ``estimator`` is an unfitted specification honouring the family's contract
        (:mod:`riskops.families.contracts`): a built-in kind or a user's own model. The
        contract is checked and the data validated and fitted before anything is written:
        a bad estimator or bad data registers nothing.
        """
        from riskops import drift, tracking
        from riskops.families import contracts
        from riskops.governance.publish import REGISTRATION
        from riskops.governance.publish import publish as publish_documents
        from riskops.governance.summary import version_description

        self._require("train", "train or register a model")
        started = time.perf_counter()
        family = get_family(family_name)
        family.check(estimator)
        options = options or TrainOptions()
        name = name or registered_name(family_name)
        _check_model_name(name)
        source = family.default_source(source)
        policy = self.policies.for_model(name, family_name)
        credit = family.domain == "credit"
        fairness = family.rules(policy).fairness if credit else None
        if fairness is not None and fairness.protected:
            protected = tuple(dict.fromkeys((*source.protected, *fairness.protected)))
            source = replace(source, protected=protected)
        dataset = load(source)
        recent_dataset = load(family.default_source(recent)) if recent is not None else dataset
        # Read before fitting: a registry failure other than "not found" stops here.
        champion = self.registry.version_for_alias(name, reg.CHAMPION)
        if credit:
            from riskops.credit.evidence import champion_memory

            memory = champion_memory(self.settings, champion)
            dataset = replace(dataset, split_memory=memory)  # type: ignore[arg-type]

        with tempfile.TemporaryDirectory(prefix="riskops-") as tmp:
            workdir = Path(tmp) / "artifacts"
            workdir.mkdir()
            outcome = family.fit(dataset, options, workdir, estimator=estimator)
            spec = contracts.spec_description(estimator)
            drift_dir = workdir / "drift"
            drift_dir.mkdir(exist_ok=True)
            champion_evidence = None
            prediction_drift = None
            if credit:
                from riskops.credit.evidence import gather

                data_drift, champion_evidence, prediction_drift = gather(
                    self.settings,
                    self.registry,
                    name,
                    family,
                    dataset,
                    recent_dataset if recent is not None else None,
                    outcome,
                    policy,
                    champion,
                    drift_dir,
                )
            else:
                recent_features = family.features(family.recent_window(recent_dataset))
                data_drift = drift.data_drift(
                    outcome.reference,
                    recent_features,
                    drift_share=policy.data_drift.max_drift_share,
                    max_rows=policy.data_drift.max_rows,
                    stattest=policy.data_drift.stattest,
                    threshold=policy.data_drift.threshold,
                    html_path=drift_dir / "data_drift.html",
                ).to_dict()
            if champion is not None and not credit:
                champion_model = self.registry.load_model(name, version=champion.version)
                champion_evidence = {
                    "version": champion.version,
                    "run_id": champion.run_id,
                    "metrics": family.evaluate(champion_model, outcome.evaluation),
                }
                prediction_drift = drift.prediction_drift(
                    family.score(outcome.estimator, recent_features),
                    family.score(champion_model, recent_features),
                )
            facts = dataset.describe()
            lineage = {
                "dataset": facts,
                "source": source.describe(),
                "recent_window": recent_dataset.describe() if recent is not None else None,
                "code_version": code_version(),
                "parent_champion": None
                if champion is None
                else {"version": champion.version, "run_id": champion.run_id},
                "options": {**options.__dict__},
                "specification": spec,
            }
            evidence = {
                "family": family_name,
                "model_kind": outcome.model_kind,
                "metrics": outcome.metrics,
                "evidence": outcome.evidence,
                "data_drift": data_drift,
                "prediction_drift": prediction_drift,
                "champion": champion_evidence,
                "dataset_hash": facts["content_hash"],
            }
            tags = {
                "family": family_name,
                "model_kind": outcome.model_kind,
                "dataset_hash": facts["content_hash"],
                "dataset_name": str(facts["name"]),
                "schema_version": str(facts["schema_version"]),
                "code_version": lineage["code_version"],
                "parent_champion": str(champion.version) if champion else "",
                "validation_status": "pending",
                "spec_class": str(spec.get("class", type(estimator).__name__))[:250]
                if isinstance(spec, dict)
                else type(estimator).__name__,
                "origin": "builtin" if options.model in family.models else "user",
            }
            with tracking.training_run(
                self.settings, family_name, run_name or f"{name}-{outcome.model_kind}"
            ) as run_id:
                tracking.log_outcome(family, outcome, lineage, tags)
                tracking.log_evidence(evidence, EVIDENCE_FILE)
                tracking.log_evidence(
                    {
                        "family": family_name,
                        "options": {**options.__dict__},
                        "source": source.describe(),
                        "specification": spec,
                    },
                    SPEC_FILE,
                )
                tracking.log_tuning_trials(outcome.evidence.get("tuning", []))
            version = self.register_challenger(
                run_id,
                name,
                tags,
                dataset_hash=facts["content_hash"],
                dataset=facts["name"],
                code_version=lineage["code_version"],
                evidence_uri=f"runs:/{run_id}/{EVIDENCE_FILE}",
                metrics=outcome.metrics,
            )
            self.registry.set_description(
                name,
                version.version,
                version_description(
                    name,
                    version.version,
                    family_name,
                    outcome.model_kind,
                    facts,
                    key_metrics(family_name, outcome.metrics),
                ),
            )
            # After the audit record and the alias: a failure is reported, never raised.
            documents = publish_documents(
                self.settings,
                name,
                version.version,
                occasion=REGISTRATION,
                local_dir=outcome.artifact_dir,
                audit=self.audit,
            )
        return TrainResult(
            family=family_name,
            name=name,
            version=version.version,
            run_id=run_id,
            model_kind=outcome.model_kind,
            metrics=outcome.metrics,
            dataset=facts,
            champion_version=champion.version if champion else None,
            data_drift_share=data_drift.get("share_of_drifted_columns"),
            data_drift=data_drift,
            features=list(outcome.input_example.columns),
            fairness=_fairness_summary(outcome.evidence.get("fairness")),
            seconds=time.perf_counter() - started,
            documents=documents.to_dict(),
        )

    def register_challenger(
        self, run_id: str, name: str, tags: dict[str, str], **record: Any
    ) -> reg.VersionInfo:
        """Register a run's logged model and make it the challenger, audited first.

        The new version's artifact hashes go into the ``register`` record, which is appended
        *before* the ``challenger`` alias moves: a crash in between leaves a recorded intent,
        never an alias without a record.
        """
        version = self.registry.register(run_id, name, tags)
        manifest = json.loads(version.tags.get(reg.ARTIFACTS_TAG, "{}"))
        entry = self.audit.append(
            "register",
            name,
            version.version,
            run_id=run_id,
            artifacts=manifest,
            alias_change={"alias": reg.CHALLENGER, "to": version.version},
            **record,
        )
        self._move_aliases(name, version.version, entry.seq, [(reg.CHALLENGER, version.version)])
        return version

    def _move_aliases(
        self, name: str, version: int, intent_seq: int, moves: list[tuple[str, int | None]]
    ) -> None:
        """Apply an audited intent; a failure is recorded against it and re-raised."""
        try:
            for alias, target in moves:
                if target is None:
                    self.registry.delete_alias(name, alias)
                else:
                    self.registry.set_alias(name, alias, target)
        except Exception as exc:
            self.audit.append(
                "alias_change_failed", name, version, intent_seq=intent_seq, error=str(exc)
            )
            raise

    def retrain(self, name: str, source: DataSource | None = None) -> TrainResult:
        """Refit a registered model's specification on fresh data and register a challenger.

        The specification, options and data source stored with the champion (else the
        latest version) are reused: a user's own estimator is refitted exactly like a
        built-in kind. ``source`` replaces the stored data source (e.g. a newer file).
        """
        from riskops import tracking
        from riskops.families import contracts

        info = self.registry.version_for_alias(name, reg.CHAMPION) or self.registry.resolve(name)
        stored = tracking.load_json(self.settings, info.run_id, SPEC_FILE)
        family_name = family_of_registered(name, info.tags.get("family") or stored.get("family"))
        fitted = self.registry.load_model(name, version=info.version)
        estimator = contracts.specification_of(fitted)
        known = set(TrainOptions.__dataclass_fields__)
        options = TrainOptions(**{k: v for k, v in stored.get("options", {}).items() if k in known})
        if source is None:
            described = dict(stored.get("source") or {})
            if described.get("path"):
                described["path"] = Path(described["path"])
            source = DataSource(**described) if described else None
        return self.register(estimator, family_name, source, options, name=name)

    # ---------------------------------------------------------------- promote
    def promote(
        self,
        name: str,
        version: int | None = None,
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> PromotionResult:
        """Gate a version (the challenger by default) and make it champion if every gate passes.

        Fails closed: any error while gathering or judging evidence refuses the promotion.
        Raises :class:`PromotionRefused` (exit 3) when refused and not forced.
        """
        self._require("promote", "request a promotion")
        if force:
            self._require("force", "force a promotion")
        if force and not (reason and reason.strip()):
            raise BadInputError("--reason: a forced promotion needs a reason")
        with self.audit.model_lock(name):
            target = self.registry.resolve(name, version)
            champion = self.registry.version_for_alias(name, reg.CHAMPION)
            report = self._judge(name, target, champion)
            passed = report.passed
            status = "passed" if passed else "failed"
            seqs = [
                self.audit.append(
                    "gate_decision",
                    name,
                    target.version,
                    passed=passed,
                    report=report.to_dict(),
                    run_id=target.run_id,
                    evidence_uri=f"runs:/{target.run_id}/{EVIDENCE_FILE}",
                ).seq
            ]
            self._record_report(target, report, status, seqs[0])
            if champion is not None and champion.version == target.version:
                seqs.append(
                    self.audit.append("noop", name, target.version, note="already champion").seq
                )
                return PromotionResult(
                    name,
                    target.version,
                    False,
                    False,
                    report,
                    champion.version,
                    seqs,
                    "already champion",
                    self._document_decision(name, target.version, seqs[-1]),
                )
            if not passed and (not force or _integrity_failed(report)):
                seqs.append(
                    self.audit.append(
                        "refuse",
                        name,
                        target.version,
                        reasons=[r.reason for r in report.failures],
                        champion_version=champion.version if champion else None,
                    ).seq
                )
                documents = self._document_decision(name, target.version, seqs[-1])
                raise PromotionRefused(
                    f"{name} v{target.version} refused: "
                    + "; ".join(r.reason for r in report.failures)
                    + _documents_note(documents),
                    report,
                )
            required = self._required_approvals(name, target)
            if required:
                seqs.append(
                    self.audit.append(
                        "approval_requested",
                        name,
                        target.version,
                        required_approvals=required,
                        gate_passed=passed,
                        forced=force and not passed,
                        reason=reason,
                        failures=[r.reason for r in report.failures],
                        gate_decision_seq=seqs[0],
                        run_id=target.run_id,
                    ).seq
                )
                self.registry.set_tags(
                    name, target.version, {"validation_status": "awaiting_approval"}
                )
                return PromotionResult(
                    name,
                    target.version,
                    False,
                    False,
                    report,
                    champion.version if champion else None,
                    seqs,
                    f"awaiting {required} approval(s) by someone other than "
                    f"{self.audit_actor()}: riskops approve {name} --version {target.version}",
                    self._document_decision(name, target.version, seqs[-1]),
                )
            seqs.append(self._apply_promotion(name, target, champion, report, force, reason))
            return PromotionResult(
                name,
                target.version,
                True,
                force and not passed,
                report,
                champion.version if champion else None,
                seqs,
                documents=self._document_decision(name, target.version, seqs[-1]),
            )

    def _document_decision(self, name: str, version: int, audit_seq: int) -> dict[str, Any]:
        """The card and validation report as they stand after a promotion decision, logged
        under ``governance/promotion-<seq>/`` (seq: the decision's audit record). Never raises.
        """
        from riskops.governance.publish import PROMOTION, promotion_dir, publish

        return publish(
            self.settings,
            name,
            version,
            occasion=PROMOTION,
            artifact_dir=promotion_dir(audit_seq),
            audit=self.audit,
        ).to_dict()

    def audit_actor(self) -> str:
        return self.principal.name

    def _required_approvals(self, name: str, target: reg.VersionInfo) -> int:
        family = family_of_registered(name, target.tags.get("family"))
        return self.policies.approvals_for(self.policies.for_model(name, family))

    def _apply_promotion(
        self,
        name: str,
        target: reg.VersionInfo,
        champion: reg.VersionInfo | None,
        report: GateReport,
        force: bool,
        reason: str | None,
        **approval: Any,
    ) -> int:
        """Record the promotion (or override), then move the aliases. Returns the record's seq."""
        passed = report.passed
        action = "promote" if passed else "override"
        changes = [
            {
                "alias": reg.CHAMPION,
                "from": champion.version if champion else None,
                "to": target.version,
            }
        ]
        if champion is not None:
            changes.append({"alias": reg.PREVIOUS, "to": champion.version})
        # The record comes first: an alias never changes without one.
        record = self.audit.append(
            action,
            name,
            target.version,
            alias_changes=changes,
            reason=reason,
            gate_passed=passed,
            failures=[r.reason for r in report.failures],
            run_id=target.run_id,
            dataset_hash=target.tags.get("dataset_hash"),
            artifacts_verified=True,
            **approval,
        )
        moves: list[tuple[str, int | None]] = []
        if champion is not None:
            moves.append((reg.PREVIOUS, champion.version))
        moves.append((reg.CHAMPION, target.version))
        self._move_aliases(name, target.version, record.seq, moves)
        if force and not passed:
            self.registry.set_tags(name, target.version, {"override_reason": reason or ""})
        return record.seq

    # -------------------------------------------------------------- approvals
    def approve(self, name: str, version: int, reason: str) -> dict[str, Any]:
        """Approve a pending promotion request; the alias moves with the last approval.

        Refuses (exit 2) self-approval, a second approval by the same actor, and a version
        with no pending request. Gates are judged again before the alias moves.
        """
        from riskops.approvals import pending_request, same_person

        self._require("approve", "approve a promotion")
        if not (reason and reason.strip()):
            raise BadInputError("--reason: an approval needs a reason")
        actor = self.audit_actor()
        with self.audit.model_lock(name):
            pending = pending_request(self.audit.records(name), version)
            if pending is None:
                raise BadInputError(f"version: {name} v{version} has no pending promotion request")
            if same_person(actor, pending.requester):
                raise BadInputError(
                    f"actor: {actor} requested the promotion of {name} v{version} and cannot "
                    "approve it; another person must (maker-checker)"
                )
            if actor in pending.approvers:
                raise BadInputError(f"actor: {actor} already approved {name} v{version}")
            record = self.audit.append(
                "approve", name, version, reason=reason, request_seq=pending.seq
            )
            approvers = [*pending.approvers, actor]
            out: dict[str, Any] = {
                "model": name,
                "version": version,
                "approved_by": approvers,
                "required": pending.required,
                "audit_seq": [record.seq],
                "promoted": False,
            }
            if len(approvers) < pending.required:
                return out
            target = self.registry.get_version(name, version)
            champion = self.registry.version_for_alias(name, reg.CHAMPION)
            report = self._judge(name, target, champion)
            if not report.passed and (not pending.forced or _integrity_failed(report)):
                out["audit_seq"].append(
                    self.audit.append(
                        "refuse",
                        name,
                        version,
                        reasons=[r.reason for r in report.failures],
                        request_seq=pending.seq,
                    ).seq
                )
                documents = self._document_decision(name, version, out["audit_seq"][-1])
                raise PromotionRefused(
                    f"{name} v{version} refused at approval: "
                    + "; ".join(r.reason for r in report.failures)
                    + _documents_note(documents),
                    report,
                )
            out["audit_seq"].append(
                self._apply_promotion(
                    name,
                    target,
                    champion,
                    report,
                    pending.forced,
                    pending.reason,
                    requested_by=pending.requester,
                    request_seq=pending.seq,
                    approved_by=approvers,
                )
            )
            self.registry.set_tags(name, version, {"validation_status": "approved"})
            out["promoted"] = True
            out["documents"] = self._document_decision(name, version, out["audit_seq"][-1])
            return out

    def reject(self, name: str, version: int, reason: str) -> dict[str, Any]:
        """Reject a pending promotion request; the alias does not move."""
        from riskops.approvals import pending_request

        self._require("reject", "reject a promotion")
        if not (reason and reason.strip()):
            raise BadInputError("--reason: a rejection needs a reason")
        with self.audit.model_lock(name):
            pending = pending_request(self.audit.records(name), version)
            if pending is None:
                raise BadInputError(f"version: {name} v{version} has no pending promotion request")
            record = self.audit.append(
                "reject", name, version, reason=reason, request_seq=pending.seq
            )
            self.registry.set_tags(name, version, {"validation_status": "rejected"})
        return {"model": name, "version": version, "rejected": True, "audit_seq": [record.seq]}

    def _judge(
        self, name: str, target: reg.VersionInfo, champion: reg.VersionInfo | None
    ) -> GateReport:
        report = self._judge_evidence(name, target, champion)
        extra = (self._findings_check(name, target), self._artifact_check(target))
        return replace(report, results=(*report.results, *(r for r in extra if r is not None)))

    def _findings_check(self, name: str, target: reg.VersionInfo) -> GateResult | None:
        """Open findings of the version (riskops.findings); None when it has none."""
        from riskops.findings import GATE, findings_from, findings_gate

        try:
            family = family_of_registered(name, target.tags.get("family"))
            blocking = self.policies.blocking_severities(self.policies.for_model(name, family))
            return findings_gate(findings_from(self.audit.records(name)), target.version, blocking)
        except Exception as exc:  # fail closed, like every other gate
            return GateResult(GATE, False, f"{type(exc).__name__}: {exc}", errored=True)

    def _artifact_check(self, target: reg.VersionInfo) -> GateResult:
        """The version's files match the audited hashes, load, and predict their example."""
        try:
            loaded = self.registry.load_version(target.name, target.version)
            loaded.predict_example()
        except Exception as exc:  # fail closed: a model that cannot be loaded is not promoted
            return GateResult(
                ARTIFACT_GATE, False, f"{type(exc).__name__}: {exc}"[:2000], errored=True
            )
        return GateResult(
            ARTIFACT_GATE,
            True,
            f"{len(loaded.manifest)} files match the audited SHA-256; loads and predicts its "
            "input example",
        )

    def _judge_evidence(
        self, name: str, target: reg.VersionInfo, champion: reg.VersionInfo | None
    ) -> GateReport:
        from riskops import tracking

        try:
            evidence = tracking.load_json(self.settings, target.run_id, EVIDENCE_FILE)
            family = family_of_registered(name, target.tags.get("family"))
            policy = self.policies.for_model(name, family)
            report = evaluate(
                name, target.version, evidence, policy, get_family(family).extra_gates(policy)
            )
            compared = (evidence.get("champion") or {}).get("version")
            current = champion.version if champion and champion.version != target.version else None
            if compared != current:
                stale = GateResult(
                    "evidence_current",
                    False,
                    f"evidence compares against champion v{compared} but the champion is now "
                    f"v{current}; retrain to gather current evidence",
                    compared,
                    current,
                )
                report = replace(report, results=(*report.results, stale))
            return report
        except Exception as exc:  # fail closed on any error while judging
            return GateReport(
                name,
                target.version,
                champion.version if champion else None,
                (GateResult("evidence", False, f"{type(exc).__name__}: {exc}", errored=True),),
            )

    def _record_report(
        self, target: reg.VersionInfo, report: GateReport, status: str, audit_seq: int
    ) -> None:
        from riskops import tracking

        # Named by the audit record of the decision: unique, ordered, and cross-referenced.
        tracking.log_json(
            self.settings,
            target.run_id,
            report.to_dict(),
            f"gates/gate_report_{audit_seq:06d}.json",
        )
        self.registry.set_tags(
            target.name,
            target.version,
            {
                "validation_status": status,
                "validation_failures": "; ".join(r.gate for r in report.failures)[:4000],
            },
        )
        # The run's tag was "pending" at training; keep it in step with the version's.
        tracking.set_run_tags(self.settings, target.run_id, {"validation_status": status})

    # --------------------------------------------------------------- rollback
    def rollback(self, name: str, reason: str | None = None) -> dict[str, Any]:
        """Make the previous champion champion again."""
        self._require("rollback", "roll back a champion")
        with self.audit.model_lock(name):
            champion = self.registry.version_for_alias(name, reg.CHAMPION)
            previous = self.registry.version_for_alias(name, reg.PREVIOUS)
            if champion is None or previous is None:
                raise BadInputError(f"model: {name} has no previous champion to roll back to")
            record = self.audit.append(
                "rollback",
                name,
                previous.version,
                reason=reason,
                alias_changes=[
                    {"alias": reg.CHAMPION, "from": champion.version, "to": previous.version},
                    {"alias": reg.PREVIOUS, "from": previous.version, "to": None},
                ],
            )
            self._move_aliases(
                name,
                previous.version,
                record.seq,
                [(reg.CHAMPION, previous.version), (reg.PREVIOUS, None)],
            )
            self.registry.set_tags(name, champion.version, {"rolled_back": "true"})
        return {
            "model": name,
            "champion": previous.version,
            "rolled_back": champion.version,
            "audit_seq": record.seq,
        }

    # --------------------------------------------------------------- overview
    def models(self) -> list[dict[str, Any]]:
        """Each registered model with its champion, challenger and previous versions."""
        from riskops import tracking

        out = []
        for name in self.registry.model_names():
            row: dict[str, Any] = {"name": name}
            for alias in (reg.CHAMPION, reg.CHALLENGER, reg.PREVIOUS):
                info = self.registry.version_for_alias(name, alias)
                row[alias] = None
                if info is not None:
                    family = info.tags.get("family", "")
                    metrics = tracking.run_facts(self.settings, info.run_id)["metrics"]
                    row[alias] = {
                        "version": info.version,
                        "kind": info.tags.get("model_kind"),
                        "validation_status": info.tags.get("validation_status"),
                        "key_metrics": key_metrics(family, metrics),
                    }
                    row["family"] = family
            out.append(row)
        return out


def _documents_note(documents: dict[str, Any]) -> str:
    """A failure to log the decision's documents, told beside the refusal (never hidden)."""
    if "error" not in documents:
        return ""
    return f" (governance documents not logged: {documents['error']})"


def _check_model_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,99}", name or ""):
        raise BadInputError(
            f"name: {name!r} is not a model name (a letter, then letters, digits, '_', '.', '-')"
        )


KEY_METRICS = {
    "credit": ("auc", "ks", "ece"),
    "var": ("exceptions_99_last250", "binomial_pvalue_99_last250", "independence_mc_pvalue_99"),
    "volatility": ("qlike", "qlike_benchmark", "dm_pvalue"),
    "anomaly": ("event_recall", "naive_event_recall", "alert_rate_holdout"),
}


def key_metrics(family: str, metrics: dict[str, float]) -> dict[str, float]:
    """The few metrics that summarise a model of ``family``, rounded for display."""
    return {k: round(metrics[k], 4) for k in KEY_METRICS.get(family, ()) if k in metrics}


def _fairness_summary(fairness: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per protected attribute: the adverse impact ratio and the approval rate per group."""
    if not fairness:
        return None
    return {
        "approval_max_pd": fairness["approval_max_pd"],
        "attributes": {
            name: {
                "adverse_impact_ratio": a["adverse_impact_ratio"],
                "approval_rates": {g["group"]: g["approval_rate"] for g in a["groups"]},
            }
            for name, a in fairness["attributes"].items()
        },
    }
