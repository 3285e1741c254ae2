"""``riskops train``, ``promote`` and ``approve`` appear in the Prefect UI as flow runs when a
Prefect API is configured (``PREFECT_API_URL``), against a real Prefect server; the CLI's
output and exit codes are those of the direct calls.

Each command runs as its own ``riskops`` process, as a user types it (Prefect configures its
logging once per process, when first imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
RISKOPS = str(Path(sys.executable).parent / "riskops")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``riskops ARGS`` in a new process, with this test's environment (the home and the
    Prefect API)."""
    return subprocess.run(
        [RISKOPS, *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _flow_runs(api: str) -> dict[str, list[str]]:
    """Each flow's runs' state types, by flow name."""
    with httpx.Client(base_url=api, timeout=30) as client:
        flows = {f["id"]: f["name"] for f in client.post("/flows/filter", json={}).json()}
        runs = client.post("/flow_runs/filter", json={"sort": "EXPECTED_START_TIME_ASC"}).json()
    out: dict[str, list[str]] = {}
    for run in runs:
        out.setdefault(flows[run["flow_id"]], []).append(run["state_type"])
    return out


def _envelope(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return json.loads(lines[0])  # type: ignore[no-any-return]


def test_train_promote_and_approve_are_flow_runs(riskops_home: Path, prefect_api: str) -> None:
    before = _flow_runs(prefect_api)
    # When a user trains, promotes and tries an approval with a Prefect API configured
    trained = _cli("train", "var", "--model", "historical", "--json")
    assert trained.returncode == 0, trained.stderr[-3000:]
    model = _envelope(trained.stdout)["model"]
    promoted = _cli("promote", model["name"], "--force", "--reason", "flow-run test", "--json")
    approved = _cli("approve", model["name"], "--reason", "nothing waits", "--json")
    # Then the results are the direct calls' (the version, the decision, exit 2 when nothing
    # waits for approval)
    assert model["name"] == "market_var" and model["version"] == 1
    decision = _envelope(promoted.stdout)
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    assert decision["model"] == {"name": "market_var", "version": 1}
    assert decision["outcome"] == "promoted" and decision["champion"] == 1
    assert approved.returncode == 2, approved.stderr[-3000:]
    assert _envelope(approved.stdout)["error"]["type"] == "BadInputError"
    # and each is a flow run of the server: train and promote completed, approve failed with
    # the bad input
    after = _flow_runs(prefect_api)
    new = {name: runs[len(before.get(name, [])) :] for name, runs in after.items()}
    assert new["train"] == ["COMPLETED"]
    assert new["promote"] == ["COMPLETED"]
    assert new["approve"] == ["FAILED"]
