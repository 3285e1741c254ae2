"""A champion made too optimistic on purpose (its VaR scaled by 0.7) raises an alarm within the
detection delay the benchmark predicts; the alarm's Prefect event makes the server's
automation start a retrain run of its family; the audit trail shows alarm -> retrain -> gate
decision, and the retrained challenger's gate evidence holds the champion's live record.

End to end on a real Prefect server (``prefect server start``: its triggers and actions
services), the retrain deployment applied as ``riskops schedule`` applies it, the flow run
executed by a runner as a worker would."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest

from tests.live.conftest import LIVE_DAYS, sp500_returns

BENCH = Path(__file__).resolve().parents[2] / "bench" / "results" / "bench_live.json"


def _register_optimistic(life) -> int:
    """market_var v2: v1's GARCH(1,1)-t refitted on the same days, its VaR and ES times 0.7,
    logged with its code (cloudpickle by value), registered and made champion by force."""
    from tests.live import optimistic

    version = optimistic.register_degraded(
        life, "market_var", "var", optimistic.OptimisticVaR, "optimistic_garch_t", "optimistic"
    )
    decision = life.promote(
        "market_var", version, force=True, reason="test: a champion made too optimistic"
    )
    assert decision.promoted, decision.to_dict()
    return version


async def _runs(deployment_id: uuid.UUID, timeout_s: float = 120) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline = time.monotonic() + timeout_s
    async with get_client() as client:
        while True:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            if runs or time.monotonic() > deadline:
                return sorted(runs, key=lambda r: r.created)
            await asyncio.sleep(0.5)


@pytest.mark.slow
def test_an_optimistic_champion_alarms_and_its_event_retrains_the_family(
    live_home: Path, prefect_api: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker
    from prefect.runner import Runner

    from pipelines.deployments import deployments
    from pipelines.events import emit_performance
    from riskops.lifecycle import Lifecycle
    from riskops.live import kinds
    from riskops.live.book import LiveBook
    from riskops.live.observations import Observation
    from riskops.settings import Settings

    settings = Settings()
    life = Lifecycle(settings)
    optimistic = _register_optimistic(life)
    # Given the retrain deployment applied with its triggers, as `riskops schedule` applies it
    retrain = next(d for d in deployments() if d.name == "nightly-retrain")

    async def apply() -> uuid.UUID:
        deployment_id = await retrain.apply()
        async with get_client() as client:
            found = await client.read_automations_by_name("retrain-on-degraded-performance")
        assert len(found) == 1 and found[0].enabled
        await asyncio.sleep(2)  # the server's trigger cache picks up new automations
        return deployment_id

    deployment_id = asyncio.run(apply())
    # When the days after its training arrive live, ten at a time, until an alarm
    book = LiveBook(settings, on_alarm=emit_performance)
    days = sp500_returns().iloc[-LIVE_DAYS:]
    bars = [Observation("sp500", ts, float(r), source="test") for ts, r in days.items()]
    alarms: list[dict] = []
    for start in range(0, len(bars), 10):
        alarms = book.ingest(bars[start : start + 10]).alarms
        if alarms:
            break
    EventsWorker.drain_all()
    # Then the CUSUM alarms within the delay the benchmark predicts for a VaR scaled by 0.7
    # (90th percentile of the simulated zero-state delay, bench/bench_live.py)
    predicted = json.loads(BENCH.read_text())["alarms"]["scenarios"]["scaled_0.7_zero_state"]
    first = book.store.rows(kinds.ALARMS, "market_var")[0]
    assert first["detector"] == "cusum" and first["version"] == optimistic
    assert first["day_seq"] <= predicted["cusum"]["p90"]
    # and the server's automation created a retrain run of the var family
    runs = asyncio.run(_runs(deployment_id))
    assert runs, "no retrain run was created by the automation"
    run = runs[0]
    assert run.parameters.get("families") == ["var"]
    assert run.parameters.get("models") is None and run.parameters.get("include_outcomes") is False
    assert run.created_by is not None and run.created_by.type == "AUTOMATION"

    async def execute() -> str:
        await Runner(name="test-runner").execute_flow_run(run.id)
        async with get_client() as client:
            finished = await client.read_flow_run(run.id)
        return finished.state.type.value

    assert asyncio.run(execute()) == "COMPLETED"
    # and the audit trail shows the chain: alarm -> the retrained challenger (its register
    # record naming the alarm) -> its gate decision
    records = life.trail.records("market_var")
    [alarm] = [r for r in records if r.action == "alarm" and r.body["alarm"] == first["key"]]
    registered = [r for r in records if r.action == "register" and r.version > optimistic]
    assert registered and registered[0].seq > alarm.seq
    challenger = registered[0]
    # (the one performance trigger passed the event's cause, which the new version records)
    cause = challenger.body["cause"]
    assert cause["audit_seq"] == alarm.seq and cause["monitor"] == "alarm"
    assert cause["event"] == "riskops.performance.degraded"
    assert cause["event_id"] == run.parameters["cause"]["event_id"]
    live = challenger.body["champion_live"]
    assert live["version"] == optimistic
    assert alarm.seq in [a["seq"] for a in live["alarms"]]
    decided = [
        r
        for r in records
        if r.version == challenger.version
        and r.seq > challenger.seq
        and r.action in ("promote", "refuse", "approval_requested")
    ]
    assert decided, [(r.seq, r.action, r.version) for r in records]
    # and the gate evidence the decision read holds the champion's live record
    evidence = life.loader.read_json("market_var", challenger.version, "gate_evidence.json")
    record = evidence["champion"]["live"]
    assert record["version"] == optimistic
    [stream] = record["streams"]
    assert stream["series"] == "sp500" and stream["alarms"]
    assert stream["var"]["99"]["exceptions"] > stream["var"]["99"]["expected"]
