"""What a new home would build first, built once per installed environment and copied.

MLflow and Prefect create their SQLite databases by running every schema migration on
first use: about 4 s for MLflow and 16–22 s for Prefect's 114 on a 2-core machine, paid
by every new ``RISKOPS_HOME`` (and by ``riskops demo`` before its first flow could run);
numba compiles the Tree SHAP kernels (3.4 s). Installation (``make install``, the
container images; ``python -m pipelines.seeds``) runs those same migrations and that
compilation once, through the libraries' own code, and keeps the results under the
environment's prefix. A new home starts from copies: the libraries then find the schema
at its head and the machine code in their cache, and check both as they always do. A seed
is named for the installed version of its library, so a seed left from another version is
never used; without seeds (an environment installed by other means) everything is built
on first use as before.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

__all__ = ["SEED_DIR", "copy_seed", "seed_path", "write_seed"]

SEED_DIR = Path(sys.prefix) / "share" / "riskops" / "seeds"
"""Where the installed environment keeps its seeds (beside its packages, not in a home)."""


_KINDS = {"mlflow": "db", "prefect": "db", "numba": "cache"}
"""Each seed's library and what it is: a SQLite file, or a folder of numba's cache."""


def seed_path(package: str) -> Path:
    """The seed of ``package`` ("mlflow", "prefect" or "numba") for its installed version."""
    return SEED_DIR / f"{package}-{version(package)}.{_KINDS[package]}"


def copy_seed(package: str, target: Path) -> bool:
    """Create ``target`` as a copy of the seed of ``package``; whether it did.

    False when there is no seed, or when ``target`` exists: nothing is ever overwritten,
    also when another process creates it at the same moment (the copy is moved into
    place by a link or a rename that fails rather than replaces).
    """
    seed = seed_path(package)
    if not seed.exists() or target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.seeding-{os.getpid()}")
    if seed.is_dir():
        shutil.copytree(seed, partial)
        try:
            os.rename(partial, target)  # fails when ``target`` is a folder with entries
        except OSError:
            shutil.rmtree(partial)
            return False
        return True
    shutil.copyfile(seed, partial)
    try:
        os.link(partial, target)
    except FileExistsError:
        return False
    finally:
        partial.unlink()
    return True


def write_seed(package: str, build: Callable[[Path], None]) -> Path:
    """Build the seed of ``package`` with ``build(path)`` unless it exists; its path.

    ``build`` creates the database (or fills the folder) at ``path`` with the library's
    own code. A database is then compacted into one file (no write-ahead log); either is
    renamed into place, so that a reader never sees half a seed.
    """
    final = seed_path(package)
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as work:
        path = Path(work) / "seed"
        if _KINDS[package] == "cache":
            path.mkdir()
            build(path)
        else:
            build(path)
            db = sqlite3.connect(path, isolation_level=None)
            try:
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                db.close()  # the last connection: SQLite removes the write-ahead log
        os.replace(path, final)
    return final
