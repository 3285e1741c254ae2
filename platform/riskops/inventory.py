"""The model inventory: every registered model with its tier, owner, versions in each role,
last validation, revalidation due date, open findings and pending approvals.

What ``riskops models`` prints and the console's inventory page shows. The pure part,
:func:`governance_of`, works on audit records and a policy; :func:`inventory` gathers them.

*Last validation* is the newest record of the champion version that judged it on current
evidence and kept or made it champion: a passed ``gate_decision``, an ``approve``, a
``promote`` or an ``override``. *Revalidation due* is that date plus the tier's
revalidation period; an untiered model has none (shown as such, never as "not due").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riskops.policy import Policy, PolicyBook
    from riskops.settings import Settings

VALIDATING_ACTIONS = ("promote", "override", "approve")
SHADOW = "shadow"


@dataclass(frozen=True)
class Governance:
    tier: str | None
    owner: str | None
    required_approvals: int
    revalidation_days: int | None
    last_validation: str | None
    revalidation_due: str | None
    revalidation_overdue: bool
    open_findings: int
    open_blocking_findings: int
    pending: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, dict) else getattr(record, name)


def last_validation(records: Iterable[Any], version: int | None) -> str | None:
    """UTC time of the newest validating record of ``version`` (see the module docstring)."""
    if version is None:
        return None
    newest = None
    for record in records:
        if _get(record, "version") != version:
            continue
        action = _get(record, "action")
        passed = action == "gate_decision" and _get(record, "body").get("passed")
        if passed or action in VALIDATING_ACTIONS:
            newest = _get(record, "ts")
    return newest


def governance_of(
    records: list[Any],
    policy: Policy | None,
    book: PolicyBook | None,
    champion: int | None,
    now: datetime | None = None,
) -> Governance:
    """Tier, owner, validation dates, findings and pending approvals of one model."""
    from riskops.findings import findings_from
    from riskops.ledger.state import fold

    now = now or datetime.now(UTC)
    tier = policy.tier if policy else None
    days = book.revalidation_days(policy) if book and policy else None
    last = last_validation(records, champion)
    due = overdue = None
    if last is not None and days is not None:
        when = datetime.fromisoformat(last) + timedelta(days=days)
        due, overdue = when.date().isoformat(), when < now
    blocking = book.blocking_severities(policy) if book and policy else ("high",)
    findings = [f for f in findings_from(records) if f.open]
    names = {_get(r, "model") for r in records}
    state = fold(records, next(iter(names))) if len(names) == 1 else None
    pending = [
        {
            "version": request.version,
            "requested_by": request.requester,
            "required": request.required,
            "approved_by": list(request.approvers),
            "request_seq": request.seq,
            "forced": request.forced,
        }
        for request in sorted((state.pending.values() if state else ()), key=lambda r: r.version)
    ]
    return Governance(
        tier=tier,
        owner=policy.owner if policy else None,
        required_approvals=book.approvals_for(policy) if book and policy else 0,
        revalidation_days=days,
        last_validation=last,
        revalidation_due=due,
        revalidation_overdue=bool(overdue),
        open_findings=len(findings),
        open_blocking_findings=sum(f.severity in blocking for f in findings),
        pending=pending,
    )


def shadow_of(settings: Settings, name: str, version: int) -> dict[str, Any]:
    """The version in shadow with what the serving workers report of it (requests handed,
    scored, dropped, failed: :func:`riskops.serving.shadow.shadow_counters`)."""
    from riskops.serving.shadow import shadow_counters

    return {"version": version, **shadow_counters(settings, name, version)}


def inventory(settings: Settings) -> list[dict[str, Any]]:
    """Every registered model: :meth:`Lifecycle.models` rows with their governance, the
    ``shadow`` version when one exists, and what watches the champion live (:func:`live_of`;
    ``None`` when nothing does)."""
    from riskops.audit import AuditTrail
    from riskops.families import family_of_registered
    from riskops.lifecycle import Lifecycle
    from riskops.policy import load_policies

    life = Lifecycle(settings)
    book = load_policies(settings.policy_file)
    records = AuditTrail(settings).records()
    by_model: dict[str, list[Any]] = {}
    for record in records:
        by_model.setdefault(record.model, []).append(record)
    rows = []
    for row in life.models():
        name = row["name"]
        family = row.get("family") or None
        try:
            policy = book.for_model(name, family_of_registered(name, family))
        except Exception:  # an unknown family still lists, without a policy
            policy = None
        shadow = (row.get(SHADOW) or {}).get("version")
        row[SHADOW] = None if shadow is None else shadow_of(settings, name, shadow)
        champion = (row.get("champion") or {}).get("version")
        row["governance"] = governance_of(by_model.get(name, []), policy, book, champion).to_dict()
        row["live"] = (
            None
            if champion is None
            else live_of(settings, name, int(champion), family, by_model.get(name, []))
        )
        rows.append(row)
    return rows


def live_of(
    settings: Settings, name: str, version: int, family: str | None, records: list[Any]
) -> dict[str, Any] | None:
    """What watches a champion version after its promotion: its live streams (series
    followed, days scored, alarms audited) and its family's monitors (credit: decisions and
    the tests on matured outcomes), with one ``status`` line; ``None`` when nothing does."""
    import sqlalchemy as sa

    from riskops.evidence.store import EvidenceStore

    if settings.evidence_url is None and not (settings.home / "evidence.db").exists():
        return None  # no live evidence was ever written (and reading must not create it)
    try:
        found, lines = _watchers(EvidenceStore(settings), name, version, family, records)
    except sa.exc.OperationalError as exc:  # e.g. a read-only home without the tables yet
        return {"status": f"live evidence unreadable: {exc.orig}"}
    if not found:
        return None
    return {"status": "; ".join(lines), **found}


def _watchers(
    store: Any, name: str, version: int, family: str | None, records: list[Any]
) -> tuple[dict[str, Any], list[str]]:
    from riskops.families import family_of_registered, get_family
    from riskops.live import kinds
    from riskops.live.record import live_streams

    found: dict[str, Any] = {}
    lines = []
    streams = live_streams(store, name, version)
    if streams:
        days = max(store.head(kinds.SCORES, s)[0] for s in streams)
        alarms = sum(1 for r in records if r.action == "alarm" and r.version == version)
        found["streams"] = {"series": len(streams), "days": days, "alarms": alarms}
        lines.append(
            f"{len(streams)} series, {days} days, "
            + (f"{alarms} alarm{'s' if alarms != 1 else ''}" if alarms else "no alarm")
        )
    try:
        monitors = get_family(family_of_registered(name, family)).monitors()
    except Exception:  # an uninstalled family: its streams still show
        monitors = ()
    for monitor in monitors:
        status = monitor.status(store, name, version, records)
        if status is not None:
            found[monitor.name] = status
            lines.append(status["status"])
    return found, lines
