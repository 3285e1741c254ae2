"""The registry reconciled with the audit trail: what may be served, and ``audit verify``.

The audit trail is the source of truth. A version may be served as champion only if the
trail's newest champion record of that model (a promotion whose gates passed and that was
approved where the policy requires it, a recorded override, or a rollback) names exactly
that version. An alias moved by anything else -- the plain MLflow client, the MLflow UI --
is a *mismatch*: the service keeps serving the audited champion and ``riskops audit verify``
exits non-zero naming the model.

Every alias change is recorded *before* the alias moves. A crash between the two leaves an
intent whose alias still holds the record's ``from`` version: reported as *not applied*
(a warning; what is served is still audited), never an alias without a record.

The functions over records are pure; :func:`verify_installation` reads the trail and the
registry (through :mod:`riskops.registry`) and returns every finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

CHAMPION_ACTIONS = ("promote", "override", "rollback")
"""Actions that move the ``champion`` alias (each is recorded before the move)."""


@dataclass(frozen=True)
class ChampionClaim:
    """The champion the audit trail authorises: ``version``, moved from ``previous``."""

    model: str
    version: int | None
    previous: int | None
    seq: int
    action: str


@dataclass(frozen=True)
class AliasCheck:
    """How an alias compares with the trail: ``audited``, ``not_applied`` or ``mismatch``."""

    state: Literal["audited", "not_applied", "mismatch"]
    alias_version: int | None
    claim: ChampionClaim | None

    @property
    def servable(self) -> int | None:
        """The version that may be served: the alias when audited, else the trail's claim."""
        if self.state != "mismatch":
            return self.alias_version
        return self.claim.version if self.claim else None

    def message(self, model: str) -> str:
        claim = self.claim
        if self.state == "audited":
            return f"{model}@champion v{self.alias_version} is the audited champion"
        if self.state == "not_applied" and claim is not None:
            return (
                f"{model}: audit record {claim.seq} ({claim.action} to v{claim.version}) was "
                f"not applied; the champion alias still holds the audited v{self.alias_version}"
            )
        audited = f"v{claim.version} (record {claim.seq})" if claim else "none"
        return (
            f"{model}@champion points to "
            f"{'nothing' if self.alias_version is None else f'v{self.alias_version}'} "
            f"but the audit trail's champion is {audited}: the alias was moved outside RiskOps"
        )


def _body(record: Any) -> dict[str, Any]:
    return record["body"] if isinstance(record, dict) else record.body


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def _champion_change(record: Any) -> dict[str, Any] | None:
    for change in _body(record).get("alias_changes") or []:
        if change.get("alias") == "champion":
            return dict(change)
    return None


def audited_champion(records: Iterable[Any], model: str) -> ChampionClaim | None:
    """The newest champion change recorded for ``model`` whose application did not fail."""
    ordered = sorted(
        (r for r in records if _field(r, "model") == model), key=lambda r: _field(r, "seq")
    )
    failed = {
        _body(r).get("intent_seq") for r in ordered if _field(r, "action") == "alias_change_failed"
    }
    for record in reversed(ordered):
        if _field(record, "action") not in CHAMPION_ACTIONS or _field(record, "seq") in failed:
            continue
        change = _champion_change(record)
        if change is None:
            continue
        return ChampionClaim(
            model,
            change.get("to"),
            change.get("from"),
            _field(record, "seq"),
            _field(record, "action"),
        )
    return None


def check_alias(claim: ChampionClaim | None, alias_version: int | None) -> AliasCheck:
    """Compare the champion alias with the trail's claim."""
    if claim is None:
        state = "audited" if alias_version is None else "mismatch"
    elif alias_version == claim.version:
        state = "audited"
    elif alias_version == claim.previous:
        state = "not_applied"
    else:
        state = "mismatch"
    return AliasCheck(state, alias_version, claim)  # type: ignore[arg-type]


def registered_manifest(records: Iterable[Any], version: int) -> dict[str, str] | None:
    """The artifact hashes recorded when ``version`` was registered (newest record wins)."""
    found = None
    for record in sorted(records, key=lambda r: _field(r, "seq")):
        if _field(record, "action") == "register" and _field(record, "version") == version:
            artifacts = _body(record).get("artifacts")
            if isinstance(artifacts, dict) and artifacts:
                found = {str(k): str(v) for k, v in artifacts.items()}
    return found


# ------------------------------------------------------------------ the whole installation
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


def verify_installation(settings: Any, *, artifacts: bool = True) -> IntegrityReport:
    """The chain and its anchors, every champion alias, and the champions' artifact hashes."""
    from riskops.audit import AuditTrail
    from riskops.errors import ArtifactIntegrityError
    from riskops.registry import CHAMPION, Registry, manifest_mismatch

    trail = AuditTrail(settings)
    registry = Registry(settings)
    chain = trail.verify()
    findings: list[Finding] = []
    if not chain.ok:
        where = f"record {chain.first_broken}" if chain.first_broken else "anchor"
        findings.append(
            Finding("error", "chain", f"{where}: {chain.reason}", seq=chain.first_broken)
        )
    for model, (anchored, digest) in sorted(registry.audit_anchors().items()):
        problem = trail.check_anchor(anchored, digest, f"the registry's anchor tag of {model}")
        if problem:
            findings.append(Finding("error", "anchor", problem, model=model, seq=anchored))
    records = trail.records()
    models: dict[str, dict[str, Any]] = {}
    for name in registry.model_names():
        alias = registry.version_for_alias(name, CHAMPION)
        check = check_alias(audited_champion(records, name), alias.version if alias else None)
        models[name] = {
            "champion_alias": check.alias_version,
            "audited_champion": check.claim.version if check.claim else None,
            "state": check.state,
        }
        if check.state == "mismatch":
            findings.append(Finding("error", "alias", check.message(name), model=name))
        elif check.state == "not_applied":
            intent = check.claim.seq if check.claim else None
            findings.append(
                Finding("warning", "intent", check.message(name), model=name, seq=intent)
            )
        served = check.servable
        if artifacts and served is not None:
            models[name]["artifacts"] = "verified"
            try:
                expected = registry.audited_manifest(name, served)
                problems = manifest_mismatch(expected, registry.artifact_manifest(name, served))
            except (ArtifactIntegrityError, Exception) as exc:  # unreadable store: fail closed
                problems = [f"{type(exc).__name__}: {exc}"]
            if problems:
                models[name]["artifacts"] = "mismatch"
                findings.append(
                    Finding(
                        "error",
                        "artifacts",
                        f"{name} v{served}: artifacts differ from the audited hashes: "
                        + ", ".join(problems),
                        model=name,
                    )
                )
    return IntegrityReport(chain.to_dict(), findings, models)
