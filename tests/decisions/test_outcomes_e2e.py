"""Credit decisions judged on matured outcomes, end to end over HTTP (issue 29).

A real ``riskops serve`` (BentoML) serves the LightGBM champion of ISLR ``Default``
(``conftest.py``), stamping its decisions 400 days ago (a replay's clock offset: outcomes
observed today find them matured under the policy's 12-month horizon); a real
``prefect server start`` holds the retrain deployment with its triggers, as
``riskops schedule`` registers it.

1. 5,000 applicants are scored with their application ids; each answer returns its id and
   each decision is in the store.
2. Their outcomes for 4,000 (the data's own ``default``), with 10 ids never scored and 5
   duplicates, are refused whole (exit 2, naming the lines); the clean 4,000 are recorded
   and the validation tests show per-grade results without an alarm.
3. 6,000 more applicants are scored and their outcomes generated with default rates
   doubled in the two worst grades: Jeffreys rejects there, the alarm fires, the
   ``riskops.performance.degraded`` event makes the server's automation create a retrain
   run, which a runner executes: a new version trained with the matured outcomes, whose
   lineage names what was added, and an audit trail that shows the chain.

Under overload (a slow disk, more requests than the queue of requests waiting for their
commit), every 200 answer has its decision in the store and no refused one has.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskops.cli import app

from .conftest import (
    MODEL,
    TRAIN_ROWS,
    Service,
    applicants,
    home_environment,
    start_service,
    stop_service,
    wait_ready,
)

pytestmark = pytest.mark.slow
runner = CliRunner()
MAX_PENDING = 8
"""Requests per worker that may wait for their decisions' commit in this service."""


@dataclass
class Story:
    home: Path
    service: Service
    prefect: str
    retrain_deployment: Any


@pytest.fixture(scope="module")
def story(champion_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The champion's home (a copy), its service in the past, a Prefect server with the
    retrain deployment applied; this process's environment points at them."""
    from pipelines.server import DATABASE_URL_SETTINGS, LocalPrefectServer

    root = tmp_path_factory.mktemp("decisions-e2e")
    home = root / "home"
    shutil.copytree(champion_template, home)
    service = start_service(
        home,
        {"RISKOPS_CLOCK_OFFSET_DAYS": "-400", "RISKOPS_DECISIONS_MAX_PENDING": str(MAX_PENDING)},
    )
    patch = pytest.MonkeyPatch()
    try:
        for name in ("PREFECT_API_URL", *DATABASE_URL_SETTINGS):
            patch.delenv(name, raising=False)
        patch.setenv("PREFECT_HOME", str(root / "prefect"))
        with LocalPrefectServer(root / "prefect" / "server.log") as server:
            # (the server exported its address, and takes it back when it stops: patching it
            # here too would restore the stopped server's address afterwards)
            url = server.ready()
            from pipelines.deployments import deployments

            retrain = next(d for d in deployments() if d.name == "nightly-retrain")
            applied = retrain.apply()  # Prefect runs it at once when called outside a loop
            deployment_id = asyncio.run(applied) if asyncio.iscoroutine(applied) else applied
            wait_ready(service)
            with home_environment(home, PREFECT_API_URL=url):
                yield Story(home, service, url, deployment_id)
    finally:
        stop_service(service)
        patch.undo()


def _score(service: Service, frame: pd.DataFrame, batch: int = 500) -> list[dict[str, Any]]:
    results = []
    with httpx.Client(base_url=service.url, timeout=120) as client:
        for start in range(0, len(frame), batch):
            body = {"applicants": applicants(frame.iloc[start : start + batch])}
            answer = client.post("/credit/score", json=body)
            assert answer.status_code == 200, answer.text
            results += answer.json()["results"]
    return results


def _decisions(home: Path) -> pd.DataFrame:
    from riskops.credit.decisions import read_decisions
    from riskops.evidence.store import EvidenceStore
    from riskops.settings import Settings

    return read_decisions(EvidenceStore(Settings()), MODEL)


def _outcomes_cli(path: Path, *extra: str) -> Any:
    args = ["outcomes", MODEL, "--data", str(path), "--id-col", "loan_id", "--target"]
    args += ["default", "--positive-label", "Yes", "--observed-at", "observed", "--json"]
    return runner.invoke(app, [*args, *extra])


def _real_outcomes(frame: pd.DataFrame, decided: pd.Series) -> pd.DataFrame:
    """The data's own outcomes, dated: a default within the 12 months after the decision,
    no default observed five days after they ended."""
    rng = np.random.default_rng(29)
    decided = pd.to_datetime(decided.to_numpy(), utc=True)
    within = decided + pd.to_timedelta(rng.integers(1, 360, len(frame)), unit="D")
    after = decided + pd.DateOffset(months=12) + pd.Timedelta(days=5)
    observed = np.where(frame["default"].eq("Yes"), within, after)
    return pd.DataFrame(
        {
            "loan_id": frame["loan_id"].to_numpy(),
            "default": frame["default"].to_numpy(),
            "observed": pd.DatetimeIndex(observed).strftime("%Y-%m-%d"),
        }
    )


def _automation_runs(deployment_id: Any, timeout: float = 120.0) -> list[Any]:
    """The deployment's runs created by an automation (not by its schedule), once any is."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async def poll() -> list[Any]:
        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while True:
                found = await client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
                )
                runs = [r for r in found if r.created_by and r.created_by.type == "AUTOMATION"]
                if runs or time.monotonic() > deadline:
                    return runs
                await asyncio.sleep(0.5)

    return asyncio.run(poll())


def test_decisions_outcomes_alarm_and_retrain_over_http(story: Story, islr: pd.DataFrame) -> None:
    from prefect.events.worker import EventsWorker

    from riskops.audit import AuditTrail
    from riskops.credit.outcome_simulation import simulate_outcomes
    from riskops.credit.outcomes import grade_sort_key
    from riskops.settings import Settings

    # 1. Given 5,000 applicants scored over HTTP with their application ids
    cohort = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 5000].reset_index(drop=True)
    answers = _score(story.service, cohort)
    assert [a["id"] for a in answers] == cohort["loan_id"].tolist()
    decided = _decisions(story.home)
    assert decided["id"].tolist() == cohort["loan_id"].tolist()
    assert decided["pd"].tolist() == [a["pd"] for a in answers]
    age = pd.Timestamp.now(tz="UTC") - pd.to_datetime(decided["decided_at"], utc=True)
    assert age.min() > pd.Timedelta(days=399)  # the replay's clock: matured today

    # 2. When outcomes for 4,000 arrive with 10 ids never scored and 5 duplicates
    outcomes = _real_outcomes(cohort.iloc[:4000], decided["decided_at"].iloc[:4000])
    unknown = pd.DataFrame(
        {"loan_id": [f"Z{i:05d}" for i in range(10)], "default": "No", "observed": "2026-11-01"}
    )
    dirty = pd.concat([outcomes, unknown, outcomes.iloc[100:105]], ignore_index=True)
    dirty.to_csv(story.home.parent / "dirty.csv", index=False)
    refused = _outcomes_cli(story.home.parent / "dirty.csv")
    # Then they are refused, each problem by its lines, and nothing is written
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "unknown_id: 10 row(s), lines 4002, 4003, 4004, 4005, 4006, 4007, 4008" in text
    assert "duplicate_in_file: 5 row(s), lines 4012, 4013, 4014, 4015, 4016" in text
    trail = AuditTrail(Settings())
    assert "outcomes_recorded" not in [r.action for r in trail.records(MODEL)]
    # When the clean 4,000 are fed: recorded, and the tests show per-grade results
    outcomes.to_csv(story.home.parent / "clean.csv", index=False)
    clean = _outcomes_cli(story.home.parent / "clean.csv")
    assert clean.exit_code == 0, clean.output
    first = json.loads(clean.stdout)
    assert first["recorded"]["written"] == 4000
    [version] = first["tests"]["versions"]
    grades = [g["label"] for g in version["grades"]]
    assert grades == sorted(grades, key=grade_sort_key) and len(grades) == 8
    assert sum(g["n"] for g in version["grades"]) == 4000 == version["portfolio"]["n"]
    assert version["portfolio"]["defaults"] == int(outcomes["default"].eq("Yes").sum())
    assert first["tests"]["fired"] is False and first["events"] == []
    with httpx.Client(base_url=story.service.url, timeout=30) as client:
        served = client.get(f"/models/{MODEL}/performance").json()
    assert served["seq"] == first["tests"]["audit_seq"] and served["fired"] is False

    # 3. Given 6,000 more applicants whose outcomes come with default rates doubled in the
    # two worst grades
    later = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 6000].reset_index(drop=True)
    later["loan_id"] = [f"B{i:05d}" for i in range(len(later))]
    _score(story.service, later)
    second = _decisions(story.home).iloc[5000:].reset_index(drop=True)
    worst = sorted(set(second["grade"]), key=grade_sort_key)[-2:]
    simulated = simulate_outcomes(
        second.assign(decided_at=pd.to_datetime(second["decided_at"], utc=True)),
        seed=29,
        default_multiplier=dict.fromkeys(worst, 2.0),
    )
    doubled = pd.DataFrame(
        {
            "loan_id": simulated["id"],
            "default": np.where(simulated["default"] == 1, "Yes", "No"),
            "observed": simulated["observed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    doubled.to_csv(story.home.parent / "doubled.csv", index=False)
    fed = _outcomes_cli(story.home.parent / "doubled.csv")
    assert fed.exit_code == 0, fed.output
    EventsWorker.drain_all()
    report = json.loads(fed.stdout)
    [version] = report["tests"]["versions"]
    # Then Jeffreys rejects in the two worst grades, and there only
    rejected = {
        a["subject"]
        for a in version["alarms"]["alarms"]
        if a["rule"] == "jeffreys" and a["subject"] != "portfolio"
    }
    assert rejected == set(worst)
    # and the alarm's event was sent and recorded
    [event] = report["events"]
    tests_seq = report["tests"]["audit_seq"]
    # and the server's automation created a retrain of the model on its matured outcomes
    [run] = _automation_runs(story.retrain_deployment)
    assert run.parameters["models"] == [MODEL] and run.parameters["families"] == []
    assert run.parameters["include_outcomes"] is True
    assert run.parameters["cause"]["event_id"] == event["event_id"]
    assert run.parameters["cause"]["audit_seq"] == tests_seq

    # When a runner executes it (as a worker of the riskops pool would)
    from prefect.client.orchestration import get_client
    from prefect.runner import Runner

    async def execute() -> str:
        await Runner(name="decisions-test-runner").execute_flow_run(run.id)
        async with get_client() as client:
            done = await client.read_flow_run(run.id)
        return done.state.type.value

    assert asyncio.run(execute()) == "COMPLETED"
    # Then the audit trail shows the chain: tests with their seals, the alarm and its event,
    # the new version trained on the matured outcomes it names, because of that event
    records = AuditTrail(Settings()).records(MODEL)
    by_seq = {r.seq: r for r in records}
    tests = by_seq[tests_seq]
    assert tests.action == "outcome_tests" and tests.body["fired"] is True
    assert [s["kind"] for s in tests.body["seals"]] == ["credit_decisions", "credit_outcomes"]
    [alarm] = [r for r in records if r.action == "alarm_raised"]
    assert alarm.seq > tests_seq and alarm.body["event_id"] == event["event_id"]
    assert alarm.body["raised_by_seq"] == tests_seq
    [retrained] = [r for r in records if r.action == "register" and r.seq > alarm.seq]
    assert retrained.body["cause"]["event_id"] == event["event_id"]
    added = retrained.body["outcomes_added"]
    assert added["rows_added"] == 4000 + 6000
    assert added["seals"][1]["seq"] == 10_000  # every recorded outcome was read
    assert added["added_content_hash"].startswith("sha256:")
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


def test_no_200_without_its_record_under_overload(story: Story, islr: pd.DataFrame) -> None:
    """A disk that stalls while 64 single-applicant requests arrive at once: at most a
    batch and a full queue wait for their commit, every other request is answered 503 at
    once, and after the disk frees, the store holds exactly the 200 answers' decisions."""
    frame = islr.iloc[TRAIN_ROWS : TRAIN_ROWS + 64].reset_index(drop=True)
    frame["loan_id"] = [f"O{i:03d}" for i in range(64)]
    bodies = [{"applicants": applicants(frame.iloc[[i]])} for i in range(64)]
    before = set(_decisions(story.home)["id"])
    statuses: dict[str, int] = {}
    most_waiting = 2 * MAX_PENDING + 1  # the batch stalled on the lock, and a full queue

    async def overload(lock: sqlite3.Connection) -> None:
        async with httpx.AsyncClient(
            base_url=story.service.url,
            timeout=60,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        ) as client:

            async def post(body: dict[str, Any]) -> None:
                answer = await client.post("/credit/score", json=body)
                statuses[body["applicants"][0]["id"]] = answer.status_code

            tasks = [asyncio.create_task(post(b)) for b in bodies]
            # Wait on a condition: every request but those that can wait has its answer
            deadline = time.monotonic() + 60
            while len(statuses) < len(bodies) - most_waiting:
                assert time.monotonic() < deadline, f"{len(statuses)} answered"
                await asyncio.sleep(0.05)
            assert set(statuses.values()) == {503}  # nothing is answered 200 while it waits
            lock.execute("ROLLBACK")  # the disk frees
            await asyncio.gather(*tasks)

    lock = sqlite3.connect(story.home / "evidence.db", isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")  # the store's write lock: commits stall
        asyncio.run(overload(lock))
    finally:
        lock.close()
    ok = {id_ for id_, status in statuses.items() if status == 200}
    busy = {id_ for id_, status in statuses.items() if status == 503}
    assert ok | busy == set(frame["loan_id"]) and ok and len(busy) >= 64 - most_waiting
    recorded = set(_decisions(story.home)["id"]) - before
    assert recorded == ok  # every 200 has its record, and no 503 has one
