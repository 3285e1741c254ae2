"""``riskops promote`` and ``riskops.promote(...)`` are one decision.

Two copies of one home (homes are relocatable) take the same four promotions, one through
the command line (a real ``riskops`` process, ``--json``), the other through the Python
API. For each of the four outcomes -- promoted, already champion, refused, awaiting
approval -- the command's JSON carries the API's :class:`~riskops.lifecycle.PromotionResult`
field for field, and the exit codes stay those of the command line's contract: 0, 0, 3, 0.
The models are small logged classifiers registered through the lifecycle (audited and
hashed), so the test is about the decision's path, not about training.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import riskops
from riskops.lifecycle import Lifecycle
from riskops.settings import Settings
from tests.lifecycle.test_governance import _log_small_model

NAME = "credit_pd"
RISKOPS = Path(sys.executable).with_name("riskops")
APPROVALS = """\
credit_pd:
  family: credit
  approvals: 1
"""


def _use(monkeypatch: pytest.MonkeyPatch, home: Path, policy: Path | None = None) -> None:
    """Point this process at ``home`` (and at ``policy``, else the default policies)."""
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key.startswith("MLFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("RISKOPS_ACTOR", "alice")
    if policy is not None:
        monkeypatch.setenv("RISKOPS_POLICY_FILE", str(policy))


def _cli(home: Path, *args: str, policy: Path | None = None) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_"))}
    env.update(RISKOPS_HOME=str(home), RISKOPS_ACTOR="alice")
    if policy is not None:
        env["RISKOPS_POLICY_FILE"] = str(policy)
    done = subprocess.run(
        [str(RISKOPS), "promote", NAME, *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def _decision(payload: dict[str, Any]) -> dict[str, Any]:
    """What a decision says, without what differs between two homes (file URLs, seconds)."""
    report = payload.get("report")
    documents = payload.get("documents") or {}
    return {
        "model": payload["model"],
        "outcome": payload["outcome"],
        "promoted": payload["promoted"],
        "forced": payload["forced"],
        "champion": payload["champion"],
        "previous_champion": payload["previous_champion"],
        "note": payload["note"],
        "approvals": payload["approvals"],
        "audit_seq": payload["audit_seq"],
        "gates": None
        if report is None
        else [(r["gate"], r["passed"], r["reason"]) for r in report["results"]],
        "documents": (documents.get("occasion"), documents.get("artifact_dir")),
    }


def test_the_command_and_the_python_api_give_the_same_result_for_all_four_outcomes(
    riskops_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a home with two registered versions and no champion, copied twice
    base = Settings()
    life = Lifecycle(base)
    for _ in range(2):
        life.register_version(
            _log_small_model(base), NAME, {"family": "credit", "model_kind": "small"}
        )
    by_cli, by_api = tmp_path / "by-cli", tmp_path / "by-api"
    shutil.copytree(riskops_home, by_cli, symlinks=True)
    shutil.copytree(riskops_home, by_api, symlinks=True)
    approvals = tmp_path / "approvals.yaml"
    approvals.write_text(APPROVALS)
    steps: list[tuple[list[str], dict[str, Any], Path | None, str, int]] = [
        (["--version", "1", "--force", "--reason", "first"], {"version": 1, "force": True,
         "reason": "first"}, None, "promoted", 0),
        (["--version", "1"], {"version": 1}, None, "already_champion", 0),
        # v2 has no gate evidence: refused, and the command exits 3
        (["--version", "2"], {"version": 2}, None, "refused", 3),
        # under a policy that needs one approval, even a forced promotion waits for it
        (["--version", "2", "--force", "--reason", "second"], {"version": 2, "force": True,
         "reason": "second"}, approvals, "awaiting_approval", 0),
    ]  # fmt: skip
    for args, kwargs, policy, outcome, exit_code in steps:
        # When the same promotion is asked of the command line in one copy...
        code, payload = _cli(by_cli, *args, policy=policy)
        # ...and of the Python API in the other
        _use(monkeypatch, by_api, policy)
        result = riskops.promote(NAME, **kwargs, settings=Settings())
        # Then both decide the same, and the command's exit code is its contract's
        assert result.outcome == outcome  # type: ignore[attr-defined]
        assert code == exit_code, payload
        assert payload["ok"] is (exit_code == 0)
        if exit_code:
            assert payload["error"]["type"] == "PromotionRefused"
        expected = result.to_dict()  # type: ignore[attr-defined]
        if expected.get("report"):  # the command names the report's model as an object
            report = expected["report"]
            expected["report"] = {
                **report,
                "model": {"name": report["model"], "version": report["version"]},
            }
        assert _decision(payload) == _decision(expected)
