"""A model's governed state, folded from its audit records (pure functions, no I/O).

:func:`fold` replays a model's records in sequence order:

``register``
    A new version with its **identity** (:class:`Identity`: the training run, the SHA-256 of
    its model manifest, and the *incarnation* of the registered model, i.e. the creation time
    MLflow gave it) and the hashes of its model files and of every evidence file its run
    logged. A ``register`` record of another incarnation means the registered model was
    deleted and created again: it is a different model, and the state starts afresh, so that
    no earlier approval can attach to the new versions.
``promote`` / ``override``
    The champion changes; the one it replaces goes on the stack of previous champions.
``rollback``
    The champion returns to the top of that stack, and only to it.
``approval_requested`` / ``approve`` / ``reject`` / ``refuse``
    Maker-checker requests and their approvals (closed by a promotion too); actors are
    compared as one spelling per person (:func:`riskops.identity.roles.canonical`), also
    in records written before identities were normalised.
``shadow``
    A version scores live traffic beside the champion (``to: None`` ends it).

A record that names a version the fold does not know (never registered in this incarnation),
or a rollback that does not go to the previous champion, changes nothing and is listed in
:attr:`ModelState.anomalies`: the trail is the truth, but only of what it can prove.
``alias_change_failed`` changes nothing either: the decision stands and the alias (a
projection) is re-applied by reconciliation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from riskops.identity.roles import canonical
from riskops.manifests import manifest_digest
from riskops.names import is_model_name

CHAMPION_ACTIONS = ("promote", "override", "rollback")
"""Actions that move the champion (each recorded before the alias moves)."""
CLOSING_ACTIONS = ("promote", "override", "reject", "refuse")
"""Actions that close a pending approval request of their version."""


@dataclass(frozen=True)
class Identity:
    """What a registered version *is*, independently of its number.

    ``run_id`` is the training run, ``content`` the SHA-256 of the model's file manifest, and
    ``incarnation`` the registered model's creation time in MLflow (milliseconds), which
    changes when the model is deleted and created again; ``None`` for versions registered
    before it was recorded.
    """

    run_id: str
    content: str
    incarnation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "content": self.content, "incarnation": self.incarnation}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Identity:
        """The identity a ``register`` record states (derived from its run id and manifest
        for records written before identities were recorded)."""
        stated = body.get("identity")
        if isinstance(stated, Mapping):
            incarnation = stated.get("incarnation")
            return cls(
                str(stated.get("run_id") or ""),
                str(stated.get("content") or ""),
                None if incarnation is None else int(incarnation),
            )
        artifacts = body.get("artifacts") if isinstance(body.get("artifacts"), Mapping) else {}
        return cls(str(body.get("run_id") or ""), manifest_digest(artifacts or {}), None)


@dataclass(frozen=True)
class RegisteredVersion:
    """A version as its ``register`` record describes it."""

    version: int
    identity: Identity
    manifest: Mapping[str, str]
    """SHA-256 of every file of the logged model."""
    evidence: Mapping[str, str] | None
    """SHA-256 of every file the training run logged (evidence, lineage, plots, data);
    ``None`` for a version registered before evidence was hashed."""
    seq: int


@dataclass(frozen=True)
class PendingRequest:
    """An open promotion request waiting for approvals (maker-checker)."""

    seq: int
    version: int
    requester: str
    required: int
    forced: bool
    reason: str | None
    approvers: tuple[str, ...] = ()

    @property
    def fully_approved(self) -> bool:
        """Every approval the request needs was recorded, but not yet its promotion (the
        approval's command interrupted between the two records)."""
        return len(self.approvers) >= self.required


@dataclass(frozen=True)
class ModelState:
    """The governed state of one registered model, as the trail proves it."""

    name: str
    incarnation: int | None = None
    versions: Mapping[int, RegisteredVersion] = field(default_factory=dict)
    champion: int | None = None
    champion_seq: int | None = None
    history: tuple[int, ...] = ()
    """Earlier champions, oldest first; :attr:`previous` is the last."""
    challenger: int | None = None
    shadow: int | None = None
    pending: Mapping[int, PendingRequest] = field(default_factory=dict)
    retired_incarnations: tuple[int | None, ...] = ()
    """Incarnations that were deleted and replaced; their history does not carry over."""
    since_seq: int = 0
    """The first record of this incarnation: earlier records belong to a deleted model."""
    anomalies: tuple[str, ...] = ()
    last_seq: int = 0
    decision_seq: int | None = None
    """The newest record that changed what an alias should say (its projection may lag)."""

    @property
    def previous(self) -> int | None:
        """The champion a rollback returns to."""
        return self.history[-1] if self.history else None

    def version(self, number: int | None) -> RegisteredVersion | None:
        return None if number is None else self.versions.get(number)

    def alias(self, alias: str) -> int | None:
        """The version an alias should point to according to the trail."""
        return {
            "champion": self.champion,
            "previous": self.previous,
            "challenger": self.challenger,
            "shadow": self.shadow,
        }.get(alias)


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def _to(record: Any, alias: str) -> tuple[bool, Any]:
    """``(found, to)`` of the record's change of ``alias``."""
    body = _get(record, "body")
    changes = list(body.get("alias_changes") or [])
    single = body.get("alias_change")
    if isinstance(single, Mapping):
        changes.append(single)
    for change in changes:
        if isinstance(change, Mapping) and change.get("alias") == alias:
            return True, change.get("to")
    return False, None


def fold(records: Iterable[Any], name: str) -> ModelState:
    """The state of model ``name`` after its records (any order; sorted by sequence)."""
    ordered = sorted((r for r in records if _get(r, "model") == name), key=lambda r: _get(r, "seq"))
    state = ModelState(name)
    for record in ordered:
        state = _apply(state, record)
    return state


def fold_all(records: Iterable[Any]) -> dict[str, ModelState]:
    """Every model's state, by name; the records of pseudo-models (names no registered model
    can take, such as ``_identities``) are not models and are left out."""
    by_model: dict[str, list[Any]] = {}
    for record in records:
        name = _get(record, "model")
        if is_model_name(name):
            by_model.setdefault(name, []).append(record)
    return {name: fold(rs, name) for name, rs in sorted(by_model.items())}


def _apply(state: ModelState, record: Any) -> ModelState:
    action = _get(record, "action")
    seq = int(_get(record, "seq"))
    version = _get(record, "version")
    body = _get(record, "body") or {}
    state = replace(state, last_seq=seq)

    def anomaly(text: str) -> ModelState:
        return replace(state, anomalies=(*state.anomalies, f"record {seq} ({action}): {text}"))

    if action == "register":
        identity = Identity.of(body)
        if (
            state.versions
            and identity.incarnation is not None
            and state.incarnation is not None
            and identity.incarnation != state.incarnation
        ):
            # Deleted and created again: a new model under the same name.
            state = ModelState(
                state.name,
                retired_incarnations=(*state.retired_incarnations, state.incarnation),
                anomalies=state.anomalies,
                last_seq=seq,
                since_seq=seq,
            )
        registered = RegisteredVersion(
            int(version),
            identity,
            dict(body.get("artifacts") or {}),
            dict(body["evidence"]) if isinstance(body.get("evidence"), Mapping) else None,
            seq,
        )
        return replace(
            state,
            incarnation=identity.incarnation
            if identity.incarnation is not None
            else state.incarnation,
            versions={**state.versions, int(version): registered},
            challenger=int(version),
            decision_seq=seq,
        )
    if action in ("promote", "override"):
        found, to = _to(record, "champion")
        target = to if found else version
        if target not in state.versions:
            return anomaly(f"v{target} is not a registered version of this model")
        history = state.history
        if state.champion is not None and state.champion != target:
            history = (*history, state.champion)
        pending = {v: p for v, p in state.pending.items() if v != target}
        challenger = None if state.challenger == target else state.challenger
        shadow = None if state.shadow == target else state.shadow  # promoted: no longer a shadow
        return replace(
            state,
            champion=int(target),
            champion_seq=seq,
            history=history,
            pending=pending,
            challenger=challenger,
            shadow=shadow,
            decision_seq=seq,
        )
    if action == "rollback":
        found, to = _to(record, "champion")
        target = to if found else version
        if state.previous is None or target != state.previous:
            return anomaly(
                f"rolls back to v{target}, but the previous champion is "
                f"{'none' if state.previous is None else f'v{state.previous}'}"
            )
        return replace(
            state,
            champion=int(target),
            champion_seq=seq,
            history=state.history[:-1],
            decision_seq=seq,
        )
    if action == "approval_requested":
        if version not in state.versions:
            return anomaly(f"v{version} is not a registered version of this model")
        request = PendingRequest(
            seq,
            int(version),
            canonical(str(_get(record, "actor"))),
            int(body.get("required_approvals", 1)),
            bool(body.get("forced")),
            body.get("reason"),
        )
        return replace(state, pending={**state.pending, int(version): request})
    if action == "approve":
        open_request = state.pending.get(version)
        if open_request is None or body.get("request_seq") != open_request.seq:
            return anomaly(f"approves no open request of v{version}")
        actor = canonical(str(_get(record, "actor")))
        if not actor or actor in open_request.approvers:
            return state
        approved = replace(open_request, approvers=(*open_request.approvers, actor))
        return replace(state, pending={**state.pending, int(version): approved})
    if action in ("reject", "refuse"):
        return replace(state, pending={v: p for v, p in state.pending.items() if v != version})
    if action == "shadow":
        found, to = _to(record, "shadow")
        if not found:
            return anomaly("names no shadow change")
        if to is not None and to not in state.versions:
            return anomaly(f"v{to} is not a registered version of this model")
        return replace(state, shadow=None if to is None else int(to), decision_seq=seq)
    return state
