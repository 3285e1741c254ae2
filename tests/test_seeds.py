"""The environment's seeds (riskops.seeds): built by the libraries, copied into new homes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from riskops import seeds


@pytest.fixture
def seed_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "seeds"
    monkeypatch.setattr(seeds, "SEED_DIR", folder)
    return folder


def _tables(path: Path) -> dict[str, list[str]]:
    """Each table's and index's definition, as its sorted clauses: MLflow's migrations
    write a table's constraints in an order that differs from one run to the next."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    db.close()
    return {
        name: sorted(line.strip().rstrip(",") for line in sql.splitlines()) for name, sql in rows
    }


def _one_table(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO things (name) VALUES ('seeded')")
    db.close()


def test_a_seed_is_named_for_its_librarys_installed_version(seed_dir: Path) -> None:
    assert seeds.seed_path("mlflow") == seed_dir / f"mlflow-{version('mlflow')}.db"
    assert seeds.seed_path("prefect") == seed_dir / f"prefect-{version('prefect')}.db"
    assert seeds.seed_path("numba") == seed_dir / f"numba-{version('numba')}.cache"


def test_a_seed_is_built_once_and_copied_only_where_no_database_is(
    seed_dir: Path, tmp_path: Path
) -> None:
    # Given a seed built by its builder (then kept: a second build does not run it)
    built = seeds.write_seed("mlflow", _one_table)
    assert seeds.write_seed("mlflow", lambda path: pytest.fail("built twice")) == built
    assert [p.name for p in seed_dir.iterdir()] == [built.name]  # no work folder left
    # When a new home copies it
    target = tmp_path / "home" / "mlflow.db"
    assert seeds.copy_seed("mlflow", target) is True
    # Then the home has the seed's content, and no write-ahead log or partial file beside it
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT name FROM things").fetchall() == [("seeded",)]
        db.execute("UPDATE things SET name = 'used'")
    db.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["mlflow.db"]
    # and a second copy never replaces the database the home already has
    assert seeds.copy_seed("mlflow", target) is False
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT name FROM things").fetchall() == [("used",)]
    db.close()


def test_without_a_seed_nothing_is_copied(seed_dir: Path, tmp_path: Path) -> None:
    assert seeds.copy_seed("prefect", tmp_path / "prefect.db") is False
    assert not (tmp_path / "prefect.db").exists()


def test_a_cache_seed_is_copied_whole_into_a_new_folder_only(
    seed_dir: Path, tmp_path: Path
) -> None:
    # Given a cache seed of two files
    def build(folder: Path) -> None:
        (folder / "sub").mkdir()
        (folder / "sub" / "a.nbi").write_text("index")
        (folder / "sub" / "a.nbc").write_text("code")

    seeds.write_seed("numba", build)
    # When a new home copies it, then both files are there
    target = tmp_path / "home" / "cache" / "numba"
    assert seeds.copy_seed("numba", target) is True
    assert sorted(p.name for p in (target / "sub").iterdir()) == ["a.nbc", "a.nbi"]
    # and a folder that exists is left as it is
    (target / "sub" / "a.nbc").write_text("recompiled")
    assert seeds.copy_seed("numba", target) is False
    assert (target / "sub" / "a.nbc").read_text() == "recompiled"


def _alembic_version(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    db.close()
    return str(revision)


def _head(scripts: Path, versions: Path) -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(scripts), version_locations=[str(versions)]).get_current_head()
    assert head is not None
    return head


def test_the_installed_database_seeds_are_at_their_libraries_heads() -> None:
    # Given the seeds `make install` built for this environment
    import mlflow
    import prefect

    mlflow_seed, prefect_seed = seeds.seed_path("mlflow"), seeds.seed_path("prefect")
    assert mlflow_seed.is_file() and prefect_seed.is_file(), "run `make install`"
    # Then each is at the newest migration of the installed library
    mlflow_scripts = Path(mlflow.__file__).parent / "store" / "db_migrations"
    assert _alembic_version(mlflow_seed) == _head(mlflow_scripts, mlflow_scripts / "versions")
    prefect_scripts = Path(prefect.__file__).parent / "server" / "database" / "_migrations"
    assert _alembic_version(prefect_seed) == _head(
        prefect_scripts, prefect_scripts / "versions" / "sqlite"
    )


def test_a_home_from_the_seed_has_the_store_mlflow_creates_itself(
    tmp_path: Path, riskops_home: Path
) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from riskops.settings import Settings
    from riskops.tracking import configure

    # Given a store MLflow migrates from nothing
    scratch = tmp_path / "scratch.db"
    SqlAlchemyStore(f"sqlite:///{scratch}", (tmp_path / "scratch").as_uri()).engine.dispose()
    # When a new home creates its store (from the installed seed)
    assert seeds.seed_path("mlflow").is_file(), "run `make install`"
    (riskops_home / "mlflow.db").unlink()
    configure(Settings())
    store = riskops_home / "mlflow.db"
    # Then it has the same tables, columns, constraints, indexes and revision
    assert _tables(store) == _tables(scratch)
    assert _alembic_version(store) == _alembic_version(scratch)
    # and exactly one experiment, the Default one, whose artifacts stay under this home
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT experiment_id, artifact_location FROM experiments").fetchall()
    db.close()
    assert len(rows) == 1 and rows[0][0] == 0
    assert rows[0][1].startswith(riskops_home.resolve().as_uri())


def test_a_new_home_loads_the_kernels_compiled_at_installation(tmp_path: Path) -> None:
    # Given a fresh process with an empty RISKOPS_HOME and numba's own cache choice
    assert seeds.seed_path("numba").is_dir(), "run `make install`"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env |= {"RISKOPS_HOME": str(tmp_path / "home"), "NUMBA_DEBUG_CACHE": "1"}
    # When it explains rows with the kernels
    done = subprocess.run(
        [sys.executable, "-c", "from riskops.treeshap import compile_kernels; compile_kernels()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then numba loaded both from the copy of the seed and compiled nothing
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("data loaded from") == 2, done.stdout[-2000:]
    assert "data saved to" not in done.stdout
