"""A home that moves: a ``cp -a`` copy, a restored backup or a home mounted elsewhere works on
its own files, verifies against them, and never reads or writes the original's."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lifecycle.homes import close_connections_under, copy_home, tree_digest

RISKOPS = Path(sys.executable).with_name("riskops")


def _riskops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_"))}
    env["RISKOPS_HOME"] = str(home)
    return subprocess.run(
        [str(RISKOPS), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _locations(home: Path) -> list[str]:
    with sqlite3.connect(home / "mlflow.db") as db:
        rows = db.execute(
            "SELECT artifact_uri FROM runs UNION ALL SELECT artifact_location FROM experiments "
            "UNION ALL SELECT storage_location FROM model_versions"
        ).fetchall()
    return [str(r[0]) for r in rows if r[0]]


@pytest.fixture(scope="module")
def original_home(tmp_path_factory: pytest.TempPathFactory, trained_home_template: Path) -> Path:
    """A home with an audited champion (a historical-simulation VaR on the bundled S&P 500): a
    copy of the run's trained home with its market_var v1 promoted."""
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    home = tmp_path_factory.mktemp("original") / "home"
    shutil.copytree(trained_home_template, home, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("RISKOPS_", "MLFLOW_")):
                mp.delenv(key)
        mp.setenv("RISKOPS_HOME", str(home))
        life = Lifecycle(Settings())
        life.promote("market_var", 1, force=True, reason="home test fixture")
    return home


def test_a_copied_home_verifies_and_writes_only_its_own_files(
    original_home: Path, tmp_path: Path
) -> None:
    # Given a copy of a home with a champion, made the way an operator would (cp -a)
    close_connections_under(original_home)  # the fixture's, before the original is hashed
    copy = copy_home(original_home, tmp_path / "elsewhere" / "home")
    original = tree_digest(original_home)
    # When the copy is verified
    verified = _riskops(copy, "audit", "verify")
    # Then it verifies, and every location in its store now lies under the copy
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert _locations(copy)
    assert all(str(original_home) not in loc for loc in _locations(copy)), _locations(copy)
    assert all(str(copy) in loc for loc in _locations(copy) if loc.startswith("file:"))
    # When the copy trains a new version
    trained = _riskops(copy, "train", "var", "--model", "historical", "--json")
    assert trained.returncode == 0, trained.stderr
    # Then nothing was added to, or changed in, the original: it is byte-identical
    assert tree_digest(original_home) == original
    assert all(str(copy) not in loc for loc in _locations(original_home))


def test_a_change_to_a_file_of_the_copy_is_detected_and_the_original_still_verifies(
    original_home: Path, tmp_path: Path
) -> None:
    # Given a copy of the home
    copy = tmp_path / "restored"
    shutil.copytree(original_home, copy, symlinks=True)
    # When a model file of the copy's champion (market_var) is changed
    (model_file,) = list(copy.glob("artifacts/var/models/*/artifacts/model.skops"))
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    # Then the copy's verification names the changed file, and the original is intact
    copied = _riskops(copy, "audit", "verify")
    assert copied.returncode == 1
    assert "model.skops changed" in copied.stdout
    original = _riskops(original_home, "audit", "verify")
    assert original.returncode == 0, original.stdout


def test_a_home_that_moved_twice_follows_its_last_place(
    original_home: Path, tmp_path: Path
) -> None:
    # Given a copy that was used at one path, then moved to another
    first = tmp_path / "first"
    shutil.copytree(original_home, first, symlinks=True)
    assert _riskops(first, "audit", "verify").returncode == 0
    second = tmp_path / "second"
    first.rename(second)
    # When it is used at its new path
    verified = _riskops(second, "audit", "verify")
    # Then it verifies against the files at its new path only
    assert verified.returncode == 0, verified.stdout
    assert all(str(first) + "/" not in loc for loc in _locations(second))
    assert (second / "home.json").read_text().strip() == f'{{"path": "{second}"}}'


def test_one_process_using_a_home_then_its_copy_writes_into_the_copy(
    riskops_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow caches a run's artifact folder by run id, whatever the store: before RiskOps
    forgot that cache on a change of store, a process that had used a home and then used its
    copy (the same run ids) wrote the copy's artifacts into the original (7 Dec 2026)."""
    from riskops import tracking
    from riskops.settings import Settings
    from tests.lifecycle.test_ledger_truth import _log_model

    # Given a run of the home, whose artifact folder this process has used
    original = Settings()
    run_id = _log_model(original)
    tracking.log_json(original, run_id, {"before": "the copy"}, "notes/before.json")
    # When the home is copied and the same process writes to that run of the copy
    close_connections_under(riskops_home)
    copy = copy_home(riskops_home, tmp_path / "elsewhere" / "home")
    digest = tree_digest(riskops_home)
    for variable in ("MLFLOW_TRACKING_URI", "BENTOML_HOME", "PREFECT_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("RISKOPS_HOME", str(copy))
    uri = tracking.log_json(Settings(), run_id, {"after": "the copy"}, "notes/after.json")
    # Then the file is in the copy's artifacts, and the original is byte-identical
    assert uri.startswith(f"file://{copy}/"), uri
    assert Path(uri.removeprefix("file://")).is_file()
    assert tree_digest(riskops_home) == digest
