"""Shared fixtures: an isolated RISKOPS_HOME with a real SQLite MLflow store per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Telemetry would try the network; set before anything imports Prefect, MLflow or BentoML.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# Compiled Tree SHAP kernels (riskops.treeshap) are cached by numba under the home; the
# many unit tests that build detectors without a RISKOPS_HOME share one cache outside the
# checkout instead (and compile once for every run on this machine).
os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"riskops-tests-numba-{os.getuid()}")
)


def _in_ci() -> bool:
    """CI sets ``CI=true``; there every optional suite must really run."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


_skipped_deep_tests: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """In CI the deep models are tested, never skipped: PyTorch must be importable."""
    if not _in_ci():
        return
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise pytest.UsageError(
            "CI=true but PyTorch is not installed, so the LSTM/Transformer tests would be "
            "skipped: run `make test` (it installs the CPU wheel via `make install-deep`)"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "deep" in report.keywords:
        _skipped_deep_tests.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A deep-model test skipped in CI fails the run (never a silent pass)."""
    if _in_ci() and _skipped_deep_tests:
        print(f"\nCI=true: {len(_skipped_deep_tests)} deep-model test(s) were skipped:")
        for nodeid in _skipped_deep_tests:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _full_training_runs(root: Path) -> set[str]:
    """Run ids of the full trainings in every SQLite MLflow store under ``root``.

    A full training (``riskops.lifecycle.training.register``: data loaded, a family's model
    fitted and evaluated) tags its run ``origin``; a small model a test logs itself
    (``tests/lifecycle/test_ledger_truth.py``) does not. Copies of a trained home hold the
    same run ids, so each training counts once however often its home was copied.
    """
    import sqlite3
    from contextlib import closing

    runs: set[str] = set()
    for db in root.rglob("mlflow.db"):
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                found = conn.execute("SELECT run_uuid FROM tags WHERE key = 'origin'").fetchall()
        except sqlite3.Error:
            continue
        runs.update(run for (run,) in found)
    return runs


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """``COUNT_TRAININGS=1`` (not a ``RISKOPS_`` name: settings refuse unknown ones): how
    many full trainings the run made, counted from the
    MLflow stores its homes left under the run's temporary folder (every xdist worker's
    folder is inside the controller's). Homes on PostgreSQL (the production tests) are not
    counted."""
    if not os.environ.get("COUNT_TRAININGS") or hasattr(config, "workerinput"):
        return
    root = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    runs = _full_training_runs(root)
    terminalreporter.write_line(f"full trainings (MLflow runs tagged origin): {len(runs)}")


# `make test` runs the suite on two pytest-xdist workers (`-n 2`). A group of tests is
# scheduled on one worker as a whole, so a fixture it shares is built once: each folder whose
# tests share session fixtures (a live service with four champions, a governed home, the
# production servers) is one group, and every other file is a group of its own (module
# fixtures such as a Prefect test harness or the demo's run). xdist's own `loadgroup` cannot
# do this with pytest 9 (it renames node ids, which pytest 9 derives from their structure),
# so the scheduler below is xdist's `loadscope` with RiskOps's groups as scopes. The heaviest
# groups are collected first (measured with --durations, 2026-11-27: the demo's tests and the
# production servers are about half of the suite), so that the other worker takes the many
# small groups meanwhile instead of one worker finishing alone.
_FOLDER_GROUPS = ("serving", "governance", "production", "identity", "decisions", "live")
_HEAVIEST_FIRST = (
    "tests/flows/test_demo.py",
    "tests/production",
    "tests/serving",
    "tests/flows/test_universe.py",
    "tests/lifecycle/test_lifecycle.py",
    "tests/flows/test_deployments.py",
    "tests/anomaly/test_anomaly_family.py",
    "tests/flows/test_prefect_conventions.py",
    "tests/lifecycle/test_byom.py",
    "tests/governance",
    "tests/identity",
)


def _group_of(nodeid: str) -> str:
    """``tests/serving`` for the folders of _FOLDER_GROUPS, else the test's file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in _FOLDER_GROUPS:
        return "/".join(parts[:2])
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        group = _group_of(item.nodeid)
        return _HEAVIEST_FIRST.index(group) if group in _HEAVIEST_FIRST else len(_HEAVIEST_FIRST)

    items.sort(key=rank)  # stable: within a rank, collection order


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class FixtureGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group_of(nodeid)

    return FixtureGroupScheduling(config, log)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """``/usr/bin/chromium``, installed with apt-get when missing (skip only without apt)."""
    from filelock import FileLock

    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("chromium is missing and apt-get is not available to install it")
    prefix = [] if os.geteuid() == 0 or shutil.which("sudo") is None else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Two xdist workers may both need it: one installs, the other waits for dpkg's lock.
    with FileLock(Path(tempfile.gettempdir()) / "riskops-tests-chromium.lock"):
        if not CHROMIUM.exists():
            subprocess.run([*prefix, apt, "update"], check=True, env=env, timeout=900)
            subprocess.run(
                [*prefix, apt, "install", "-y", "chromium"], check=True, env=env, timeout=1800
            )
    assert CHROMIUM.exists(), "apt-get installed chromium but /usr/bin/chromium is missing"
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_args() -> list[str]:
    """Arguments for a headless Chromium that makes no network requests of its own."""
    return list(CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database migrated once per session; tests get copies of it."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    path = folder / "mlflow.db"
    # Like riskops.tracking: the Default experiment's artifacts outside the working directory.
    SqlAlchemyStore(f"sqlite:///{path}", (folder / "artifacts").as_uri())
    return path


CHECKOUT = Path(__file__).resolve().parents[1]


def _checkout_state() -> tuple[set[str], set[str]]:
    """Untracked paths of the checkout (but sources), and what its ``mlruns/`` holds."""
    status: set[str] = set()
    git = shutil.which("git")
    if git is not None and (CHECKOUT / ".git").exists():
        done = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=all"],
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            # New untracked files only: tracked files and sources being edited while the
            # tests run are the developer's, not the tests'.
            status = {
                line
                for line in done.stdout.splitlines()
                if line.startswith("??") and not line.endswith((".py", ".md", ".toml", ".yaml"))
            }
    mlruns = CHECKOUT / "mlruns"
    held = {str(p.relative_to(mlruns)) for p in mlruns.rglob("*")} if mlruns.exists() else set()
    return status, held - {".gitkeep", "README.md"}


@pytest.fixture(scope="session", autouse=True)
def checkout_stays_clean() -> Iterator[None]:
    """State stays under RISKOPS_HOME: the session must leave the checkout as it found it
    (no new untracked files, nothing in ``mlruns/`` but its placeholder files)."""
    before_status, before_mlruns = _checkout_state()
    yield
    after_status, after_mlruns = _checkout_state()
    written = sorted((after_status - before_status) | (after_mlruns - before_mlruns))
    assert not written, f"the tests wrote into the checkout {CHECKOUT}: {written[:20]}"


@pytest.fixture(autouse=True)
def cli_consoles_follow_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich fixes a console's width from ``COLUMNS`` when the console is made, and
    ``riskops.cli.output`` makes its consoles at import, i.e. in whichever test imports it
    first (with that test's ``CliRunner`` environment): each test's own ``COLUMNS`` decides."""
    import sys

    output = sys.modules.get("riskops.cli.output")
    if output is not None:
        for console in (output.stdout, output.stderr):
            monkeypatch.setattr(console, "_width", None)


PREFECT_SERVER_FIXTURES = frozenset(
    {"prefect_api", "prefect_server", "story", "production_env", "production_settings"}
)
"""The fixtures that give a test a Prefect server (and export ``PREFECT_API_URL``)."""


@pytest.fixture(autouse=True)
def _prefect_server_only_when_asked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test sees ``PREFECT_API_URL`` only when it asks for a Prefect server.

    Why: with the variable set, ``riskops train``/``promote`` run as flow runs on that
    server. An address another test left behind (its server stopped since) turned bad-input
    exits 2 into connection errors in tests that never asked for Prefect.
    """
    if PREFECT_SERVER_FIXTURES.isdisjoint(request.fixturenames):
        monkeypatch.delenv("PREFECT_API_URL", raising=False)


@pytest.fixture
def riskops_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_mlflow_db: Path
) -> Iterator[Path]:
    """A fresh RISKOPS_HOME holding a ready MLflow store, with the environment pointing at it."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    for key in list(os.environ):
        if key.startswith("RISKOPS_") or key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("RISKOPS_ACTOR", "pytest")
    yield home
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()


# One trained home for the whole run: the trainings that many lifecycle tests start from
# (the default credit model on the bundled applicants, a historical-simulation VaR on the
# bundled S&P 500), made once by the real lifecycle and copied into each test that asks for
# it (homes are relocatable: riskops.home). Under pytest-xdist the first worker to need it
# builds it in the run's shared temporary folder while the other waits on a file lock.
TRAINED = {
    "credit_pd": ("credit", {}),
    "market_var": ("var", {"model": "historical", "extra": {"eval_days": 250}}),
}
"""Registered model -> (family, TrainOptions) of each version 1 of the trained home."""


@pytest.fixture(scope="session")
def trained_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's trained home (see :data:`TRAINED`): version 1 of each model, a challenger
    registered by the real lifecycle, trained with ``RISKOPS_ACTOR=pytest``. Never written
    to: tests get copies (:func:`trained_home`)."""
    from filelock import FileLock

    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    folder = shared / "trained-home"
    home = folder / "home"
    with FileLock(shared / "trained-home.lock"):
        if (folder / "complete").exists():
            return home
        shutil.rmtree(folder, ignore_errors=True)
        # The store is made by riskops from its seeds, as a user's home is: every location
        # in it (the Default experiment's too) is under the home, so copies relocate whole.
        home.mkdir(parents=True)
        with pytest.MonkeyPatch.context() as mp:
            for key in list(os.environ):
                if key.startswith("RISKOPS_") or key.startswith("MLFLOW_"):
                    mp.delenv(key)
            for key in ("BENTOML_HOME", "PREFECT_HOME"):
                mp.delenv(key, raising=False)
            mp.setenv("RISKOPS_HOME", str(home))
            mp.setenv("RISKOPS_ACTOR", "pytest")
            from riskops.families.base import TrainOptions
            from riskops.lifecycle import Lifecycle
            from riskops.settings import Settings

            life = Lifecycle(Settings())
            for name, (family, options) in TRAINED.items():
                trained = life.train(family, options=TrainOptions(**options))
                assert (trained.name, trained.version) == (name, 1)
            import mlflow

            while mlflow.active_run() is not None:
                mlflow.end_run()
        (folder / "complete").write_text("built once for this run\n")
    return home


@pytest.fixture
def trained_home(riskops_home: Path, trained_home_template: Path) -> Path:
    """This test's ``riskops_home``, a copy of the run's trained home (version 1 of
    ``credit_pd`` and of ``market_var``, both challengers; see :data:`TRAINED`)."""
    shutil.rmtree(riskops_home)
    shutil.copytree(trained_home_template, riskops_home, symlinks=True)
    return riskops_home


@pytest.fixture
def settings(riskops_home: Path):  # type: ignore[no-untyped-def]
    from riskops.settings import Settings

    return Settings()
