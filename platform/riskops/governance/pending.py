"""Promotions waiting for approval (maker-checker), as the audit trail proves them.

A pure function of the audit records: each model's state is folded from its records
(:func:`riskops.ledger.state.fold_all`), and every open request is listed with who asked,
when, who approved so far and how many approvals it still needs. What ``riskops approvals``
prints; the inventory's ``pending`` is the same fold, per model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["pending_approvals"]


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def pending_approvals(records: Iterable[Any], model: str | None = None) -> list[dict[str, Any]]:
    """Every open promotion request (of ``model``, or of every model), oldest first.

    Each is ``{"model": {"name", "version"}, "champion", "requested_by", "requested_at",
    "request_seq", "reason", "forced", "approved_by", "required", "still_needed"}``;
    ``champion`` is the version it would replace.
    """
    from riskops.ledger.state import fold_all

    records = list(records)
    times = {int(_get(r, "seq")): str(_get(r, "ts")) for r in records}
    waiting = []
    for name, state in fold_all(records).items():
        if model is not None and name != model:
            continue
        for request in state.pending.values():
            waiting.append(
                {
                    "model": {"name": name, "version": request.version},
                    "champion": state.champion,
                    "requested_by": request.requester,
                    "requested_at": times.get(request.seq),
                    "request_seq": request.seq,
                    "reason": request.reason,
                    "forced": request.forced,
                    "approved_by": list(request.approvers),
                    "required": request.required,
                    "still_needed": max(0, request.required - len(request.approvers)),
                }
            )
    return sorted(waiting, key=lambda w: w["request_seq"])
