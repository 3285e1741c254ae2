"""Small typed tasks over the library. Tasks that touch the store or the network retry."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from riskops.errors import RiskOpsError


def _retry_unless_our_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O failures, never a refusal or bad input: those would fail the same way."""
    try:
        state.result()
    except RiskOpsError:
        return False
    except Exception:
        return True
    return False


@task(
    retries=2,
    retry_delay_seconds=3,
    retry_condition_fn=_retry_unless_our_error,
    cache_policy=NO_CACHE,
    task_run_name="train-{family}",
)
def train_challenger(
    family: str,
    source: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    recent: dict[str, Any] | None = None,
    include_outcomes: bool = False,
    cause: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load → validate → fit → evaluate → log → register the challenger.

    ``source`` and ``recent`` are data sources as plain data (a flow's parameters); the
    request is built as the CLI and the Python API build theirs. ``include_outcomes`` adds
    the model's matured live outcomes to the training data; ``cause`` is recorded with the
    version."""
    from riskops.data import DataSource
    from riskops.lifecycle import Lifecycle, TrainRequest
    from riskops.lifecycle.requests import train_options

    request = TrainRequest(
        family,
        DataSource(**source) if source else None,
        train_options(options),
        name=name,
        recent=DataSource(**recent) if recent else None,
        include_outcomes=include_outcomes,
        cause=cause,
    )
    return Lifecycle().run(request).to_dict()


@task(
    retries=2,
    retry_delay_seconds=3,
    retry_condition_fn=_retry_unless_our_error,
    cache_policy=NO_CACHE,
    task_run_name="refit-{name}",
)
def refit_registered(
    name: str, include_outcomes: bool = False, cause: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Refit a registered model's stored specification (a user's own model included)."""
    from riskops.lifecycle import Lifecycle

    return Lifecycle().retrain(name, include_outcomes=include_outcomes, cause=cause).to_dict()


@task(cache_policy=NO_CACHE)
def user_champions(families: list[str] | None = None) -> list[str]:
    """Registered models whose audited champion users brought (``origin`` tag ``user``), of
    ``families`` (default: all)."""
    from riskops.ledger.loader import VerifiedLoader
    from riskops.ledger.state import fold_all
    from riskops.settings import Settings

    loader = VerifiedLoader(Settings())
    names = []
    for name, state in fold_all(loader.trail.records()).items():
        if state.champion is None:
            continue
        try:
            _, info = loader.registered(name, state.champion, state)
        except Exception:  # deleted or re-created: nothing of it to refit
            continue
        family = info.tags.get("family")
        if families is not None and family not in families:
            continue
        if info.tags.get("origin") == "user":
            names.append(name)
    return sorted(names)


@task(
    retries=2,
    retry_delay_seconds=3,
    retry_condition_fn=_retry_unless_our_error,
    cache_policy=NO_CACHE,
    task_run_name="promote-{name}",
)
def promote_challenger(
    name: str, version: int | None = None, force: bool = False, reason: str | None = None
) -> dict[str, Any]:
    """Gates → audit → aliases. A refusal is a result (``outcome: refused``), not a task
    failure."""
    from riskops.lifecycle import Lifecycle

    return Lifecycle().promote(name, version, force=force, reason=reason).to_dict()


@task(cache_policy=NO_CACHE, task_run_name="{decision}-{name}")
def decide_request(decision: str, name: str, version: int | None, reason: str) -> dict[str, Any]:
    """Approve or reject a pending promotion request (never retried: a decision is made
    once, and a refusal of it would be refused again)."""
    from riskops.lifecycle import Lifecycle

    life = Lifecycle()
    decide = life.approve if decision == "approve" else life.reject
    return decide(name, version, reason).to_dict()


@task(retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE, task_run_name="resolve-{name}")
def resolve_version(name: str, version: int | None = None) -> dict[str, Any]:
    """The version a promotion gates (the trail's challenger by default) and its MLflow run."""
    from riskops.ledger.loader import VerifiedLoader
    from riskops.settings import Settings

    loader = VerifiedLoader(Settings())
    state = loader.state(name)
    chosen = version if version is not None else state.challenger or max(state.versions, default=0)
    _, info = loader.registered(name, chosen, state)
    return {"version": info.version, "run_id": info.run_id}


@task(retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE, task_run_name="drift-{name}")
def check_drift(name: str, recent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Champion's training reference against recent data and the service's inference log."""
    from riskops.data import DataSource
    from riskops.monitoring import Monitor

    return Monitor().check(name, DataSource(**recent) if recent else None).to_dict()


@task(cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str) -> None:
    """A Prefect artifact, so the UI shows what the flow decided."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=key, markdown=markdown)


@task(cache_policy=NO_CACHE)
def monitored_models() -> list[str]:
    """Models with an audited champion whose family has live monitors."""
    from riskops.families import family_of_registered, get_family
    from riskops.ledger.loader import VerifiedLoader
    from riskops.ledger.state import fold_all
    from riskops.settings import Settings

    loader = VerifiedLoader(Settings())
    names = []
    for name, state in fold_all(loader.trail.records()).items():
        if state.champion is None:
            continue
        try:
            _, info = loader.registered(name, state.champion, state)
            family = family_of_registered(name, info.tags.get("family"))
        except Exception:  # deleted or re-created: nothing of it to monitor
            continue
        if get_family(family).monitors():
            names.append(name)
    return sorted(names)


@task(cache_policy=NO_CACHE, task_run_name="live-monitors-{name}")
def run_live_monitors(name: str) -> list[dict[str, Any]]:
    """Every live monitor of ``name``'s family (credit: the validation tests on matured
    outcomes), each audited; per monitor its report and, when an alarm fired, the payload
    of the ``riskops.performance.degraded`` event."""
    from riskops.families import family_of_registered, get_family
    from riskops.lifecycle import Lifecycle

    life = Lifecycle()
    state = life.loader.state(name)
    version = state.champion or max(state.versions, default=None)
    tags = life.loader.registered(name, version, state)[1].tags if version else {}
    family = family_of_registered(name, tags.get("family"))
    out = []
    for monitor in get_family(family).monitors():
        report = monitor.run(life, name)
        out.append(
            {
                "monitor": monitor.name,
                "fired": report.fired,
                "report": report.to_dict(),
                "event": report.event_payload(family) if report.fired else None,
            }
        )
    return out


@task(cache_policy=NO_CACHE, task_run_name="alarm-{name}")
def record_alarm(name: str, payload: dict[str, Any], event_id: str | None) -> int:
    """The audit record of an alarm's event: which run raised it, which event was sent."""
    from riskops.lifecycle import Lifecycle

    record = Lifecycle().trail.append(
        "alarm_raised",
        name,
        None,
        event="riskops.performance.degraded",
        event_id=event_id,
        monitor=payload.get("monitor"),
        raised_by_seq=payload.get("audit_seq"),
        alarms=payload.get("alarms", []),
        include_outcomes=payload.get("include_outcomes", False),
    )
    return record.seq
