"""Loading what the ledger vouches for: a version's model and the evidence its gates read.

:class:`VerifiedLoader` is the one way RiskOps loads a registered model or reads a version's
evidence. Before anything is deserialised or judged it checks, against the audit trail's fold
(:mod:`riskops.ledger.state`):

* **identity** -- the registry's version is the one the trail registered: same training run,
  same registered-model incarnation (a model deleted and created again restarts MLflow's
  numbering, and its new ``v1`` is not the old one);
* **model files** -- every file matches the SHA-256 manifest of the ``register`` record;
* **evidence** -- a run artifact the gates or reports read (``gate_evidence.json``, the
  split fingerprints, the specification...) matches the evidence manifest recorded at
  registration, so that an edited ``gate_evidence.json`` cannot promote a model.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from riskops.errors import ArtifactIntegrityError, NotFoundError
from riskops.ledger.state import ModelState, RegisteredVersion, fold

if TYPE_CHECKING:
    from riskops.audit import AuditTrail
    from riskops.registry import LoadedModel, Registry, VersionInfo
    from riskops.settings import Settings


class EvidenceIntegrityError(ArtifactIntegrityError):
    """A version's evidence file differs from the hash recorded at registration."""


class VerifiedLoader:
    """Models and evidence, each checked against the audited ledger before use."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry | None = None,
        trail: AuditTrail | None = None,
    ) -> None:
        from riskops.audit import AuditTrail
        from riskops.registry import Registry

        self.settings = settings
        self.registry = registry or Registry(settings)
        self.trail = trail or AuditTrail(settings)

    def state(self, name: str) -> ModelState:
        """The model's governed state, folded from its audit records now."""
        return fold(self.trail.records(name), name)

    # ------------------------------------------------------------------ identity
    def registered(
        self, name: str, version: int, state: ModelState | None = None
    ) -> tuple[RegisteredVersion, VersionInfo]:
        """The version as the trail registered it and as the registry holds it now, after
        checking that they are the same version (raises otherwise)."""
        state = state or self.state(name)
        record = state.version(version)
        if record is None:
            raise NotFoundError(
                f"model: {name} v{version} was not registered through RiskOps (no audited "
                "register record in this incarnation of the model); refusing to use it"
            )
        info = self.registry.get_version(name, version)
        problem = self.identity_problem(state, record, info)
        if problem:
            raise ArtifactIntegrityError(problem)
        return record, info

    def identity_problem(
        self, state: ModelState, record: RegisteredVersion, info: VersionInfo
    ) -> str | None:
        """Why the registry's version is not the one the trail registered, or None."""
        identity = record.identity
        if info.run_id != identity.run_id:
            return (
                f"model: {state.name} v{record.version} in the registry comes from run "
                f"{info.run_id or '?'}, but the audited v{record.version} from run "
                f"{identity.run_id}: the registered model was deleted and created again, or "
                "the version replaced"
            )
        if identity.incarnation is not None:
            current = self.registry.incarnation(state.name)
            if current != identity.incarnation:
                return (
                    f"model: {state.name} was deleted and created again after v{record.version} "
                    "was registered: its history does not carry over to the new model"
                )
        return None

    # -------------------------------------------------------------------- models
    def load(self, name: str, version: int, state: ModelState | None = None) -> LoadedModel:
        """The version's model, identity and files verified, then deserialised."""
        record, _ = self.registered(name, version, state)
        if not record.manifest:
            raise ArtifactIntegrityError(
                f"model: {name} v{version} has no audited artifact hashes; refusing to load it"
            )
        return self.registry.load_version(name, version, dict(record.manifest))

    def estimator(self, name: str, version: int) -> Any:
        """The native estimator of a version (see :meth:`load`)."""
        return self.load(name, version).estimator

    def champion(self, name: str) -> LoadedModel | None:
        """The model the trail says is champion, verified; None when it names none."""
        state = self.state(name)
        return None if state.champion is None else self.load(name, state.champion, state)

    # ------------------------------------------------------------------ evidence
    def read_evidence(
        self, name: str, version: int, artifact: str, state: ModelState | None = None
    ) -> bytes | None:
        """A run artifact of the version, verified against its evidence manifest.

        ``None`` when the run logged no such file. Raises :class:`EvidenceIntegrityError`
        when the file differs from its recorded hash, or was added after registration.
        Versions registered before evidence manifests existed have none: their files are
        read as stored (the gate report says so, see ``evidence_integrity``).
        """
        from riskops import tracking

        record, info = self.registered(name, version, state)
        manifest = record.evidence
        stored = artifact in tracking.list_run_artifacts(self.settings, info.run_id)
        if manifest is not None and artifact not in manifest:
            if stored:
                raise EvidenceIntegrityError(
                    f"evidence: {artifact} of {name} v{version} was added after registration"
                )
            return None
        if not stored:
            if manifest is not None:
                raise EvidenceIntegrityError(
                    f"evidence: {artifact} of {name} v{version} was deleted after registration"
                )
            return None
        data = tracking.read_artifact(self.settings, info.run_id, artifact)
        if manifest is not None and hashlib.sha256(data).hexdigest() != manifest[artifact]:
            raise EvidenceIntegrityError(
                f"evidence: {artifact} of {name} v{version} differs from the hash recorded "
                f"when it was registered (audit record {record.seq}): it was edited"
            )
        return data

    def read_json(
        self, name: str, version: int, artifact: str, state: ModelState | None = None
    ) -> Any:
        """A JSON evidence file of the version, verified (None when absent)."""
        data = self.read_evidence(name, version, artifact, state)
        return None if data is None else json.loads(data)

    def evidence_problems(self, name: str, version: int) -> list[str]:
        """Every evidence file of the version that differs from its recorded hash."""
        from riskops import tracking
        from riskops.manifests import manifest_mismatch

        record, info = self.registered(name, version)
        if record.evidence is None:
            return []
        stored = tracking.evidence_manifest(self.settings, info.run_id)
        return manifest_mismatch(dict(record.evidence), stored)
