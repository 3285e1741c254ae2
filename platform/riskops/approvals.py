"""Maker-checker: promotion requests waiting for approval, read from the audit trail.

A policy with ``approvals: N`` turns a promotion whose gates passed (or a forced one) into an
``approval_requested`` record. ``riskops approve`` by N actors other than the requester
moves the alias (the last approval does); ``riskops reject`` closes the request. The state
lives only in the audit trail, so it is as tamper-evident as the rest of it.

Names are compared normalised (:func:`same_person`), also for records written before
identities were normalised: ``"root "`` and ``Root`` count as ``root``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CLOSING_ACTIONS = ("promote", "override", "reject", "refuse")


@dataclass(frozen=True)
class PendingRequest:
    seq: int
    version: int
    requester: str
    required: int
    forced: bool
    reason: str | None
    approvers: tuple[str, ...]


def canonical(name: str | None) -> str:
    """A recorded actor as one spelling per person (never raises: old records may hold
    anything, even an empty name, which then matches nobody)."""
    import unicodedata

    return unicodedata.normalize("NFKC", name or "").strip().casefold()


def same_person(a: str | None, b: str | None) -> bool:
    left, right = canonical(a), canonical(b)
    return bool(left) and left == right


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def pending_request(records: Iterable[Any], version: int) -> PendingRequest | None:
    """The open request for ``version``: the newest one not closed since, with its approvals."""
    ordered = sorted(
        (r for r in records if _get(r, "version") == version), key=lambda r: _get(r, "seq")
    )
    request = None
    approvers: list[str] = []
    for record in ordered:
        action = _get(record, "action")
        if action == "approval_requested":
            request, approvers = record, []
        elif request is None:
            continue
        elif action == "approve" and _get(record, "body").get("request_seq") == _get(
            request, "seq"
        ):
            who = canonical(_get(record, "actor"))
            if who and who not in approvers:
                approvers.append(who)
        elif action in CLOSING_ACTIONS:
            request, approvers = None, []
    if request is None:
        return None
    body = _get(request, "body")
    return PendingRequest(
        seq=_get(request, "seq"),
        version=version,
        requester=canonical(_get(request, "actor")),
        required=int(body.get("required_approvals", 1)),
        forced=bool(body.get("forced")),
        reason=body.get("reason"),
        approvers=tuple(approvers),
    )
