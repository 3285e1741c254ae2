"""A ``RISKOPS_HOME`` that can move: a copied, restored or re-mounted home works on its own files.

MLflow's local store records *absolute* artifact locations (``file:///<home>/artifacts/...``)
in its database: an experiment's artifact location, each run's artifact URI, each logged
model's artifact location and each model version's storage location. A home copied with
``cp -a``, restored from a backup elsewhere or mounted at another path would therefore read
-- and write -- the original's files.

Each local home keeps the absolute path it was last used at in ``home.json``. When a command
opens a home whose recorded path differs from where it now is, :func:`locate` rewrites those
four columns from the old prefix to the new one, in one transaction, before MLflow reads
anything; the marker is updated after. The original home is never touched. Files inside the
artifacts (an ``MLmodel``'s ``artifact_path``, say) are left as they are: they are covered by
the audited hashes, and MLflow loads a model from the folder it finds it in.

A home without a marker (created before it existed) is taken to be where it was created:
it gets its marker, and moves from then on are followed. Remote stores (an
``http``/``postgresql`` tracking URI) are left alone: their artifact locations are the
server's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

from riskops.errors import BadInputError
from riskops.settings import Settings
from riskops.storage import StorageError

MARKER = "home.json"
_REWRITTEN = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)
"""Columns of MLflow's store that may hold an absolute location under the home."""

_located: set[Path] = set()
_lock = threading.Lock()


def locate(settings: Settings) -> None:
    """Point the local store's artifact locations into ``settings.home`` if the home moved.

    Cheap after the first call in a process (one check per home). Raises
    :class:`~riskops.errors.BadInputError` naming the path when a moved home cannot be
    rewritten (a read-only copy, say), rather than let MLflow use the original's files.
    """
    home = settings.home
    if home in _located or not settings.is_local_tracking():
        return
    database = _local_database(settings)
    if recorded_path(home) == home:
        # Not moved: nothing to write, so a read-only home reads on (no lock file taken).
        _located.add(home)
        return
    with _lock:
        if home in _located:
            return
        if database is not None and database.exists():
            from filelock import FileLock

            previous = recorded_path(home)
            try:
                locks = home / "locks"
                locks.mkdir(parents=True, exist_ok=True)
                with FileLock(str(locks / "home.lock"), timeout=300):
                    previous = recorded_path(home)
                    if previous is not None and previous != home:
                        _rewrite(database, previous, home)
                    _write_marker(home)
            except OSError as exc:
                raise _unlocatable(home, previous, exc) from None
        elif home.exists():
            try:
                _write_marker(home)
            except OSError as exc:
                raise _unlocatable(home, None, exc) from None
        _located.add(home)


def _unlocatable(home: Path, previous: Path | None, exc: OSError) -> StorageError:
    """A home whose location cannot be recorded (read-only, full): one line, not a trace."""
    from riskops.storage import describe_os_error

    where = f"a copy of the home at {previous}" if previous is not None else "a new home"
    return StorageError(
        f"RISKOPS_HOME: {home} is {where} and its location cannot be recorded "
        f"({describe_os_error(exc)}); nothing was read or written"
    )


def recorded_path(home: Path) -> Path | None:
    """The absolute path the home was last used at, from its marker (None without one)."""
    try:
        recorded = json.loads((home / MARKER).read_text()).get("path")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(recorded) if recorded else None


def _local_database(settings: Settings) -> Path | None:
    uri = settings.mlflow_tracking_uri
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))


def _rewrite(database: Path, old: Path, new: Path) -> None:
    """Every absolute location under ``old`` (``file://`` URI or plain path) moved to ``new``."""
    try:
        with sqlite3.connect(database, timeout=30) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table, column in _REWRITTEN:
                if table not in tables:
                    continue
                columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    continue
                for before, after in ((f"file://{old}/", f"file://{new}/"), (f"{old}/", f"{new}/")):
                    # substr, not LIKE: a path may hold '_' or '%', LIKE's wildcards.
                    db.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE substr({column}, 1, ?) = ?",
                        (after, len(before) + 1, len(before), before),
                    )
    except sqlite3.OperationalError as exc:
        raise BadInputError(
            f"RISKOPS_HOME: {new} is a copy of the home at {old}, and its store {database} "
            f"cannot be updated to use the copy's own files ({exc}); nothing was done"
        ) from None


def _write_marker(home: Path) -> None:
    marker = home / MARKER
    if recorded_path(home) == home:
        return
    tmp = marker.with_name(f".{MARKER}.{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(json.dumps({"path": str(home)}) + "\n")
    os.replace(tmp, marker)
