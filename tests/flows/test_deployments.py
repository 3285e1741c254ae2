"""Deployments run through a real Prefect API (a `prefect server start`), not a mock."""

from __future__ import annotations

import asyncio
import copy
import uuid
from pathlib import Path
from typing import Any

import pytest


def test_deployments_carry_nightly_and_hourly_schedules() -> None:
    from pipelines.deployments import deployments

    by_name = {d.name: d for d in deployments()}
    assert set(by_name) == {"nightly-retrain", "hourly-monitor", "daily-live-monitors"}
    assert by_name["nightly-retrain"].schedules[0].schedule.cron == "0 2 * * *"
    assert by_name["hourly-monitor"].schedules[0].schedule.interval.total_seconds() == 3600
    daily = by_name["daily-live-monitors"].schedules[0].schedule.interval.total_seconds()
    assert daily == 86400


def test_prefect_yaml_matches_the_python_deployments() -> None:
    import yaml

    from pipelines.deployments import (
        DAILY_LIVE_MONITORS_SECONDS,
        HOURLY_MONITOR_SECONDS,
        NIGHTLY_RETRAIN_CRON,
    )

    spec = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert by_name["nightly-retrain"]["schedules"][0]["cron"] == NIGHTLY_RETRAIN_CRON
    assert by_name["hourly-monitor"]["schedules"][0]["interval"] == HOURLY_MONITOR_SECONDS
    live = by_name["daily-live-monitors"]["schedules"][0]["interval"]
    assert live == DAILY_LIVE_MONITORS_SECONDS
    for d in by_name.values():
        module, func = d["entrypoint"].split(":")
        assert Path(__file__).parents[2].joinpath(module).exists()
        assert func in Path(__file__).parents[2].joinpath(module).read_text()


def test_monitor_deployment_runs_through_the_prefect_api(
    prefect_api: str, riskops_home: Path
) -> None:
    # Given the hourly-monitor deployment registered with a real Prefect API
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.runner import Runner

    from pipelines.deployments import deployments

    monitor = next(d for d in deployments() if d.name == "hourly-monitor")

    async def scenario() -> str:
        deployment_id = await monitor.apply()
        # When a run of it is created through the API and executed by a runner
        flow_run = await run_deployment(deployment_id, timeout=0)
        runner = Runner(name="test-runner")
        await runner.execute_flow_run(flow_run.id)
        async with get_client() as client:
            finished = await client.read_flow_run(flow_run.id)
        return finished.state.type.value

    # Then it completes (no champions yet: it reports and retrains nothing)
    assert asyncio.run(scenario()) == "COMPLETED"


def test_a_drift_event_triggers_the_retrain_deployment_which_runs_one_at_a_time() -> None:
    import datetime

    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from pipelines.deployments import RETRAIN_CONCURRENCY, deployments
    from pipelines.events import DRIFT_EVENT, drift_event

    retrain = next(d for d in deployments() if d.name == "nightly-retrain")
    drift_trigger = next(t for t in retrain.triggers if t.name == "retrain-on-drift")
    # Given the event the monitor emits when credit_pd's drift crosses its policy
    check = {
        "model": "credit_pd",
        "version": 3,
        "share_of_drifted_columns": 0.6,
        "threshold": 0.3,
        "drifted_columns": ["Age", "Income"],
    }
    spec = drift_event("credit", check)
    event = ReceivedEvent(
        occurred=datetime.datetime.now(datetime.UTC),
        event=spec["event"],
        resource=spec["resource"],
        payload=spec["payload"],
        id=uuid.uuid4(),
    )
    # Then the retrain deployment's trigger covers it (Prefect's own matching) and passes the
    # drifted family as the flow's `families`, as one Jinja expression (its type is kept)
    trigger = drift_trigger
    server_side = EventTrigger.model_validate(
        trigger.model_dump(
            exclude={"name", "description", "enabled", "parameters"}
            | {"job_variables", "schedule_after"}
        )
    )
    assert server_side.covers(event)
    assert trigger.expect == {DRIFT_EVENT}
    assert trigger.parameters == {"families": "{{ event.payload.families }}"}
    assert event.payload["families"] == ["credit"]
    # and an unrelated event of the same model does not start it
    other = event.model_copy(update={"event": "riskops.model.promoted"})
    assert not server_side.covers(other)
    # and retrains run one at a time, queued (the nightly and a drift-triggered one never overlap)
    assert retrain.concurrency_limit == RETRAIN_CONCURRENCY == 1
    assert retrain.concurrency_options.collision_strategy.value == "ENQUEUE"


def test_prefect_yaml_declares_the_same_triggers_and_limit() -> None:
    import yaml

    from pipelines.events import (
        DRIFT_EVENT,
        PERFORMANCE_EVENT,
        retrain_on_drift_trigger,
        retrain_on_performance_trigger,
    )

    spec = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())
    retrain = next(d for d in spec["deployments"] if d["name"] == "nightly-retrain")
    assert retrain["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    declared = {t["name"]: t for t in retrain["triggers"]}
    assert set(declared) == {"retrain-on-drift", "retrain-on-degraded-performance"}
    for name, python, event in (
        ("retrain-on-drift", retrain_on_drift_trigger(), DRIFT_EVENT),
        ("retrain-on-degraded-performance", retrain_on_performance_trigger(), PERFORMANCE_EVENT),
    ):
        assert python.name == name
        assert declared[name]["expect"] == [event]
        assert declared[name]["match"] == python.match.model_dump()
        assert declared[name]["parameters"] == python.parameters


def _market_alarm_payload() -> dict[str, Any]:
    """The payload :meth:`riskops.live.book.LiveBook.publish_pending` builds for an audited
    CUSUM alarm of market_var."""
    from riskops.families.alarms import performance_payload

    return performance_payload(
        model="market_var",
        family="var",
        monitor="alarm",
        audit_seq=17,
        families=["var"],
        version=2,
        series="sp500",
        detector="cusum",
        day="2018-03-22T00:00:00",
        detail={"statistic": 173, "threshold": 150},
    )


def test_a_live_alarm_event_triggers_the_one_performance_trigger() -> None:
    import datetime

    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from pipelines.deployments import deployments
    from pipelines.events import PERFORMANCE_EVENT, performance_event

    retrain = next(d for d in deployments() if d.name == "nightly-retrain")
    # Given the event an audited live alarm of market_var emits
    spec = performance_event(_market_alarm_payload())
    event = ReceivedEvent(
        occurred=datetime.datetime.now(datetime.UTC),
        event=spec["event"],
        resource=spec["resource"],
        payload=spec["payload"],
        id=uuid.uuid4(),
    )
    trigger = next(t for t in retrain.triggers if t.name == "retrain-on-degraded-performance")
    server_side = EventTrigger.model_validate(
        trigger.model_dump(
            exclude={"name", "description", "enabled", "parameters"}
            | {"job_variables", "schedule_after"}
        )
    )
    # Then Prefect's own matching covers it, with the family as the flow's `families`
    assert spec["event"] == PERFORMANCE_EVENT == "riskops.performance.degraded"
    assert server_side.covers(event)
    assert event.payload["families"] == ["var"] and event.payload["audit_seq"] == 17
    assert event.payload["cause"]["audit_seq"] == 17
    # and the drift trigger does not (one run per event, not two)
    drift = next(t for t in retrain.triggers if t.name == "retrain-on-drift")
    drift_side = EventTrigger.model_validate(
        drift.model_dump(
            exclude={"name", "description", "enabled", "parameters"}
            | {"job_variables", "schedule_after"}
        )
    )
    assert not drift_side.covers(event)


def test_a_performance_event_retrains_the_model_on_its_matured_outcomes() -> None:
    """The trigger's templates rendered as Prefect's automation renders them: the event of
    a credit model's outcome tests refits that model with its outcomes, and the event of
    another monitor that sends only ``families`` (the live-market one, say) retrains the
    family as the drift event does, without outcomes."""
    import datetime

    from prefect.server.events.actions import RunDeployment
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

    from pipelines.events import performance_event, retrain_on_performance_trigger
    from riskops.families.alarms import performance_payload

    trigger = retrain_on_performance_trigger()
    credit = performance_event(
        performance_payload(
            model="credit_pd",
            family="credit",
            monitor="outcome_tests",
            audit_seq=42,
            models=["credit_pd"],
            include_outcomes=True,
            alarms=[{"rule": "jeffreys", "subject": "G8"}],
        )
    )
    market = performance_event(_market_alarm_payload())

    def rendered(spec: dict[str, Any]) -> dict[str, Any]:
        # What RunDeployment.render_parameters does with the triggering event in context
        event = ReceivedEvent(
            occurred=datetime.datetime.now(datetime.UTC),
            event=spec["event"],
            resource=spec["resource"],
            payload=spec["payload"],
            id=spec["id"],
        )
        template = copy.deepcopy(trigger.parameters)
        RunDeployment._upgrade_v1_templates(template)
        context = HydrationContext(
            raise_on_error=True, render_jinja=True, jinja_context={"event": event}
        )
        return hydrate(template, context)

    params = rendered(credit)
    assert params["families"] == [] and params["models"] == ["credit_pd"]
    assert params["include_outcomes"] is True
    assert params["cause"]["event_id"] == str(credit["id"])
    assert params["cause"]["audit_seq"] == 42
    params = rendered(market)
    assert params["families"] == ["var"] and params["models"] is None
    assert params["include_outcomes"] is False and params["cause"]["model"] == "market_var"
    assert params["cause"]["monitor"] == "alarm" and params["cause"]["audit_seq"] == 17


@pytest.mark.slow
def test_the_monitors_drift_event_starts_a_retrain_run_through_the_servers_trigger(
    prefect_api: str,
) -> None:
    """End to end on a real Prefect server (`prefect server start` runs its triggers and actions
    services): the deployment applied as ``riskops schedule`` declares it, the event sent as
    the monitor sends it, the flow run created by the server's automation. Nothing executes
    the run (no worker): the test stops at the run the automation created.
    """
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.events.worker import EventsWorker
    from prefect.states import Pending

    from pipelines.deployments import RETRAIN_CONCURRENCY, deployments
    from pipelines.events import emit_drift

    retrain = next(d for d in deployments() if d.name == "nightly-retrain")
    check = {
        "model": "credit_pd",
        "version": 3,
        "share_of_drifted_columns": 0.6,
        "threshold": 0.3,
        "drifted_columns": ["Age", "Income"],
    }

    async def runs_of(deployment_id: uuid.UUID, want: int, timeout_s: float = 90) -> list:
        # The automation reacts asynchronously (event stream -> triggers -> actions services).
        deadline = time.monotonic() + timeout_s
        async with get_client() as client:
            while True:
                runs = await client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
                )
                if len(runs) >= want or time.monotonic() > deadline:
                    # In the order of the events' families (the actions service may swap them).
                    return sorted(runs, key=lambda r: str(r.parameters.get("families")))
                await asyncio.sleep(0.5)

    async def scenario() -> tuple[list, Any, Any, Any]:
        # Given the nightly-retrain deployment applied with its trigger, as `riskops schedule`
        # registers it (the same RunnerDeployment object, not a copy of its declaration)
        deployment_id = await retrain.apply()
        async with get_client() as client:
            automations = await client.read_automations_by_name("retrain-on-drift")
            server_deployment = await client.read_deployment(deployment_id)
        assert len(automations) == 1 and automations[0].enabled
        # (the server's trigger cache picks up new automations on its own loop)
        await asyncio.sleep(2)
        # When the monitor emits its drift events for credit, then for var, as it does
        emit_drift("credit", check)
        emit_drift("var", {**check, "model": "var_model"})
        await asyncio.to_thread(EventsWorker.drain_all)
        runs = await runs_of(deployment_id, want=2)
        # and a runner tries to start both runs (a state proposal, as a worker would make)
        async with get_client() as client:
            first = await client.set_flow_run_state(runs[0].id, Pending())
            second = await client.set_flow_run_state(runs[1].id, Pending())
        return runs, server_deployment, first, second

    runs, server_deployment, first, second = asyncio.run(scenario())
    # Then the server's automation created one run of the retrain deployment per event, with
    # the event's `families` list passed as the flow's parameter (a list, not a string)
    assert [r.parameters.get("families") for r in runs] == [["credit"], ["var"]]
    assert all(r.state is not None and r.state.is_scheduled() for r in runs)
    assert all(r.created_by is not None and r.created_by.type == "AUTOMATION" for r in runs)
    # and the server enforces one retrain at a time: the second waits for the first's slot
    assert server_deployment.global_concurrency_limit is not None
    assert server_deployment.global_concurrency_limit.limit == RETRAIN_CONCURRENCY == 1
    assert server_deployment.concurrency_options is not None
    assert server_deployment.concurrency_options.collision_strategy.value == "ENQUEUE"
    assert first.status.value == "ACCEPT"
    assert second.status.value == "REJECT"
    assert second.state is not None and second.state.name == "AwaitingConcurrencySlot"
