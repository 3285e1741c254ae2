"""A shadow challenger over real HTTP: every request of the credit champion is handed to the
shadow process off the hot path, both answers are recorded with the request id, and what the
shadow could not take is dropped and counted -- never a champion request slowed or lost.

The shadow is the champion's own training run registered again (version 2): its PDs must
equal the champion's, applicant by applicant, which checks that each recorded shadow answer
is paired with the right request.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.conftest import (
    LiveService,
    home_environment,
    start_service,
    stop_service,
    wait_ready,
)

NAME = "credit_pd"
REQUESTS = 2000
MAX_PENDING = 64


def _shadow(service: LiveService) -> dict[str, Any] | None:
    models = httpx.get(f"{service.url}/models", timeout=30).json()["models"]
    return next(m for m in models if m["name"] == NAME).get("shadow")


def _wait_for(condition: Any, what: str, service: LiveService, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found is not None and found is not False:
            return found
        time.sleep(0.25)
    pytest.fail(f"{what} within {timeout:.0f} s:\n{service.log_tail()}")


def _shadow_process(home: Path) -> int:
    """The pid of the shadow process serving ``home``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"services.shadow" in command and f"RISKOPS_HOME={home}".encode() in environment:
            return int(entry.name)
    raise AssertionError("no shadow process")


@pytest.fixture(scope="module")
def shadowed(
    tmp_path_factory: pytest.TempPathFactory, trained_home_template: Path
) -> Iterator[Any]:
    """A service whose credit champion (v1) has its own run in shadow (v2)."""
    import shutil

    home = tmp_path_factory.mktemp("shadow") / "home"
    shutil.copytree(trained_home_template, home, symlinks=True)
    with home_environment(home) as settings:
        from riskops.lifecycle import Lifecycle

        life = Lifecycle(settings)
        assert life.promote(NAME, 1, force=True, reason="shadow test fixture").promoted
        info = life.registry.version_for_alias(NAME, "champion")
        shadow = life.register_version(info.run_id, NAME, dict(info.tags))
        assert life.shadow(NAME, shadow, reason="shadow test").outcome == "shadow_started"
        # A small bound, so that a stopped shadow process fills it within a few requests.
        service = start_service(home, {"RISKOPS_SHADOW_MAX_PENDING": str(MAX_PENDING)})
        try:
            wait_ready(service)
            _wait_for(lambda: _shadow(service), "the service names the shadow", service)
            yield service, settings, shadow
        finally:
            stop_service(service)


def _applicants(n: int) -> list[dict[str, Any]]:
    import pandas as pd

    from riskops.data.credit import load_credit

    rows = load_credit().X.sample(n, random_state=3, replace=True)
    return [
        {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


def _recorded(settings: Any, role: str, ids: set[str], expected: int) -> Any:
    """The decision store's answers of ``role`` to the applicants ``ids``, once there are
    ``expected``."""
    from riskops.credit.decisions import read_decisions
    from riskops.evidence.store import EvidenceStore

    frame = read_decisions(EvidenceStore(settings), NAME, role)
    frame = frame[frame["id"].isin(ids)]
    return frame if len(frame) == expected else None


def test_both_answers_are_recorded_for_every_request_the_shadow_scored(shadowed: Any) -> None:
    service, settings, shadow = shadowed
    applicants = _applicants(REQUESTS)
    before = _shadow(service)
    # When 2,000 applicants are scored, one per request
    request_ids = []
    with httpx.Client(base_url=service.url, timeout=60) as client:
        for applicant in applicants:
            answer = client.post("/credit/score", json={"applicants": [applicant]})
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == {"name": NAME, "version": 1}
            request_ids.append(answer.headers["x-request-id"])
    # Then every request was handed to the shadow and is accounted for: scored or dropped
    done = _wait_for(
        lambda: (
            (s := _shadow(service))["requests"] - before["requests"] == REQUESTS
            and s["scored"] + s["dropped"] + s["failed"] == s["requests"]
            and s
        ),
        "every request scored or dropped",
        service,
    )
    assert done["version"] == shadow
    assert done["failed"] == 0, done["last_failure"]
    scored = done["scored"] - before["scored"]
    assert scored + done["dropped"] - before["dropped"] == REQUESTS
    assert scored > 0
    # And the shadow's answers are in the decision store beside the champion's decisions,
    # by applicant id (one applicant per request: the generated id {request id}-0)
    ids = {f"{request_id}-0" for request_id in request_ids}
    shadows = _wait_for(
        lambda: _recorded(settings, "shadow", ids, scored),
        f"{scored} shadow answers recorded",
        service,
    )
    champions = _recorded(settings, "champion", ids, REQUESTS)
    assert champions is not None  # every 200 has its decision, before the answer
    assert set(shadows["model_version"]) == {shadow}
    assert set(champions["model_version"]) == {1}
    assert shadows["id"].is_unique
    paired = shadows.merge(champions, on="id", suffixes=("_shadow", "_champion"))
    assert len(paired) == scored  # both PDs for every request the shadow scored
    # the same training run: the same PD for the same applicant, request by request
    assert (paired["pd_shadow"] - paired["pd_champion"]).abs().max() < 1e-12
    assert (paired["grade_shadow"] == paired["grade_champion"]).all()


def _scheduling(pid: int) -> dict[int, tuple[int, int]]:
    """``{thread id: (policy, nice)}`` of each thread of ``pid`` (proc(5): fields 41, 19)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        found[int(task.name)] = (int(fields[38]), int(fields[16]))
    return found


def test_the_shadow_scores_at_idle_priority_and_records_at_normal_priority(
    shadowed: Any,
) -> None:
    """The shadow's rows share the champion's database: a writer preempted inside its
    transaction would make the champion's commits wait for it (a priority inversion)."""
    service, _, _ = shadowed
    # Given the service's shadow process, after it has scored (its thread pools exist)
    process = _shadow_process(service.home)
    with httpx.Client(base_url=service.url, timeout=60) as client:
        for applicant in _applicants(20):
            assert client.post("/credit/score", json={"applicants": [applicant]}).status_code == 200
    _wait_for(
        lambda: (s := _shadow(service))["scored"] + s["dropped"] + s["failed"] == s["requests"],
        "every request scored or dropped",
        service,
    )
    threads = _scheduling(process)
    # Then its main thread, which loads and scores, runs at SCHED_IDLE and nice 19
    assert threads[process] == (os.SCHED_IDLE, 19), threads
    # And exactly one thread, the recorder, keeps the normal policy and priority
    normal = [tid for tid, scheduling in threads.items() if scheduling == (os.SCHED_OTHER, 0)]
    assert len(normal) == 1, threads
    # And no other thread has any other scheduling
    assert set(threads.values()) == {(os.SCHED_IDLE, 19), (os.SCHED_OTHER, 0)}, threads


def test_a_shadow_that_cannot_keep_up_is_dropped_and_counted(shadowed: Any) -> None:
    service, _, _ = shadowed
    before = _shadow(service)
    process = _shadow_process(service.home)
    # Given a shadow process that takes nothing from its queue (stopped)
    os.kill(process, signal.SIGSTOP)
    try:
        # When 300 requests arrive
        with httpx.Client(base_url=service.url, timeout=60) as client:
            for applicant in _applicants(300):
                answer = client.post("/credit/score", json={"applicants": [applicant]})
                # Then the champion answers every one
                assert answer.status_code == 200, answer.text
        during = _shadow(service)
    finally:
        os.kill(process, signal.SIGCONT)
    # And every request was handed on, and beyond the bound of requests in flight what the
    # stopped shadow could not take was dropped by the worker, and counted
    assert during["requests"] - before["requests"] == 300
    dropped = during["dropped"] - before["dropped"]
    assert dropped >= 300 - MAX_PENDING
    # And what it had taken is scored once it runs again: nothing is left unaccounted
    after = _wait_for(
        lambda: (
            (s := _shadow(service))["scored"] + s["dropped"] + s["failed"] == s["requests"] and s
        ),
        "the queued requests scored",
        service,
    )
    assert after["failed"] == before["failed"]
    assert after["dropped"] == during["dropped"]
    assert after["scored"] - before["scored"] == 300 - dropped


def test_its_promotion_is_judged_on_the_shadow_window(shadowed: Any) -> None:
    from typer.testing import CliRunner

    from riskops.cli import app

    service, _, shadow = shadowed
    # Given a shadow window larger than the policy's minimum (500): requests sent in groups
    # smaller than the in-flight bound, each group scored before the next, so none is dropped
    with httpx.Client(base_url=service.url, timeout=60) as client:
        for start in range(0, 600, MAX_PENDING // 2):
            for applicant in _applicants(600)[start : start + MAX_PENDING // 2]:
                assert client.post("/credit/score", json={"applicants": [applicant]}).is_success
            _wait_for(
                lambda: (
                    (s := _shadow(service))["scored"] + s["dropped"] + s["failed"] == s["requests"]
                ),
                "the group scored",
                service,
            )
    recorded = _shadow(service)
    assert recorded["rows"] >= 600
    # When the version in shadow is promoted
    result = CliRunner().invoke(app, ["promote", NAME, "--version", str(shadow), "--json"])
    report = json.loads(result.stdout.strip().splitlines()[-1])["report"]
    gates = {r["gate"]: r for r in report["results"]}
    # (the shadow gates pass below: the outcome is the other gates', exit 3 if they refuse)
    others_pass = all(r["passed"] for g, r in gates.items() if not g.startswith("shadow_"))
    assert result.exit_code == (0 if others_pass else 3), result.output
    # Then the report shows the shadow window: the live requests both answered
    window = gates["shadow_window"]
    assert window["evaluated"] and window["passed"]
    assert window["observed"] == recorded["rows"] >= 500
    assert "paired answers" in window["reason"]
    # And the prediction drift and grade PSI between the two on identical requests: nil, for
    # the champion's own run
    assert gates["shadow_prediction_drift"]["passed"]
    assert gates["shadow_prediction_drift"]["observed"] == pytest.approx(0.0, abs=1e-9)
    assert gates["shadow_grade_psi"]["observed"] == pytest.approx(0.0, abs=1e-9)
    # And the data drift of the live inputs against its training data was measured
    assert gates["shadow_data_drift"]["evaluated"]
    # And the outcome test that needs matured outcomes says it was not evaluated
    assert not gates["shadow_delong"]["evaluated"]
