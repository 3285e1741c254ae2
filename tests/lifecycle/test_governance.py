"""Governance that cannot be bypassed, on real MLflow (SQLite in tmp_path): aliases moved
outside RiskOps, a crash between record and alias, tampered and malicious model files, and
maker-checker approval.

Most cases need a registered version, not a good model: a small logistic regression is
logged as the credit model and registered through the lifecycle (audited, hashed), so each
case takes seconds. The approval case trains real credit models, since its gates must pass.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from typer.testing import CliRunner

from riskops.audit import Anchor, AuditTrail
from riskops.cli import app
from riskops.errors import ArtifactIntegrityError, BadInputError, NotFoundError
from riskops.ledger.loader import VerifiedLoader
from riskops.ledger.state import fold
from riskops.ledger.verify import verify_installation
from riskops.lifecycle import Lifecycle
from riskops.lifecycle.promotion import ARTIFACT_GATE
from riskops.manifests import manifest_digest
from riskops.registry import AUDIT_HEAD_TAG, CHALLENGER, CHAMPION, MANIFEST_TAG, Registry
from riskops.settings import Settings

runner = CliRunner()
NAME = "credit_pd"


def _log_small_model(settings: Settings) -> str:
    """A fitted logistic regression logged like a credit model; returns the run id."""
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


def _model_dir(settings: Settings, run_id: str) -> Path:
    """Where the artifact store keeps the run's logged model (a local folder here)."""
    import mlflow

    from riskops import tracking

    tracking.configure(settings)
    run = mlflow.get_run(run_id)
    logged = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
        output_format="list",
    )[0]
    return Path(unquote(urlparse(logged.artifact_location).path))


def _register_small(life: Lifecycle) -> tuple[int, str]:
    run_id = _log_small_model(life.settings)
    version = life.register_version(run_id, NAME, {"family": "credit", "model_kind": "small"})
    return version, run_id


def _small_champion(life: Lifecycle) -> tuple[int, str]:
    """A registered version made champion by a recorded override (it has no gate evidence)."""
    version, run_id = _register_small(life)
    life.promote(NAME, version, force=True, reason="test fixture without gate evidence")
    return version, run_id


class _Evil:
    """Unpickling this writes ``path``: a harmless stand-in for arbitrary code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.path, "code ran"))


# --------------------------------------------------------------------- aliases and the trail
def test_an_alias_moved_with_the_plain_mlflow_client_fails_verify_naming_the_model(
    settings: Settings,
) -> None:
    life = Lifecycle(settings)
    # Given an audited champion v1 and a registered v2 that never passed a gate
    _small_champion(life)
    second, _ = _register_small(life)
    # When the champion alias is moved with the plain MLflow client
    life.registry.client.set_registered_model_alias(NAME, CHAMPION, str(second))
    # Then verify exits non-zero naming credit_pd and both versions
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "credit_pd@champion points to v2" in result.stdout
    report = verify_installation(settings)
    assert report.models[NAME]["state"] == "mismatch"
    assert report.models[NAME]["audited_champion"] == 1
    # And the service's view (the holder over the real trail and registry) serves v1
    from services.champions import ChampionHolder, LedgerSource

    holder = ChampionHolder(LedgerSource(settings), NAME)
    assert holder.refresh()
    assert holder.current is not None and holder.current.version == 1
    status = holder.status()
    assert status["alias_version"] == 2 and "the alias is not used" in status["note"]


class _Crash(BaseException):
    """A process dying between two statements (not an exception anything catches)."""


def test_a_crash_between_the_record_and_the_alias_leaves_a_recorded_intent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    life = Lifecycle(settings)
    first, _ = _small_champion(life)
    second, _ = _register_small(life)

    # Given the process dies right after the promotion record, before the alias moves
    def crash(*args: object) -> None:
        raise _Crash

    set_alias = Registry.set_alias
    monkeypatch.setattr(Registry, "set_alias", crash)
    with pytest.raises(_Crash):
        life.promote(NAME, second, force=True, reason="crash test")
    # Then the record exists: the trail's champion is v2 although the alias did not move
    assert life.trail.records(NAME)[-1].action == "override"
    assert life.registry.version_for_alias(NAME, CHAMPION).version == first  # type: ignore[union-attr]
    assert fold(life.trail.records(NAME), NAME).champion == second
    # And verify reports a projection not yet applied (a warning: v2 is what is served)
    report = verify_installation(settings)
    assert report.ok, report.findings
    lagging = {f.message.split()[0]: f for f in report.findings}
    assert set(lagging) == {"credit_pd@champion", "credit_pd@previous", "credit_pd@challenger"}
    assert {f.kind for f in report.findings} == {"projection"}
    assert "was not applied" in lagging["credit_pd@champion"].message
    # When the aliases are reconciled (audited first), then the registry agrees again
    monkeypatch.setattr(Registry, "set_alias", set_alias)
    reconciled = runner.invoke(app, ["reconcile", NAME, "--json"])
    assert reconciled.exit_code == 0, reconciled.output
    assert life.registry.version_for_alias(NAME, CHAMPION).version == second  # type: ignore[union-attr]
    assert life.trail.records(NAME)[-1].action == "reconcile"
    assert verify_installation(settings).findings == []


def test_registration_is_recorded_before_the_challenger_alias_moves(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    life = Lifecycle(settings)
    run_id = _log_small_model(settings)

    def crash(*args: object) -> None:
        raise _Crash

    # Given a crash at the alias move of a registration
    monkeypatch.setattr(Registry, "set_alias", crash)
    with pytest.raises(_Crash):
        life.register_version(run_id, NAME, {"family": "credit"})
    # Then the register record (with its artifact hashes) exists and no alias does
    record = life.trail.records(NAME)[-1]
    assert record.action == "register" and record.body["alias_change"]["alias"] == CHALLENGER
    assert "model.pkl" in record.body["artifacts"]
    assert life.registry.version_for_alias(NAME, CHALLENGER) is None


# ------------------------------------------------------------------- verified artifacts
def test_registration_records_the_sha256_of_every_model_file(settings: Settings) -> None:
    import hashlib

    life = Lifecycle(settings)
    version, run_id = _register_small(life)
    folder = _model_dir(settings, run_id)
    on_disk = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }
    record = life.trail.records(NAME)[-1]
    assert record.body["artifacts"] == on_disk
    assert {"MLmodel", "model.pkl"} <= set(on_disk)
    # and the version's tag is the manifest's digest, which the record's identity states
    tag = life.registry.get_version(NAME, version).tags[MANIFEST_TAG]
    assert tag == manifest_digest(on_disk) == record.body["identity"]["content"]


def test_one_byte_appended_to_the_champions_model_file_fails_verify_and_loading(
    settings: Settings,
) -> None:
    life = Lifecycle(settings)
    _, run_id = _small_champion(life)
    assert verify_installation(settings).ok
    # When one byte is appended to the champion's model file
    with (_model_dir(settings, run_id) / "model.pkl").open("ab") as handle:
        handle.write(b"\0")
    # Then verify fails naming the file, and loading the version is refused
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "model.pkl changed" in result.stdout
    with pytest.raises(ArtifactIntegrityError, match=r"model\.pkl changed"):
        VerifiedLoader(settings).champion(NAME)


def test_a_malicious_pickle_registered_outside_riskops_never_runs(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    _small_champion(life)
    marker = tmp_path / "pwned"
    # Given a new version created with the plain MLflow client whose model.pkl runs code
    run_id = _log_small_model(settings)
    folder = _model_dir(settings, run_id)
    (folder / "model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    created = life.registry.client.create_model_version(NAME, str(folder), run_id=run_id)
    version = int(created.version)
    # When it is promoted, even by force, or loaded, then it is refused: the trail never
    # registered it (exit 2 naming the version), before anything is unpickled
    with pytest.raises(NotFoundError, match="not registered through RiskOps"):
        life.promote(NAME, version, force=True, reason="attacker")
    with pytest.raises(NotFoundError, match="not registered through RiskOps"):
        VerifiedLoader(settings).load(NAME, version)
    assert not marker.exists()
    assert life.registry.version_for_alias(NAME, CHAMPION).version == 1  # type: ignore[union-attr]


def test_a_malicious_pickle_swapped_into_an_audited_version_never_runs(
    settings: Settings, tmp_path: Path
) -> None:
    life = Lifecycle(settings)
    _small_champion(life)
    second, run_id = _register_small(life)
    marker = tmp_path / "pwned"
    # Given the audited challenger's model.pkl replaced in the artifact store
    (_model_dir(settings, run_id) / "model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    # When promoted by force
    result = life.promote(NAME, second, force=True, reason="attacker")
    # Then the hash mismatch refused it before anything was unpickled
    assert result.refused
    assert "model.pkl changed" in " ".join(result.reasons())
    assert not marker.exists()


def test_a_model_that_cannot_load_is_refused_even_when_forced(settings: Settings) -> None:
    life = Lifecycle(settings)
    # Given a logged model cut in half *before* registration (so its hashes are audited)
    run_id = _log_small_model(settings)
    model_file = _model_dir(settings, run_id) / "model.pkl"
    model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
    version = life.register_version(run_id, NAME, {"family": "credit"})
    # When promoted by force, then promotion loads it, fails, and refuses
    refused = life.promote(NAME, version, force=True, reason="half a model")
    assert refused.refused and refused.report is not None
    failure = {r.gate: r.reason for r in refused.report.failures}[ARTIFACT_GATE]
    assert "Error" in failure
    assert life.registry.version_for_alias(NAME, CHAMPION) is None
    assert AuditTrail(settings).records(NAME)[-1].action == "refuse"


def test_the_registry_tag_anchors_the_trail_and_a_truncation_below_it_fails_verify(
    settings: Settings,
) -> None:
    import sqlite3

    life = Lifecycle(settings)
    _small_champion(life)
    anchor = Anchor.parse(life.registry.model_tags()[NAME][AUDIT_HEAD_TAG])
    head = life.trail.records()[-1]
    assert (anchor.seq, anchor.hash, anchor.ts) == (head.seq, head.hash, head.ts)
    # When the newest records are deleted and the anchor *file* is rewritten to match
    with sqlite3.connect(settings.home / "audit.db") as conn:
        conn.execute("DELETE FROM riskops_audit WHERE seq >= ?", (head.seq - 1,))
        kept = conn.execute("SELECT seq, hash FROM riskops_audit ORDER BY seq DESC").fetchone()
    settings.audit_anchor_file.write_text(
        json.dumps({"seq": kept[0], "hash": kept[1], "ts": "", "scheme": "sha256"})
    )
    # Then the registry's tag still names the deleted head
    report = verify_installation(settings)
    assert not report.ok
    assert any(f.kind == "anchor" and f.model == NAME for f in report.findings)


# ------------------------------------------------------------------------- maker-checker
APPROVAL_POLICY = """\
credit_pd:
  family: credit
  floors:
    - {metric: auc, min: 0.6}
  approvals: 1
"""


def _as(monkeypatch: pytest.MonkeyPatch, actor: str) -> Lifecycle:
    monkeypatch.setenv("RISKOPS_ACTOR", actor)
    return Lifecycle(Settings())


def test_with_one_approval_required_a_second_person_must_approve(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from riskops.data import DataSource
    from riskops.data.credit import load_credit
    from riskops.families.base import TrainOptions

    # Given a policy requiring one approval, and a credit model alice trained (small data)
    policy = tmp_path / "policies.yaml"
    policy.write_text(APPROVAL_POLICY)
    monkeypatch.setenv("RISKOPS_POLICY_FILE", str(policy))
    data = tmp_path / "credit.csv"
    load_credit().frame.sample(1500, random_state=3).to_csv(data, index=False)
    source = DataSource(domain="credit", path=data, target="Status", positive_label="bad")
    alice = _as(monkeypatch, "alice")
    trained = alice.train(
        "credit", source=source, options=TrainOptions(extra={"params": {"n_estimators": 40}})
    )
    # When alice promotes it: the gates pass, the champion is unchanged, a request is recorded
    result = alice.promote(NAME, trained.version)
    assert result.report is not None and result.report.passed
    assert result.outcome == "awaiting_approval"
    assert "awaiting 1 approval" in result.note
    assert alice.registry.version_for_alias(NAME, CHAMPION) is None
    # And alice cannot approve her own request (exit 2), nor can an approval lack a reason
    denied = runner.invoke(
        app, ["approve", NAME, "--version", str(trained.version), "--reason", "mine"]
    )
    assert denied.exit_code == 2
    assert "cannot approve" in denied.stderr
    with pytest.raises(BadInputError):
        _as(monkeypatch, "bob").approve(NAME, trained.version, " ")
    assert alice.registry.version_for_alias(NAME, CHAMPION) is None
    # When bob approves, then it is champion
    monkeypatch.setenv("RISKOPS_ACTOR", "bob")
    approved = runner.invoke(
        app, ["approve", NAME, "--version", str(trained.version), "--reason", "reviewed the report"]
    )
    assert approved.exit_code == 0, approved.output
    assert alice.registry.version_for_alias(NAME, CHAMPION).version == trained.version  # type: ignore[union-attr]
    # And the audit shows the request by alice, the approval and the promotion by bob
    records = [(r.action, r.actor) for r in AuditTrail(settings).records(NAME)]
    assert records[-3:] == [("approval_requested", "alice"), ("approve", "bob"), ("promote", "bob")]
    promote = AuditTrail(settings).records(NAME)[-1]
    assert promote.body["requested_by"] == "alice" and promote.body["approved_by"] == ["bob"]
    # And the copy of the card logged at that decision holds the request and the approval
    from riskops import tracking

    assert f"governance/promotion-{promote.seq:06d}/" in "".join(approved.output.split())
    card = tracking.download(
        settings,
        promote.body["run_id"],
        f"governance/promotion-{promote.seq:06d}/model_card.md",
        tmp_path / "card",
    ).read_text()
    assert "| approval_requested |" in card and "approved by bob (requested by alice)" in card
    assert verify_installation(settings).ok
    # And the credit model was stored with skops (no code runs on load), not as a pickle
    register = next(r for r in AuditTrail(settings).records(NAME) if r.action == "register")
    assert "model.skops" in register.body["artifacts"]
    assert "model.pkl" not in register.body["artifacts"]
    # And lineage lists them in words
    lineage = runner.invoke(app, ["lineage", NAME, "--version", str(trained.version), "--json"])
    decisions = [e["decision"] for e in json.loads(lineage.stdout)["audit_records"]]
    assert any("awaits 1 approval" in d for d in decisions)
    assert any("approved by bob (requested by alice)" in d for d in decisions)


def test_a_rejected_request_cannot_be_approved_afterwards(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a request for a registered version
    life = Lifecycle(settings)
    version, _ = _register_small(life)
    trail = life.trail
    request = trail.append("approval_requested", NAME, version, actor="alice", required_approvals=1)
    assert version in fold(trail.records(NAME), NAME).pending
    # When carol rejects it
    trail.append(
        "reject", NAME, version, actor="carol", reason="weak evidence", request_seq=request.seq
    )
    # Then nothing is pending, and approving is refused with exit 2
    assert fold(trail.records(NAME), NAME).pending == {}
    monkeypatch.setenv("RISKOPS_ACTOR", "bob")
    result = runner.invoke(app, ["approve", NAME, "--version", str(version), "--reason", "ok"])
    assert result.exit_code == 2
    assert "no pending promotion request" in result.stderr


# ------------------------------------------------------------------------- safe formats
class _NotTrusted:
    """A type on no allow-list."""

    def predict(self, X: object) -> list[float]:
        return [0.0]


def test_skops_refuses_a_type_outside_the_allow_list_and_logging_falls_back(
    tmp_path: Path,
) -> None:
    import skops.io as sio

    from riskops.families import trusted_types
    from riskops.serialization import CLOUDPICKLE, choose_format, load_skops

    # Given a skops file holding a type RiskOps does not trust
    data = sio.dumps(_NotTrusted())
    path = tmp_path / "model.skops"
    path.write_bytes(data)
    # When loaded through RiskOps's loader, then it is refused before the object is built
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        load_skops(str(path), trusted_types())
    # And such an estimator is logged as a (hash-verified) pickle instead
    assert choose_format(_NotTrusted(), [[0.0]], "predict", trusted_types()) == CLOUDPICKLE
