"""The findings register: validation issues, limitations and policy exceptions of a version,
each with a severity, an owner and a due date, until a validator closes it.

Like approvals (:mod:`riskops.ledger.state`), findings live only in the audit trail: a
``finding_added`` record opens one (its sequence number is the finding's id) and a
``finding_closed`` record closes it, so the register is as tamper-evident as the rest of
the trail and works wherever the trail does (SQLite, PostgreSQL).

An open finding whose severity the model's policy lists in ``block_on_findings`` (by
default the tier's rule, else ``[high]``) refuses the promotion of its version: it is one
more gate result, ``open_findings``, with the findings named in its reason
(:func:`findings_gate`); an admin's forced promotion can override it, recorded like any
other override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from riskops.errors import BadInputError
from riskops.gates import GateResult

if TYPE_CHECKING:
    from riskops.audit import AuditTrail
    from riskops.identity.roles import Principal
    from riskops.settings import Settings

SEVERITIES = ("high", "medium", "low")
ADDED, CLOSED = "finding_added", "finding_closed"
GATE = "open_findings"


@dataclass(frozen=True)
class Finding:
    id: int
    model: str
    version: int
    severity: str
    owner: str
    due: str
    text: str
    raised_by: str
    raised_at: str
    closed_by: str | None = None
    closed_at: str | None = None
    close_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def overdue(self, today: date | None = None) -> bool:
        today = today or datetime.now(UTC).date()
        return self.open and date.fromisoformat(self.due) < today

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "open": self.open, "overdue": self.overdue()}

    def summary(self) -> str:
        return f"#{self.id} {self.severity} (owner {self.owner}, due {self.due}): {self.text}"


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def findings_from(records: Iterable[Any]) -> list[Finding]:
    """Every finding in ``records`` (audit records or their dicts), oldest first."""
    found: dict[int, Finding] = {}
    for record in sorted(records, key=lambda r: _get(r, "seq")):
        action, body = _get(record, "action"), _get(record, "body")
        if action == ADDED:
            seq = _get(record, "seq")
            found[seq] = Finding(
                id=seq,
                model=_get(record, "model"),
                version=int(_get(record, "version")),
                severity=str(body.get("severity")),
                owner=str(body.get("owner")),
                due=str(body.get("due")),
                text=str(body.get("text")),
                raised_by=_get(record, "actor"),
                raised_at=_get(record, "ts"),
            )
        elif action == CLOSED and body.get("finding") in found:
            old = found[body["finding"]]
            if old.open:
                found[old.id] = Finding(
                    **{
                        **asdict(old),
                        "closed_by": _get(record, "actor"),
                        "closed_at": _get(record, "ts"),
                        "close_reason": body.get("reason"),
                    }
                )
    return list(found.values())


def findings_gate(
    findings: Iterable[Finding], version: int, blocking: Iterable[str]
) -> GateResult | None:
    """The ``open_findings`` gate of ``version``: None when it has no open finding."""
    open_here = [f for f in findings if f.version == version and f.open]
    if not open_here:
        return None
    blocking = tuple(blocking)
    blockers = [f for f in open_here if f.severity in blocking]
    policy = f"policy blocks on: {', '.join(blocking) or 'nothing'}"
    if blockers:
        return GateResult(
            GATE,
            False,
            f"{len(blockers)} open finding(s) block promotion ({policy}): "
            + "; ".join(f.summary() for f in blockers),
            len(blockers),
            0,
        )
    return GateResult(
        GATE,
        True,
        f"{len(open_here)} open finding(s), none blocking ({policy}): "
        + "; ".join(f.summary() for f in open_here),
        0,
        0,
    )


def _parse_due(due: str | date) -> date:
    if isinstance(due, date):
        return due
    try:
        return date.fromisoformat(str(due).strip())
    except ValueError:
        raise BadInputError(f"--due: {due!r} is not a date (YYYY-MM-DD)") from None


class FindingsRegister:
    """Add, close and list findings, as ``principal`` (else who this process authenticates)."""

    def __init__(self, settings: Settings, principal: Principal | None = None) -> None:
        from riskops.audit import AuditTrail

        self.settings = settings
        self.audit: AuditTrail = AuditTrail(settings, principal=principal)

    def all(self, model: str | None = None) -> list[Finding]:
        return findings_from(self.audit.records(model))

    def add(
        self,
        model: str,
        version: int,
        severity: str,
        owner: str,
        due: str | date,
        text: str,
    ) -> Finding:
        from riskops.identity.roles import normalise, require
        from riskops.registry import Registry

        require(self.audit.acting(), "findings", "record findings")
        if severity not in SEVERITIES:
            raise BadInputError(f"--severity: {severity!r} is not one of {list(SEVERITIES)}")
        if not (text and text.strip()):
            raise BadInputError("--text: a finding needs a description")
        who = normalise(owner, "--owner")
        self._check_owner(who)
        when = _parse_due(due)
        today = datetime.now(UTC).date()
        if when < today:
            raise BadInputError(f"--due: {when.isoformat()} is in the past (today {today})")
        Registry(self.settings).get_version(model, version)  # NotFoundError: exit 2
        record = self.audit.append(
            ADDED,
            model,
            version,
            severity=severity,
            owner=who,
            due=when.isoformat(),
            text=text.strip(),
        )
        return findings_from([record])[0]

    def close(self, finding_id: int, reason: str) -> Finding:
        from riskops.identity.roles import require

        require(self.audit.acting(), "findings", "close findings")
        if not (reason and reason.strip()):
            raise BadInputError("--reason: closing a finding needs a reason")
        found = {f.id: f for f in self.all()}
        finding = found.get(finding_id)
        if finding is None:
            raise BadInputError(f"finding: no finding #{finding_id}")
        if not finding.open:
            raise BadInputError(f"finding: #{finding_id} was closed at {finding.closed_at}")
        self.audit.append(
            CLOSED, finding.model, finding.version, finding=finding_id, reason=reason.strip()
        )
        return next(f for f in self.all(finding.model) if f.id == finding_id)

    def _check_owner(self, owner: str) -> None:
        """Where identities are defined, the owner must be one that is not revoked."""
        from riskops.identity.store import IdentityStore

        store = IdentityStore(self.settings)
        if not store.any_identity():
            return
        known = {row.name for row in store.identities() if row.revoked_at is None}
        if owner not in known:
            raise BadInputError(f"--owner: {owner!r} is not an active identity of this home")
