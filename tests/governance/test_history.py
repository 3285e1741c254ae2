"""Audit records in words: alias moves, decisions, evidence, and the records of a version."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from riskops.governance.history import alias_changes_text, describe, history_rows, touches


def _record(seq: int, action: str, version: int | None, **body: object) -> dict:
    return {
        "seq": seq,
        "ts": "2026-01-02T03:04:05.678901+00:00",
        "actor": "alice",
        "action": action,
        "model": "m",
        "version": version,
        "body": body,
    }


def test_promotion_reads_as_old_to_new_version_per_alias() -> None:
    # Given the body the lifecycle writes when v2 replaces champion v1
    body = {
        "alias_changes": [{"alias": "champion", "from": 1, "to": 2}, {"alias": "previous", "to": 1}]
    }
    # When it is described / Then each alias shows where it moved
    assert alias_changes_text(body) == "champion v1 → v2; previous → v1"


def test_first_promotion_and_registration_name_the_empty_side() -> None:
    assert (
        alias_changes_text({"alias_changes": [{"alias": "champion", "from": None, "to": 1}]})
        == "champion none → v1"
    )
    assert alias_changes_text({"alias_change": {"alias": "challenger", "to": 3}}) == (
        "challenger → v3"
    )


def test_override_row_carries_actor_failures_reason_and_evidence() -> None:
    # Given an override record
    record = _record(
        7,
        "override",
        2,
        alias_changes=[{"alias": "champion", "from": 1, "to": 2}],
        failures=["auc = 0.7 < minimum 0.75"],
        reason="regulator asked",
        run_id="abc",
    )
    # When it is described
    row = describe(record)
    # Then an auditor reads who forced what over which failure, and why
    assert (row.actor, row.time, row.version) == ("alice", "2026-01-02 03:04:05", 2)
    assert row.alias_changes == "champion v1 → v2"
    assert "auc = 0.7 < minimum 0.75" in row.decision
    assert row.decision.endswith("reason: regulator asked")
    assert row.evidence == "runs:/abc"


def test_gate_decision_lists_the_failed_gates_only() -> None:
    report = {
        "results": [
            {"gate": "floor:auc", "passed": True},
            {"gate": "data_drift", "passed": False},
            {"gate": "champion:auc", "passed": False},
        ]
    }
    row = describe(
        _record(
            3,
            "gate_decision",
            1,
            passed=False,
            report=report,
            evidence_uri="runs:/r/gate_evidence.json",
        )
    )
    assert row.decision == "gates failed: data_drift, champion:auc"
    assert row.evidence == "runs:/r/gate_evidence.json"


def test_a_rollback_touches_both_the_restored_and_the_demoted_version() -> None:
    # Given a rollback from v3 back to v2 (recorded under v2)
    rollback = _record(
        9,
        "rollback",
        2,
        alias_changes=[
            {"alias": "champion", "from": 3, "to": 2},
            {"alias": "previous", "from": 2, "to": None},
        ],
    )
    unrelated = _record(10, "register", 4, alias_change={"alias": "challenger", "to": 4})
    # Then it belongs to the history of both versions, and the unrelated record to neither
    assert touches(rollback, 2)
    assert touches(rollback, 3)
    assert not touches(unrelated, 3)
    assert [r.seq for r in history_rows([unrelated, rollback], 3)] == [9]


def test_audit_table_and_csv_of_the_governed_home(governed, tmp_path: Path) -> None:
    # Given the shared home (override then rollback of credit_pd)
    from riskops.cli.app import app

    out = tmp_path / "audit.csv"
    # When the auditor views and exports the trail
    result = CliRunner().invoke(app, ["audit", "credit_pd"], env={"COLUMNS": "250"})
    exported = CliRunner().invoke(
        app, ["audit", "credit_pd", "--csv", str(out)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert exported.exit_code == 0, exported.output
    # Then the export says what it wrote, instead of printing the trail again
    assert f"wrote {out}" in " ".join(exported.output.split())
    assert "→" not in exported.output
    # and the table names the alias moves with their actors and reasons
    v1, v2 = governed.non_monotone, governed.champion
    assert f"champion v{v2} → v{v1}" in result.output
    assert f"champion v{v1} → v{v2}" in result.output
    assert "approver" in result.output
    assert "reviewer" in result.output
    rows = list(csv.DictReader(out.open()))
    override = next(r for r in rows if r["action"] == "override")
    assert override["actor"] == "approver"
    assert override["alias_changes"] == f"champion v{v2} → v{v1}; previous none → v{v2}"
    assert "business sign-off" in override["decision"]
    # and the raw record, with its hashes, stays exportable as it was stored
    assert json.loads(override["body"])["reason"] == "business sign-off despite the grade inversion"
    assert len(override["hash"]) == 64
