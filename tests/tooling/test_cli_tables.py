"""Outputs that read well at 80 columns: ``riskops audit NAME``, ``models``, ``approvals`` and
``drift`` become one block per record when a table would not fit (never cells squeezed into
a few characters), stay tables on a wide terminal, and exports say what they wrote.

A small logistic regression is logged as a credit model and registered through the
lifecycle (audited, hashed), as in tests/lifecycle/test_governance.py; the records a
reviewer reads are then written through the audit trail, as the use cases write them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from riskops.cli import app
from riskops.settings import Settings

runner = CliRunner()
NAME = "credit_pd"
NARROW = {"COLUMNS": "80"}
WIDE = {"COLUMNS": "220"}
LONG_REASON = (
    "business sign-off: the committee accepted the calibration finding until the next "
    "quarterly revalidation, see minutes 2026-11"
)


def _log_small_model(settings: Settings) -> str:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from riskops import tracking

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"Income": rng.normal(size=80), "Age": rng.normal(size=80)})
    y = (X["Income"] + rng.normal(scale=0.5, size=80) > 0).astype(int)
    with tracking.training_run(settings, "credit", "small") as run_id:
        mlflow.sklearn.log_model(
            LogisticRegression().fit(X, y),
            name="model",
            input_example=X.head(3),
            pyfunc_predict_fn="predict_proba",
            serialization_format="pickle",
        )
    return run_id


@pytest.fixture
def reviewed(settings: Settings) -> dict[str, Any]:
    """credit_pd: v1 champion by a recorded override, v2 waiting for one more approval,
    one monitoring check."""
    from riskops.lifecycle import Lifecycle

    life = Lifecycle(settings)
    tags = {"family": "credit", "model_kind": "small"}
    first = life.register_version(_log_small_model(settings), NAME, tags)
    life.promote(NAME, first, force=True, reason=LONG_REASON)
    second = life.register_version(_log_small_model(settings), NAME, tags)
    request = life.trail.append(
        "approval_requested", NAME, second, actor="alice", required_approvals=2, forced=False
    )
    life.trail.append("approve", NAME, second, actor="bob", request_seq=request.seq)
    life.trail.append(
        "monitor",
        NAME,
        first,
        source="credit_recent.csv (1000 rows)",
        share_of_drifted_columns=0.5,
        drifted_columns=["Income"],
        threshold=0.3,
        retrain=True,
        report_uri="runs:/abc/drift.html",
        note="",
        evidently_run=None,
    )
    return {"first": first, "second": second, "request": request.seq}


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _fits(text: str, width: int = 80) -> None:
    too_long = [line for line in _lines(text) if len(line) > width]
    assert not too_long, too_long


def test_audit_at_80_columns_is_one_block_per_record(reviewed: dict[str, Any]) -> None:
    result = runner.invoke(app, ["audit", NAME], env=NARROW)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # Then nothing is wider than the terminal, no table box is squeezed into it
    _fits(out)
    assert "┃" not in out and "│" not in out
    # and each record is a block whose fields keep their words whole
    assert "override" in out and "approval_requested" in out
    flowing = " ".join(out.split())
    assert "business sign-off: the committee accepted the calibration finding" in flowing


def test_audit_on_a_wide_terminal_is_a_table(reviewed: dict[str, Any]) -> None:
    out = runner.invoke(app, ["audit", NAME], env=WIDE).stdout
    header = next(line for line in _lines(out) if "decision / reason" in line)
    assert "┃" in header and "evidence" in header


def test_models_and_approvals_at_80_columns(reviewed: dict[str, Any]) -> None:
    models = runner.invoke(app, ["models"], env=NARROW)
    approvals = runner.invoke(app, ["approvals"], env=NARROW)
    drift = runner.invoke(app, ["drift"], env=NARROW)
    for result in (models, approvals, drift):
        assert result.exit_code == 0, result.output
        _fits(result.stdout)
    # models: the champion, the governance note, the whole metric names
    assert f"v{reviewed['first']}" in models.stdout
    assert "1 awaiting approval" in models.stdout
    # approvals: v2, who asked, one of two approvals, and how to decide
    flowing = " ".join(approvals.stdout.split())
    assert f"{NAME} v{reviewed['second']}" in flowing
    assert "by alice" in flowing and "1/2 (bob)" in flowing
    assert "riskops approve NAME --version N --reason WHY" in flowing
    # drift: the check, its share against the policy, the drifted input
    flowing = " ".join(drift.stdout.split())
    assert "50% drifted (policy 30%)" in flowing and "Income" in flowing


def test_approvals_json_lists_what_waits_from_the_fold(reviewed: dict[str, Any]) -> None:
    result = runner.invoke(app, ["approvals", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    (waiting,) = payload["pending"]
    assert waiting["model"] == {"name": NAME, "version": reviewed["second"]}
    assert waiting["requested_by"] == "alice"
    assert waiting["approved_by"] == ["bob"]
    assert (waiting["required"], waiting["still_needed"]) == (2, 1)
    assert waiting["champion"] == reviewed["first"]
    assert waiting["request_seq"] == reviewed["request"]
    # and once approved by a second checker it no longer waits
    from riskops.audit import AuditTrail

    AuditTrail(Settings()).append("reject", NAME, reviewed["second"], actor="carol", reason="no")
    after = json.loads(runner.invoke(app, ["approvals", "--json"]).stdout)
    assert after["pending"] == []


def test_exports_say_what_they_wrote_and_print_no_records(
    reviewed: dict[str, Any], tmp_path: Path
) -> None:
    csv_path, json_path = tmp_path / "trail.csv", tmp_path / "trail.json"
    result = runner.invoke(
        app,
        ["audit", "all", "--csv", str(csv_path), "--export-json", str(json_path)],
        env=NARROW,
    )
    assert result.exit_code == 0, result.output
    records = json.loads(json_path.read_text())
    # Then the output is one line per file written, with the record count
    lines = [line for line in _lines(result.stdout) if line.strip()]
    assert lines == [
        f"wrote {csv_path} ({len(records)} audit records, CSV)",
        f"wrote {json_path} ({len(records)} audit records, JSON)",
    ]
    assert csv_path.read_text().count("\n") > len(records)  # header and one row each at least


def test_model_is_an_object_in_json_outputs(reviewed: dict[str, Any]) -> None:
    audit = json.loads(runner.invoke(app, ["audit", NAME, "--json"]).stdout)
    reconcile = json.loads(runner.invoke(app, ["reconcile", NAME, "--json"]).stdout)
    drift = json.loads(runner.invoke(app, ["drift", NAME, "--json"]).stdout)
    assert audit["model"] == {"name": NAME}
    assert reconcile["model"] == {"name": NAME}
    assert drift["checks"][0]["model"] == {"name": NAME, "version": reviewed["first"]}
    everything = json.loads(runner.invoke(app, ["audit", "all", "--json"]).stdout)
    assert everything["scope"] == "all" and "model" not in everything
