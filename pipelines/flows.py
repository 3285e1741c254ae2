"""The lifecycle flows. Flow bodies only wire tasks together."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, cast

from prefect import flow
from prefect.futures import as_completed
from prefect.states import Failed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from pipelines.artifacts import publish_gate_results, publish_run_link
from pipelines.events import emit_drift
from pipelines.tasks import (
    check_drift,
    decide_request,
    monitored_models,
    promote_challenger,
    publish_markdown,
    record_alarm,
    refit_registered,
    resolve_version,
    run_live_monitors,
    train_challenger,
    user_champions,
)
from riskops.families import family_names, get_family, registered_name
from riskops.progress import count, step


@flow(name="train", log_prints=True)
def train_flow(
    family: str,
    source: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    recent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and register one challenger; link its MLflow run as a Prefect artifact."""
    result = train_challenger(family, source, options, name, recent)
    publish_run_link(result["model"]["name"], result["model"]["version"], result["run_id"])
    return result


@flow(name="promote", log_prints=True)
def promote_flow(
    name: str, version: int | None = None, force: bool = False, reason: str | None = None
) -> dict[str, Any]:
    """Gate a version and promote it when every gate passes.

    Publishes the gate results (table) and the version's MLflow run (link) as artifacts. A
    refused promotion ends the flow run in a Failed state named ``Refused`` whose data is the
    decision, so the Prefect UI shows it red; callers read it with ``return_state=True``.
    Awaiting approval or already champion are decisions too, and complete.
    """
    target = resolve_version(name, version)
    decision = promote_challenger(name, target["version"], force, reason)
    publish_gate_results(name, target["version"], decision.get("report"))
    publish_run_link(name, target["version"], target["run_id"])
    if decision.get("outcome") == "refused":
        failed = [
            r["gate"] for r in (decision.get("report") or {}).get("results", []) if not r["passed"]
        ]
        return Failed(  # type: ignore[return-value]
            name="Refused",
            message=f"{name} v{target['version']} refused: "
            + (", ".join(failed) or decision.get("note", "")),
            data=decision,
        )
    return decision


@flow(name="approve", log_prints=True)
def approve_flow(name: str, reason: str, version: int | None = None) -> Any:
    """Approve a pending promotion request; the last approval makes it champion (gated
    again). A refusal ends the run Failed ("Refused") with the decision as its data."""
    return _decision_state(decide_request("approve", name, version, reason))


@flow(name="reject", log_prints=True)
def reject_flow(name: str, reason: str, version: int | None = None) -> Any:
    """Reject a pending promotion request; the champion does not change."""
    return _decision_state(decide_request("reject", name, version, reason))


def _decision_state(decision: dict[str, Any]) -> Any:
    if decision.get("outcome") != "refused":
        return decision
    model = decision.get("model") or {}
    return Failed(
        name="Refused",
        message=f"{model.get('name')} v{model.get('version')} refused",
        data=decision,
    )


# Prefect types ThreadPoolTaskRunner() as TaskRunner[Never]; the cast restores what it is.
_TWO_THREADS = cast("TaskRunner[Any]", ThreadPoolTaskRunner(max_workers=2))


@flow(name="retrain", log_prints=True, task_runner=_TWO_THREADS)
def retrain_flow(
    families: list[str] | None = None,
    promote: bool = True,
    models: list[str] | None = None,
    challengers: list[dict[str, Any]] | None = None,
    include_outcomes: bool = False,
    cause: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Retrain every family and refit the stored specification of every user-registered
    champion of those families (or of ``models``), two at a time; gate and promote each
    challenger as soon as it is trained (in the flow's process, one at a time).

    ``challengers`` are further trainings, each the arguments of ``train_challenger``
    (``family``, ``source``, ``options``, ``name``, ``recent``). Each starts once its
    family's retraining has been decided, so that its evidence is gathered against the
    champion of that decision (and its version comes after), and is left for a promote
    flow to gate: its decision's ``promotion`` is None.

    ``include_outcomes`` trains each model on its matured live outcomes too (credit: the
    recorded decisions with their outcomes; a family without outcomes refuses); ``cause``
    (an alarm's event) is recorded with every new version.

    Decisions come back in the order of ``families``, refits, ``challengers``. Training
    runs in two threads; :func:`retrain_in_processes` runs it in two processes."""
    chosen = list(family_names()) if families is None else list(families)
    # Asked first: on a new home this creates MLflow's database, which two task processes
    # must not both try at once.
    refits = list(user_champions(chosen) if models is None else models)
    # Longest fits first, so that the short ones fill in behind them.
    order = sorted(chosen, key=lambda f: -get_family(f).fit_cost)
    extra = {"include_outcomes": include_outcomes, "cause": cause}
    jobs = [_Job(f, f, partial(train_challenger.submit, f, **extra), False) for f in order]
    jobs += [_Job(n, n, partial(refit_registered.submit, n, **extra), False) for n in refits]
    jobs += [
        _Job(f"challenger-{i}", c["family"], partial(train_challenger.submit, **c), True)
        for i, c in enumerate(challengers or [])
    ]
    decided = _two_at_a_time(jobs, promote)
    decisions = [decided[key] for key in [*chosen, *refits]]
    decisions += [decided[f"challenger-{i}"] for i in range(len(challengers or []))]
    publish_markdown("retrain-summary", _retrain_markdown(decisions))
    return decisions


class _Job(NamedTuple):
    key: str
    family: str
    submit: Callable[[], Any]
    further: bool
    """A further challenger: started after its family's other jobs, never promoted here."""


def _two_at_a_time(jobs: list[_Job], promote: bool) -> dict[str, dict[str, Any]]:
    """Run ``jobs`` two at a time, in their order, and decide each as it ends (promote it
    when ``promote``, unless it is a further challenger).

    The task runner alone may start them in another order (a process pool's queue does),
    and the longest fit would then start last. A further challenger waits until every other
    job of its family has been decided."""
    waiting = list(jobs)
    running: dict[Any, _Job] = {}
    decided: dict[str, dict[str, Any]] = {}

    def startable(job: _Job) -> bool:
        return not job.further or all(
            j.key in decided for j in jobs if not j.further and j.family == job.family
        )

    label = "trained and gated" if promote else "trained"
    count(label, 0, len(jobs))
    while waiting or running:
        while len(running) < 2 and (ready := next(filter(startable, waiting), None)):
            waiting.remove(ready)
            running[ready.submit()] = ready
        future = next(as_completed(list(running)))
        job = running.pop(future)
        result = future.result()
        promotion = (
            promote_challenger(result["model"]["name"], result["model"]["version"])
            if promote and not job.further
            else None
        )
        decided[job.key] = {"family": job.family, "trained": result, "promotion": promotion}
        count(label, len(decided), len(jobs))
    return decided


def retrain_in_processes() -> Any:
    """:func:`retrain_flow` with its training in two processes, one fit per core.

    Fitting is Python-bound work (pandas, arch, scikit-learn): two threads share one core
    through the GIL. The task processes must reach the flow's Prefect API by its address
    (``PREFECT_API_URL``, e.g. :class:`pipelines.server.LocalPrefectServer`): without one,
    each would start a temporary server of its own.
    """
    runner = ProcessPoolTaskRunner(max_workers=2, initializer=_prepare_task_process)
    return retrain_flow.with_options(task_runner=cast("TaskRunner[Any]", runner))


def _prepare_task_process() -> None:
    """Each task process logs where the flow's process does (the CLI's log file) and ends
    without the garbage collector's passes (2 s each, which the flow waited for)."""
    from riskops.process.exiting import skip_collection_at_exit
    from riskops.process.logs import configure_from_environment

    skip_collection_at_exit()
    configure_from_environment()


@flow(name="monitor", log_prints=True)
def monitor_flow(
    families: list[str] | None = None,
    recent: dict[str, Any] | None = None,
    retrain: bool = True,
) -> dict[str, Any]:
    """Drift of each champion's inputs; a drift event per model past its policy.

    The retrain deployment's trigger (``pipelines.events``) turns each event into a retrain of
    that family, queued behind any retrain already running. ``retrain=False`` records the
    checks without emitting events.
    """
    families = list(families or family_names())
    checks = {}
    for f in families:
        # A file of recent data is for the families of its domain; the others are checked
        # on their inference logs or their own recent windows.
        mine = (
            recent if recent is not None and recent.get("domain") == get_family(f).domain else None
        )
        step(f"checking the drift of {registered_name(f)}")
        checks[f] = check_drift(registered_name(f), mine)
    drifted = [f for f, c in checks.items() if c.get("retrain")]
    publish_markdown("monitor-summary", _monitor_markdown(checks))
    events = [emit_drift(f, checks[f]) for f in drifted] if retrain else []
    return {"checks": checks, "drifted": drifted, "events": events}


@flow(name="live-monitors", log_prints=True)
def live_monitor_flow(models: list[str] | None = None, retrain: bool = True) -> dict[str, Any]:
    """The live monitors of each model (credit: the validation tests on matured outcomes;
    default: every model with an audited champion whose family has monitors), each run
    audited; a ``riskops.performance.degraded`` event per model whose monitor raised an
    alarm, recorded in the audit trail (``alarm_raised``), which the retrain deployment's
    trigger turns into a retrain (on the matured outcomes when the event asks).
    ``retrain=False`` records the runs without emitting events."""
    from pipelines.events import emit_performance

    names = monitored_models() if models is None else list(models)
    reports = {name: run_live_monitors(name) for name in names}
    events = []
    for name, runs in reports.items():
        for run in runs:
            if not (run["fired"] and retrain):
                continue
            event_id = emit_performance(run["event"])
            record_alarm(name, run["event"], event_id)
            events.append({"model": name, "monitor": run["monitor"], "event_id": event_id})
    publish_markdown("live-monitors-summary", _live_markdown(reports))
    return {"reports": reports, "events": events}


def _live_markdown(reports: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| model | monitor | alarm |", "|---|---|---|"]
    for name, runs in reports.items():
        for run in runs:
            lines.append(f"| {name} | {run['monitor']} | {run['fired']} |")
    return "\n".join(lines)


def _retrain_markdown(decisions: list[dict[str, Any]]) -> str:
    lines = ["| family | model | version | promoted |", "|---|---|---|---|"]
    for d in decisions:
        model = d["trained"]["model"]
        promoted = (d["promotion"] or {}).get("promoted")
        lines.append(f"| {d['family']} | {model['name']} | {model['version']} | {promoted} |")
    return "\n".join(lines)


def _monitor_markdown(checks: dict[str, dict[str, Any]]) -> str:
    lines = ["| family | drift share | retrain |", "|---|---|---|"]
    for family, c in checks.items():
        lines.append(f"| {family} | {c.get('share_of_drifted_columns')} | {c.get('retrain')} |")
    return "\n".join(lines)
