"""The audit trail is the source of truth: the attacks a platform's own users and admins can
mount with a plain MLflow client and write access to the stores, each refused or reported.

Each case registers small logged models through the lifecycle (audited, hashed; seconds per
version), on real MLflow (SQLite in ``tmp_path``). What "served" means is asked of the
service's own source of truth (:class:`services.champions.LedgerSource`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from riskops.audit import Anchor, AuditTrail
from riskops.cli import app
from riskops.errors import BadInputError
from riskops.ledger.state import fold
from riskops.ledger.verify import verify_installation
from riskops.lifecycle import Lifecycle
from riskops.registry import AUDIT_HEAD_TAG, CHAMPION, PREVIOUS, Registry
from riskops.settings import Settings
from services.champions import ChampionHolder, LedgerSource
from tests.lifecycle.homes import (
    close_connections_under,
    copy_home,
    freeze,
    thaw,
    tree_digest,
)

runner = CliRunner()
NAME = "credit_pd"
RISKOPS = Path(sys.executable).with_name("riskops")


class OutOfRangePD(LogisticRegression):
    """A classifier whose "probabilities" leave [0, 1]: never a PD that may be served."""

    def predict_proba(self, X: Any) -> np.ndarray:
        p = super().predict_proba(X)[:, 1] * 2.0 - 0.5
        return np.column_stack([1.0 - p, p])


def _log_model(settings: Settings, model: Any = None, evidence: dict | None = None) -> str:
    """A small fitted credit classifier logged in a run of its own; returns the run id."""
    import mlflow
    import mlflow.sklearn

    from riskops import tracking

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"Income": rng.normal(size=80), "Age": rng.normal(size=80)})
    y = (X["Income"] + rng.normal(scale=0.5, size=80) > 0).astype(int)
    with tracking.training_run(settings, "credit", "small") as run_id:
        mlflow.sklearn.log_model(
            (model or LogisticRegression()).fit(X, y),
            name="model",
            input_example=X.head(3),
            pyfunc_predict_fn="predict_proba",
            serialization_format="cloudpickle",
        )
        if evidence is not None:
            mlflow.log_dict(evidence, "gate_evidence.json")
    return run_id


def _register(life: Lifecycle, run_id: str | None = None, **log: Any) -> int:
    run_id = run_id or _log_model(life.settings, **log)
    return life.register_version(run_id, NAME, {"family": "credit", "model_kind": "small"})


def _champion(life: Lifecycle, reason: str = "fixture without gate evidence") -> int:
    version = _register(life)
    assert life.promote(NAME, version, force=True, reason=reason).promoted
    return version


def _served(settings: Settings) -> int | None:
    holder = ChampionHolder(LedgerSource(settings), NAME)
    holder.refresh()
    return None if holder.current is None else holder.current.version


def _verify(settings: Settings) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"])
    return result.exit_code, result.stdout


@pytest.fixture(params=["original", "moved"])
def attacked(
    request: pytest.FixtureRequest,
    riskops_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[], Settings]]:
    """Where an attack runs (issue 26: its tests must hold on a moved home too).

    Called once the test's given state is built, it returns the settings of the home the
    attack then runs on: ``original``, the test's home; ``moved``, a ``cp -a`` copy of it at
    another path (``RISKOPS_HOME`` pointing there, nothing else told), its original frozen
    (every write into it fails) and byte-identical at the end of the test (attack 10).
    """
    frozen: list[tuple[Path, str]] = []

    def move() -> Settings:
        import mlflow

        if request.param == "original":
            return Settings()
        while mlflow.active_run() is not None:
            mlflow.end_run()
        close_connections_under(riskops_home)
        copy = copy_home(riskops_home, tmp_path / "elsewhere" / "home")
        frozen.append((riskops_home, tree_digest(riskops_home)))
        # Root passes file modes; where the immutable attribute is missing too, the digest
        # at the end is the check left.
        assert freeze(riskops_home) or os.geteuid() == 0
        # As an operator would run the copy: its home named, everything else derived from it
        # (the original's store, Prefect and BentoML homes were exported by the given steps).
        for variable in (
            "MLFLOW_TRACKING_URI",
            "MLFLOW_REGISTRY_URI",
            "BENTOML_HOME",
            "PREFECT_HOME",
        ):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("RISKOPS_HOME", str(copy))
        moved = Settings()
        assert moved.home == copy and moved.mlflow_tracking_uri.endswith(f"{copy}/mlflow.db")
        return moved

    yield move
    for original, digest in frozen:
        thaw(original)
        assert tree_digest(original) == digest, f"the moved home wrote into {original}"


# ------------------------------------------------------------------------- attack 1
def test_a_deleted_and_recreated_model_has_no_audited_champion(
    settings: Settings, attacked: Callable[[], Settings]
) -> None:
    # Given an audited champion
    _champion(Lifecycle(settings))
    assert _verify(settings)[0] == 0
    settings = attacked()
    life = Lifecycle(settings)
    assert _verify(settings)[0] == 0
    # When the registered model is deleted with the plain MLflow client
    life.registry.client.delete_registered_model(NAME)
    # Then verify fails naming it: the trail still has a champion nothing can serve
    code, out = _verify(settings)
    assert code == 1 and "credit_pd: the registered model was deleted" in out
    assert _served(settings) is None
    # When a new model is trained under the same name (a new v1) and made champion with MLflow
    new = _register(life)
    assert new == 1
    life.registry.client.set_registered_model_alias(NAME, CHAMPION, "1")
    # Then the new v1 is not the audited v1: nothing is served, verify names the cause,
    # and the old v1's decisions are not the new model's
    assert _served(settings) is None
    code, out = _verify(settings)
    assert code == 1 and "credit_pd@champion points to v1" in out
    state = fold(life.trail.records(NAME), NAME)
    assert state.champion is None and state.since_seq > 1
    assert len(state.retired_incarnations) == 1


# ------------------------------------------------------------------------- attack 2
def test_rollback_goes_to_the_audited_previous_champion_never_to_the_alias(
    settings: Settings, attacked: Callable[[], Settings]
) -> None:
    life = Lifecycle(settings)
    # Given champion v2 after v1, and a v3 that never was champion
    first = _champion(life)
    second = _champion(life)
    refused = _register(life)
    settings = attacked()
    life = Lifecycle(settings)
    # When the previous alias is set to v3 with the plain MLflow client
    life.registry.client.set_registered_model_alias(NAME, PREVIOUS, str(refused))
    # Then verify fails naming the alias, and rollback returns to the audited v1
    code, out = _verify(settings)
    assert code == 1 and f"credit_pd@previous points to v{refused}" in out
    rolled = life.rollback(NAME, reason="test")
    assert rolled.champion == first and rolled.previous_champion == second
    assert _served(settings) == first
    assert life.registry.version_for_alias(NAME, CHAMPION).version == first  # type: ignore[union-attr]
    # And with no audited previous champion left, rollback is refused (exit 2)
    with pytest.raises(BadInputError, match="no audited previous champion"):
        life.rollback(NAME)


# ------------------------------------------------------------------------- attack 3
def test_an_unaudited_champion_cannot_be_laundered_through_a_recorded_override(
    settings: Settings, attacked: Callable[[], Settings]
) -> None:
    life = Lifecycle(settings)
    # Given audited champion v1, and v2 made champion with the plain MLflow client
    first = _champion(life)
    unaudited = _register(life)
    settings = attacked()
    life = Lifecycle(settings)
    life.registry.client.set_registered_model_alias(NAME, CHAMPION, str(unaudited))
    # When v3 is forced to champion: the override records the trail's champion, v1
    third = _register(life)
    forced = life.promote(NAME, third, force=True, reason="urgent")
    assert forced.promoted and forced.previous_champion == first
    override = life.trail.records(NAME)[-1]
    assert override.body["alias_changes"][0] == {"alias": "champion", "from": first, "to": third}
    # When the alias is moved back to v2 with MLflow
    life.registry.client.set_registered_model_alias(NAME, CHAMPION, str(unaudited))
    # Then verify fails, v3 is served, and a rollback returns to v1, never v2
    code, out = _verify(settings)
    assert code == 1 and f"credit_pd@champion points to v{unaudited}" in out
    assert _served(settings) == third
    assert life.rollback(NAME, reason="test").champion == first


# ------------------------------------------------------------------------- attack 4
def test_edited_gate_evidence_refuses_promotion_even_forced(
    settings: Settings, attacked: Callable[[], Settings]
) -> None:
    from riskops import tracking

    # Given a challenger whose gate evidence fails its floors
    failing = {"metrics": {"auc": 0.51, "ks": 0.01, "ece": 0.2}, "evidence": {}, "champion": None}
    version = _register(Lifecycle(settings), evidence=failing)
    settings = attacked()
    life = Lifecycle(settings)
    # When its gate_evidence.json is rewritten in the artifact store to pass
    run_id = life.loader.registered(NAME, version)[1].run_id
    uri = tracking.run_facts(settings, run_id)["artifact_uri"]
    stored = Path(uri.removeprefix("file://")) / "gate_evidence.json"
    edited = {**failing, "metrics": {"auc": 0.99, "ks": 0.9, "ece": 0.0}}
    stored.write_text(json.dumps(edited))
    # Then promotion refuses it, forced or not, naming the edited file
    for force in (False, True):
        result = life.promote(NAME, version, force=force, reason="edited" if force else None)
        assert result.refused
        assert any(
            r.gate == "evidence_integrity" and "gate_evidence.json" in r.reason
            for r in result.report.failures  # type: ignore[union-attr]
        )
    assert _served(settings) is None


def test_edited_evidence_of_the_champion_fails_verify(
    settings: Settings, attacked: Callable[[], Settings]
) -> None:
    from riskops import tracking

    life = Lifecycle(settings)
    version = _register(life, evidence={"metrics": {}, "evidence": {}, "champion": None})
    life.promote(NAME, version, force=True, reason="fixture")
    settings = attacked()
    life = Lifecycle(settings)
    run_id = life.loader.registered(NAME, version)[1].run_id
    uri = tracking.run_facts(settings, run_id)["artifact_uri"]
    (Path(uri.removeprefix("file://")) / "gate_evidence.json").write_text("{}")
    code, out = _verify(settings)
    assert code == 1 and "gate_evidence.json changed" in out


# ------------------------------------------------------------------------- attack 5
def test_a_replayed_anchor_is_detected_by_the_append_only_anchor_table(
    riskops_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attacked: Callable[[], Settings],
) -> None:
    # Given a keyed home that also anchors to a table outside it (append-only in production)
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "k" * 32)
    monkeypatch.setenv("RISKOPS_AUDIT_ANCHOR_URL", f"sqlite:///{tmp_path / 'anchors.db'}")
    _champion(Lifecycle(Settings()))
    settings = attacked()
    life = Lifecycle(settings)
    # And the anchor file and the registry's tag as they are now, saved by an attacker
    saved_file = settings.audit_anchor_file.read_text()
    saved_tag = life.registry.model_tags()[NAME][AUDIT_HEAD_TAG]
    head = life.trail.records()[-1].seq
    # When two more records are appended, then deleted, and the old anchors restored
    _register(life)
    life.trail.append("noop", NAME, None, note="a later record")
    assert life.trail.records()[-1].seq >= head + 2
    with sqlite3.connect(settings.home / "audit.db") as db:
        db.execute("DELETE FROM riskops_audit WHERE seq > ?", (head,))
    settings.audit_anchor_file.write_text(saved_file)
    life.registry.tag_model(NAME, AUDIT_HEAD_TAG, saved_tag)
    # Then the local anchors agree with the table, but the append-only table does not
    result = AuditTrail(settings).verify()
    assert not result.ok
    assert "append-only anchor table" in result.reason and "no longer holds" in result.reason
    assert _verify(settings)[0] == 1


def test_an_anchor_tag_is_signed_under_the_key(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch, attacked: Callable[[], Settings]
) -> None:
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "k" * 32)
    _champion(Lifecycle(Settings()))
    settings = attacked()
    life = Lifecycle(settings)
    # When the tag is replaced by the head's seq and hash without its MAC
    head = life.trail.records()[-1]
    life.registry.tag_model(NAME, AUDIT_HEAD_TAG, Anchor(head.seq, head.hash, head.ts).value())
    # Then verify names the forged tag
    report = verify_installation(settings)
    assert any(f.kind == "anchor" and "not signed" in f.message for f in report.findings)


# ------------------------------------------------------------------------- attack 6
def test_a_keyed_home_refuses_unkeyed_writes_before_anything_changes(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch, attacked: Callable[[], Settings]
) -> None:
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "k" * 32)
    life = Lifecycle(Settings())
    first = _champion(life)
    second = _register(life)
    life = Lifecycle(attacked())
    records = len(life.trail.records())
    # When a forced promotion is attempted without the key, or with another one
    for key in (None, "x" * 32):
        if key is None:
            monkeypatch.delenv("RISKOPS_AUDIT_KEY")
        else:
            monkeypatch.setenv("RISKOPS_AUDIT_KEY", key)
        result = runner.invoke(
            app, ["promote", NAME, "--version", str(second), "--force", "--reason", "x"]
        )
        # Then it exits 2 naming the key, and nothing changed
        assert result.exit_code == 2, result.output
        assert "RISKOPS_AUDIT_KEY" in result.stderr
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "k" * 32)
    assert len(AuditTrail(Settings()).records()) == records
    assert Registry(Settings()).version_for_alias(NAME, CHAMPION).version == first  # type: ignore[union-attr]
    assert verify_installation(Settings()).ok


# ------------------------------------------------------------------------- attack 8
def test_pds_outside_zero_one_are_refused_at_promotion_even_forced(settings: Settings) -> None:
    life = Lifecycle(settings)
    version = _register(life, model=OutOfRangePD())
    result = life.promote(NAME, version, force=True, reason="attacker")
    assert result.refused
    failed = {r.gate: r.reason for r in result.report.failures}  # type: ignore[union-attr]
    assert "PDs outside [0, 1]" in failed["output_contract"]
    assert _served(settings) is None


def test_a_served_pd_outside_zero_one_is_answered_422_naming_the_model() -> None:
    import time

    from riskops.credit.serving import CreditScoreRequest, score
    from riskops.serving.errors import ServingError
    from riskops.serving.route import Champion

    class Scorer:
        def score_records(self, records: list[dict], k: int) -> list[dict]:
            return [{"pd": -0.5, "grade": "G1", "reasons": []} for _ in records]

    class Validator:
        def validate_python(self, rows: list[dict]) -> list[dict]:
            return rows

    state = type("State", (), {"validator": Validator(), "features": ("Income",)})()
    champion = Champion("credit_pd", 7, "run", "credit", "x", Scorer(), state, time.time())
    request = CreditScoreRequest.model_construct(applicants=[{"Income": 1.0}], reasons=1)
    with pytest.raises(ServingError) as caught:
        score(champion, request, "r1")
    assert caught.value.status == 422
    assert caught.value.body["model"] == "credit_pd"
    assert "credit_pd v7 produced a PD of -0.5" in caught.value.body["message"]


# ------------------------------------------------------------------------- attack 9
def test_names_are_validated_before_any_side_effect(riskops_home: Path, tmp_path: Path) -> None:
    outside = riskops_home.parent / "x.lock"  # where home/locks/../../x.lock would land
    outside.unlink(missing_ok=True)
    before = {p.relative_to(riskops_home) for p in riskops_home.rglob("*")}
    for args in (
        ["promote", "../../x"],
        ["rollback", "../x"],
        ["train", "credit", "--name", ""],
        ["approve", "a/b", "--reason", "r"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
    assert not outside.exists()
    assert {p.relative_to(riskops_home) for p in riskops_home.rglob("*")} == before


# ------------------------------------------------------------------- the property
_OPERATIONS = st.lists(
    st.sampled_from(
        [
            "register",
            "promote",
            "force",
            "rollback",
            "move_champion",
            "move_previous",
            "delete",
        ]
    ),
    min_size=2,
    max_size=7,
)


@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=_OPERATIONS, pick=st.randoms(use_true_random=False))
def test_no_sequence_of_registry_moves_serves_a_champion_the_trail_did_not_approve(
    riskops_home: Path, operations: list[str], pick: Any
) -> None:
    from riskops.errors import RiskOpsError

    # Every example starts from the state the last one left (the home is the test's).
    settings = Settings()
    life = Lifecycle(settings)
    client = life.registry.client
    runs = [_log_model(settings) for _ in range(2)]
    for operation in operations:
        versions = [int(v.version) for v in client.search_model_versions(f"name = '{NAME}'")]
        try:
            if operation == "register":
                _register(life, pick.choice(runs))
            elif operation in ("promote", "force") and versions:
                life.promote(NAME, pick.choice(versions), force=True, reason="property")
            elif operation == "rollback":
                life.rollback(NAME, reason="property")
            elif operation == "move_champion" and versions:
                client.set_registered_model_alias(NAME, CHAMPION, str(pick.choice(versions)))
            elif operation == "move_previous" and versions:
                client.set_registered_model_alias(NAME, PREVIOUS, str(pick.choice(versions)))
            elif operation == "delete" and versions:
                client.delete_registered_model(NAME)
        except RiskOpsError:
            pass  # a refusal (exit 2) is a legitimate answer to a bad request
        # Then whatever is served is a version the trail promoted (or rolled back to) in
        # this incarnation of the model, and the registry's version at that number is it
        served = _served(settings)
        if served is None:
            continue
        records = life.trail.records(NAME)
        state = fold(records, NAME)
        approving = [
            r
            for r in records
            if r.seq >= state.since_seq
            and r.action in ("promote", "override", "rollback")
            and any(
                c.get("alias") == "champion" and c.get("to") == served
                for c in r.body.get("alias_changes") or []
            )
        ]
        assert approving, (operations, served)
        registered = state.versions[served]
        assert client.get_model_version(NAME, str(served)).run_id == registered.identity.run_id


def test_a_cli_command_in_a_subprocess_refuses_unkeyed_writes(
    riskops_home: Path, monkeypatch: pytest.MonkeyPatch, attacked: Callable[[], Settings]
) -> None:
    """The refusal holds for the real command too (its exit code, its one line)."""
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "k" * 32)
    _champion(Lifecycle(Settings()))
    attacked()
    env = {k: v for k, v in os.environ.items() if k != "RISKOPS_AUDIT_KEY"}
    done = subprocess.run(
        [str(RISKOPS), "rollback", NAME],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "RISKOPS_AUDIT_KEY" in done.stderr


# ------------------------------------------------------------------------- shadow
def test_a_shadow_is_recorded_first_projected_and_ended_by_its_promotion(
    settings: Settings,
) -> None:
    from riskops.registry import SHADOW

    life = Lifecycle(settings)
    champion = _champion(life)
    candidate = _register(life)
    # When a registered, loadable version is put in shadow from the CLI
    started = runner.invoke(app, ["shadow", NAME, "--version", str(candidate), "--json"])
    assert started.exit_code == 0, started.output
    assert json.loads(started.stdout.strip().splitlines()[-1])["outcome"] == "shadow_started"
    # Then the trail names it, then the alias does, and the service's source serves it
    record = life.trail.records(NAME)[-1]
    assert record.action == "shadow"
    assert record.body["alias_changes"] == [{"alias": "shadow", "from": None, "to": candidate}]
    assert fold(life.trail.records(NAME), NAME).shadow == candidate
    assert life.registry.version_for_alias(NAME, SHADOW).version == candidate  # type: ignore[union-attr]
    holder = ChampionHolder(LedgerSource(settings), NAME, role="shadow")
    assert holder.refresh() and holder.current.version == candidate  # type: ignore[union-attr]
    # And the champion cannot shadow itself (exit 2)
    assert runner.invoke(app, ["shadow", NAME, "--version", str(champion)]).exit_code == 2
    # When the shadow is promoted, it is no longer a shadow
    assert life.promote(NAME, candidate, force=True, reason="test").promoted
    assert fold(life.trail.records(NAME), NAME).shadow is None
    assert life.registry.version_for_alias(NAME, SHADOW) is None
    # And ending a shadow that does not exist is refused (exit 2)
    assert runner.invoke(app, ["shadow", NAME, "--stop"]).exit_code == 2


def test_a_version_whose_files_changed_cannot_shadow(settings: Settings) -> None:
    from riskops import tracking

    life = Lifecycle(settings)
    _champion(life)
    candidate = _register(life)
    run_id = life.loader.registered(NAME, candidate)[1].run_id
    tracking.configure(settings)
    import mlflow

    experiment = mlflow.get_run(run_id).info.experiment_id
    logged = mlflow.search_logged_models(
        experiment_ids=[experiment],
        filter_string=f"source_run_id = '{run_id}'",
        output_format="list",
    )[0]
    model_file = Path(logged.artifact_location.removeprefix("file://")) / "model.pkl"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(BadInputError, match=r"cannot shadow: .*model\.pkl changed"):
        life.shadow(NAME, candidate)
    assert fold(life.trail.records(NAME), NAME).shadow is None
