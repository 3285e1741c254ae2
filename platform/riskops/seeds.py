"""Empty databases, migrated once per installed environment and copied into each new home.

MLflow and Prefect create their SQLite databases by running every schema migration on
first use: about 4 s for MLflow and 16–22 s for Prefect's 114 on a 2-core machine, paid
by every new ``RISKOPS_HOME`` (and by ``riskops demo`` before its first flow could run).
Installation (``make install``, the container images) runs those same migrations once,
through the libraries' own code, and keeps the result under the environment's prefix;
a new home starts from a copy and the library then finds its schema already at its
head. A seed is named for the installed version of its library, so a seed left from
another version is never used; without a seed (an environment installed by other means)
the library migrates as before.
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


def seed_path(package: str) -> Path:
    """The seed of ``package`` ("mlflow" or "prefect") for its installed version."""
    return SEED_DIR / f"{package}-{version(package)}.db"


def copy_seed(package: str, target: Path) -> bool:
    """Create ``target`` as a copy of the seed of ``package``; whether it did.

    False when there is no seed, or when ``target`` exists (a database is never
    overwritten, also when another process creates it at the same moment: the copy is
    linked into place, which fails rather than replaces).
    """
    seed = seed_path(package)
    if not seed.is_file() or target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.seeding-{os.getpid()}")
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

    ``build`` creates the database at ``path`` with the library's own migrations. The
    result is checkpointed (one file, no write-ahead log), compacted, and renamed into
    place, so that a reader never sees half a seed.
    """
    final = seed_path(package)
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as work:
        path = Path(work) / "seed.db"
        build(path)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()  # the last connection: SQLite removes the write-ahead log
        os.replace(path, final)
    return final
