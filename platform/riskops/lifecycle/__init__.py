"""The lifecycle as small use cases over the audited ledger.

* :mod:`.training` -- train a built-in kind, register a user's estimator, retrain;
* :mod:`.evidence` -- the one evidence pipeline, filled in by each family's hooks;
* :mod:`.promotion` -- promote, approve, reject, roll back;
* :mod:`.requests` and :mod:`.results` -- the typed request of each use case (built alike by
  the CLI, the Prefect tasks and the Python API) and the one decision result.

:class:`Lifecycle` holds what the use cases share for one configuration -- the registry, the
audit trail, the verified loader, the policies (read once) -- and is the Python API's entry
point. Prefect flows (``pipelines/``) and the CLI are thin adapters over it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from riskops import registry as reg
from riskops.audit import AuditTrail
from riskops.families.base import TrainOptions
from riskops.gates import GateReport
from riskops.identity.roles import Principal
from riskops.ledger.loader import VerifiedLoader
from riskops.lifecycle.requests import DecideRequest, PromoteRequest, TrainRequest
from riskops.lifecycle.results import Outcome, PromotionResult, TrainResult
from riskops.policy import PolicyBook, load_policies
from riskops.settings import Settings

__all__ = [
    "DecideRequest",
    "Lifecycle",
    "Outcome",
    "PromoteRequest",
    "PromotionResult",
    "TrainRequest",
    "TrainResult",
]

logger = logging.getLogger("riskops.lifecycle")


class Lifecycle:
    """Train, register, promote, approve, reject, roll back and list governed models."""

    def __init__(
        self, settings: Settings | None = None, principal: Principal | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.registry = reg.Registry(self.settings)
        # Every append is also anchored as a (MAC'd) tag on the registered model; records
        # name ``principal``, else whoever this process authenticates (resolved once).
        self.trail = AuditTrail(self.settings, anchor=self._anchor, principal=principal)
        self.loader = VerifiedLoader(self.settings, self.registry, self.trail)

    @functools.cached_property
    def policies(self) -> PolicyBook:
        """The promotion policies, read once per lifecycle."""
        return load_policies(self.settings.policy_file)

    @property
    def principal(self) -> Principal:
        """Who is acting (see :mod:`riskops.identity.resolve`)."""
        return self.trail.acting()

    def actor(self) -> str:
        return self.principal.name

    def require(self, permission: str, what: str) -> None:
        """The permission check at each entry point (exit 2 / HTTP 403 naming it)."""
        from riskops.identity.roles import require

        require(self.principal, permission, what)

    # ------------------------------------------------------------------ training
    def train(
        self,
        family: str,
        source: Any = None,
        options: TrainOptions | None = None,
        name: str | None = None,
        recent: Any = None,
        run_name: str | None = None,
    ) -> TrainResult:
        """Train the built-in kind ``options.model`` and register it as a challenger."""
        return self.run(
            TrainRequest(family, source, options or TrainOptions(), name, recent, run_name=run_name)
        )

    def register(
        self,
        estimator: Any,
        family: str,
        source: Any = None,
        options: TrainOptions | None = None,
        name: str | None = None,
        recent: Any = None,
        run_name: str | None = None,
    ) -> TrainResult:
        """Register a user's unfitted estimator as a challenger (the built-ins' path)."""
        return self.run(
            TrainRequest(
                family, source, options or TrainOptions(), name, recent, estimator, run_name
            )
        )

    def run(self, request: TrainRequest) -> TrainResult:
        """A training request as built by the CLI, a flow or :func:`riskops.register`: the
        built-in kind ``request.options.model`` when it names no estimator."""
        from riskops.lifecycle import training

        if request.estimator is None:
            return training.train(self, request)
        return training.register(self, request)

    def retrain(
        self,
        name: str,
        source: Any = None,
        *,
        include_outcomes: bool = False,
        cause: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Refit a registered model's stored specification on fresh data (and its matured
        live outcomes, with ``include_outcomes``)."""
        from riskops.lifecycle import training

        return training.retrain(self, name, source, include_outcomes=include_outcomes, cause=cause)

    # ----------------------------------------------------------------- decisions
    def promote(
        self,
        name: str,
        version: int | None = None,
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> PromotionResult:
        """Gate a version and make it champion; a refusal is an outcome, not an exception."""
        from riskops.lifecycle import promotion

        return promotion.promote(self, PromoteRequest(name, version, force, reason))

    def approve(self, name: str, version: int | None, reason: str) -> PromotionResult:
        from riskops.lifecycle import promotion

        return promotion.approve(self, DecideRequest(name, version, reason))

    def reject(self, name: str, version: int | None, reason: str) -> PromotionResult:
        from riskops.lifecycle import promotion

        return promotion.reject(self, DecideRequest(name, version, reason))

    def rollback(
        self, name: str, reason: str | None = None, *, from_version: int | None = None
    ) -> PromotionResult:
        from riskops.lifecycle import promotion

        return promotion.rollback(self, DecideRequest(name, from_version, reason))

    def shadow(
        self,
        name: str,
        version: int | None = None,
        *,
        stop: bool = False,
        reason: str | None = None,
    ) -> PromotionResult:
        """Put a version in shadow beside the champion, or end the shadow (``stop``)."""
        from riskops.lifecycle import promotion

        return promotion.shadow(self, DecideRequest(name, version, reason), stop=stop)

    def reconcile(self, name: str) -> dict[str, Any]:
        """Repair what an interrupted command left, recorded first: the registry's aliases
        made to say what the trail says (``alias_changes``), the registry's versions without
        an audited registration recorded and tagged as such (``unaudited_versions``; never
        served nor promotable), the anchor of an append killed before its COMMIT re-anchored
        at the table's head (``anchor``)."""
        from riskops.ledger.verify import unaudited_versions
        from riskops.names import model_name

        name = model_name(name)
        self.require("force", "re-apply a model's aliases")
        self.trail.check_writable(f"reconciling {name}")
        anchor = self.trail.settle_anchor()
        with self.trail.model_lock(name):
            changes = self._alias_diff(name)
            state = self.loader.state(name)
            incarnation = self.registry.incarnation(name)
            unaudited: list[int] = []
            if incarnation is not None and state.incarnation in (None, incarnation):
                in_registry = [v.version for v in self.registry.versions(name)]
                unaudited = unaudited_versions(
                    name, state, self.trail.records(name), in_registry, incarnation
                )
            if changes or unaudited:
                body: dict[str, Any] = {"alias_changes": changes}
                if unaudited:
                    body["unaudited"] = {"incarnation": incarnation, "versions": unaudited}
                record = self.trail.append("reconcile", name, None, **body)
                for version in unaudited:
                    self.registry.set_tags(
                        name, version, {reg.UNAUDITED_TAG: f"audit record {record.seq}"}
                    )
                if changes:
                    self.project(name, record.seq)
        return {"alias_changes": changes, "unaudited_versions": unaudited, "anchor": anchor}

    # ------------------------------------------------------------------ overview
    def models(self) -> list[dict[str, Any]]:
        """Each model with its champion, challenger, previous and shadow, from the trail."""
        from riskops import tracking
        from riskops.families import family_of_registered, get_family
        from riskops.ledger.state import fold_all

        states = fold_all(self.trail.records())
        out = []
        for name in sorted(set(states) | set(self.registry.model_names())):
            state = states.get(name)
            row: dict[str, Any] = {"name": name, "family": None}
            for alias in ("champion", "challenger", "previous", "shadow"):
                version = state.alias(alias) if state else None
                row[alias] = None
                if version is None:
                    continue
                try:
                    _, info = self.loader.registered(name, version, state)
                except Exception as exc:  # deleted, re-created: say so, do not guess
                    row[alias] = {"version": version, "error": str(exc)}
                    continue
                family = family_of_registered(name, info.tags.get("family"))
                metrics = tracking.run_facts(self.settings, info.run_id)["metrics"]
                keys = get_family(family).key_metrics
                row["family"] = family
                row[alias] = {
                    "version": version,
                    "kind": info.tags.get("model_kind"),
                    "validation_status": info.tags.get("validation_status"),
                    "key_metrics": {k: metrics[k] for k in keys if k in metrics},
                }
            row["awaiting_approval"] = (
                [
                    {
                        "version": p.version,
                        "requested_by": p.requester,
                        "approvals": len(p.approvers),
                        "required": p.required,
                    }
                    for p in state.pending.values()
                ]
                if state
                else []
            )
            out.append(row)
        return out

    # ------------------------------------------------------------------ internals
    def register_version(self, run_id: str, name: str, tags: dict[str, str], **record: Any) -> int:
        """Register a run's logged model and append its audited ``register`` record (identity,
        model and evidence manifests), then project the ``challenger`` alias."""
        from riskops import tracking
        from riskops.ledger.state import Identity
        from riskops.manifests import manifest_digest

        info, manifest = self.registry.register(run_id, name, tags)
        evidence = tracking.evidence_manifest(self.settings, run_id)
        identity = Identity(run_id, manifest_digest(manifest), self.registry.incarnation(name))
        with self.trail.model_lock(name):
            entry = self.trail.append(
                "register",
                name,
                info.version,
                run_id=run_id,
                identity=identity.to_dict(),
                artifacts=manifest,
                evidence=evidence,
                alias_change={"alias": reg.CHALLENGER, "to": info.version},
                **record,
            )
            self.project(name, entry.seq)
        return info.version

    def project(self, name: str, intent_seq: int) -> None:
        """Write the trail's state to the registry's aliases (a projection). A failure is
        recorded against the decision (which stands) and reported by ``audit verify``."""
        state = self.loader.state(name)
        try:
            for alias in ("champion", "previous", "challenger", "shadow"):
                want = state.alias(alias)
                have = self.registry.version_for_alias(name, alias)
                if want == (have.version if have else None):
                    continue
                if want is None:
                    self.registry.delete_alias(name, alias)
                else:
                    self.registry.set_alias(name, alias, want)
        except Exception as exc:  # the registry is a view: the decision is already recorded
            logger.warning("%s: aliases not updated after record %s: %s", name, intent_seq, exc)
            self.trail.append(
                "alias_change_failed", name, None, intent_seq=intent_seq, error=str(exc)
            )

    def _alias_diff(self, name: str) -> list[dict[str, Any]]:
        state = self.loader.state(name)
        changes = []
        for alias in ("champion", "previous", "challenger", "shadow"):
            want = state.alias(alias)
            have = self.registry.version_for_alias(name, alias)
            if want != (have.version if have else None):
                changes.append({"alias": alias, "from": have.version if have else None, "to": want})
        return changes

    def record_report(
        self, name: str, version: int, report: GateReport, status: str, audit_seq: int
    ) -> None:
        from riskops import tracking

        _, info = self.loader.registered(name, version)
        # Named by the audit record of the decision: unique, ordered, and cross-referenced.
        tracking.log_json(
            self.settings, info.run_id, report.to_dict(), f"gates/gate_report_{audit_seq:06d}.json"
        )
        self.registry.set_tags(
            name,
            version,
            {
                "validation_status": status,
                "validation_failures": "; ".join(r.gate for r in report.failures)[:4000],
            },
        )
        # The run's tag was "pending" at training; keep it in step with the version's.
        tracking.set_run_tags(self.settings, info.run_id, {"validation_status": status})

    def required_approvals(self, name: str, version: int, state: Any) -> int:
        from riskops.families import family_of_registered

        _, info = self.loader.registered(name, version, state)
        family = family_of_registered(name, info.tags.get("family"))
        return self.policies.approvals_for(self.policies.for_model(name, family))

    def document_decision(self, name: str, version: int, audit_seq: int) -> dict[str, Any]:
        """The card and validation report as they stand after a decision, logged under
        ``governance/promotion-<seq>/``. Never raises (a failure is audited and returned)."""
        from riskops.governance.publish import PROMOTION, promotion_dir, publish

        return publish(
            self.settings,
            name,
            version,
            occasion=PROMOTION,
            artifact_dir=promotion_dir(audit_seq),
            audit=self.trail,
        ).to_dict()

    def _anchor(self, record: Any, value: str) -> None:
        self.registry.tag_model(record.model, reg.AUDIT_HEAD_TAG, value)
