"""Lineage: a promoted version leads back to the exact data, code and decisions behind it."""

from __future__ import annotations

import json
from dataclasses import replace

from typer.testing import CliRunner

from riskops.governance.lineage import build_lineage


def test_promoted_version_leads_back_to_its_training_data(governed, facts_of) -> None:
    # Given the champion, promoted through the gates
    from riskops.data.credit import load_credit

    lineage = build_lineage(facts_of(governed.champion))
    # Then its data hash is the bundled credit data's, in all four independent records
    expected = load_credit().content_hash
    assert lineage["dataset"]["content_hash"] == expected
    assert set(lineage["dataset_hashes"].values()) == {expected}
    assert lineage["dataset_hash_consistent"] is True
    assert lineage["schema_version"] == load_credit().schema_version
    assert lineage["code_version"]
    # and its alias history shows the promotion and the rollback that restored it, by actor
    moves = [(e["action"], e["actor"]) for e in lineage["alias_history"]]
    assert moves == [("promote", "reviewer"), ("override", "approver"), ("rollback", "approver")]
    assert lineage["gate_reports"][-1]["passed"] is True
    assert lineage["audit_chain_intact"] is True


def test_a_registry_tag_that_disagrees_with_the_run_is_flagged(governed, facts_of) -> None:
    # Given the facts of v1 with a registry tag that names other data
    facts = facts_of(governed.non_monotone)
    tampered = replace(
        facts, info=replace(facts.info, tags={**facts.tags, "dataset_hash": "sha256:0"})
    )
    # Then the lineage no longer calls the data hash consistent, and shows both values
    lineage = build_lineage(tampered)
    assert lineage["dataset_hash_consistent"] is False
    assert lineage["dataset_hashes"]["registry_tag"] == "sha256:0"
    assert lineage["dataset_hashes"]["run_lineage"] == facts.dataset["content_hash"]


def test_lineage_command_json(governed) -> None:
    from riskops.cli.app import app

    result = CliRunner().invoke(
        app, ["lineage", "credit_pd", "--version", str(governed.non_monotone), "--json"]
    )
    assert result.exit_code == 0, result.output
    lineage = json.loads(result.output.strip().splitlines()[-1])
    assert lineage["model"] == {"name": "credit_pd", "version": governed.non_monotone}
    assert lineage["validation_status"] == "failed"
    assert [g["passed"] for g in lineage["gate_reports"]][-1] is False
    assert "evidence_current" in lineage["gate_reports"][-1]["failed_gates"]
    override = next(e for e in lineage["alias_history"] if e["action"] == "override")
    assert "business sign-off" in override["decision"]


def test_lineage_command_table(governed) -> None:
    from riskops.cli.app import app

    result = CliRunner().invoke(
        app, ["lineage", "credit_pd", "--version", str(governed.champion)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    from riskops.data.credit import load_credit

    assert load_credit().content_hash in result.output
    assert "consistent" in result.output
    assert "promote" in result.output


def test_challenger_lineage_names_the_champion_it_was_compared_with(governed, facts_of) -> None:
    # Given v3, trained while v2 was champion
    champion = facts_of(governed.champion)
    lineage = build_lineage(facts_of(governed.challenger))
    # Then its parent is v2, by run and by the data v2 was trained on
    parent = lineage["parent_champion"]
    assert parent["version"] == governed.champion
    assert parent["run_id"] == champion.run_id
    assert parent["dataset_hash"] == champion.dataset["content_hash"]
    # and the comparison it was judged on is v2 re-scored on v3's evaluation window
    compared = lineage["compared_with_champion"]
    assert compared["version"] == governed.champion
    assert set(compared["metrics"]) >= {"auc", "brier"}
    # and it has not been gated yet: no report, status pending, no alias move but challenger
    assert lineage["gate_reports"] == []
    assert lineage["validation_status"] == "pending"
    assert lineage["alias_history"] == []
    assert lineage["aliases"] == ["challenger"]


def test_lineage_describes_the_champion_by_default_at_80_columns(governed) -> None:
    from riskops.cli.app import app

    # Given a champion (v2) and a newer, refused challenger (v3)
    # When lineage is asked without --version, at 80 columns
    result = CliRunner().invoke(app, ["lineage", "credit_pd"], env={"COLUMNS": "80"})
    # Then it describes the champion, not the latest version
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"credit_pd v{governed.champion} "), first
    assert "champion" in first
    # and no line is wider than the terminal, the audit records included
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "promote" in result.output
