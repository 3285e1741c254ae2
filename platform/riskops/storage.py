"""Storage that refuses: a read-only or full home told in one line, never a traceback.

A home on a read-only mount, a full disk, a quota or a file-size limit surfaces as an
:class:`OSError` (``EROFS``, ``EACCES``, ``ENOSPC``, ``EDQUOT``, ``EFBIG``), or, from SQLite,
as an ``OperationalError`` that SQLAlchemy wraps with the statement and its parameters and
MLflow wraps again (the "INSERT dumps" of a full disk). :func:`storage_failure` finds the
cause in the exception's chain; :class:`StorageError` says which path, why, and what was not
done. :func:`require_writable` checks a local home before a command changes anything.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from riskops.errors import RiskOpsError

if TYPE_CHECKING:
    from riskops.settings import Settings

__all__ = [
    "StorageError",
    "StorageFailure",
    "describe_os_error",
    "require_writable",
    "storage_failure",
]

STORAGE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
)
"""Errors of the storage itself (not of the program): read-only, denied, full, too large."""

_SQLITE_STORAGE_MESSAGES = (
    "attempt to write a readonly database",
    "database or disk is full",
    "unable to open database file",
    "disk i/o error",
    "readonly database",
)
"""SQLite's words for the same failures (its errors carry no path and no errno)."""


class StorageError(RiskOpsError):
    """A path under the home (or a store) could not be written or opened (exit 1): the
    command stopped, and the message says what was not done."""

    exit_code = 1


@dataclass(frozen=True)
class StorageFailure:
    """What failed: a path when the error names one, and the reason in words."""

    path: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def describe_os_error(exc: OSError) -> str:
    """``path: reason`` of an :class:`OSError`, without Python's ``[Errno n]`` noise."""
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    written = exc.filename2 if exc.filename2 is not None else exc.filename
    return f"{written}: {reason}" if written else reason


def storage_failure(exc: BaseException) -> StorageFailure | None:
    """The storage failure behind ``exc`` (itself, its cause or its context), or ``None``
    when the error is something else (a bug, a bad input).

    A failure that names its path wins over one that does not: when a full disk stops a
    file copy, MLflow's attempt to end the run ``FAILED`` fails too, and SQLite's error
    (raised last, without a path) has the file copy's (with one) as its context.
    """
    found = [f for f in map(_failure_of, _chain(exc)) if f is not None]
    with_path = [f for f in found if f.path is not None]
    return next(iter(with_path or found), None)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, the errors it wraps (SQLAlchemy's ``orig``), its causes and contexts."""
    out: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is seen for seen in out):
            continue
        out.append(current)
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return out


def _failure_of(exc: BaseException) -> StorageFailure | None:
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        # A copy (shutil, os.replace) names its source first and the file written second.
        written = exc.filename2 if exc.filename2 is not None else exc.filename
        path = None if written is None else str(written)
        return StorageFailure(path, os.strerror(exc.errno).lower())
    if _is_database_error(exc):
        message = str(exc).lower()
        for words in _SQLITE_STORAGE_MESSAGES:
            if words in message:
                return StorageFailure(None, f"SQLite: {words}")
    return None


def _is_database_error(exc: BaseException) -> bool:
    """SQLite's own error, SQLAlchemy's wrapper of it, or MLflow's wrapper of either."""
    module = type(exc).__module__ or ""
    return module.startswith(("sqlite3", "sqlalchemy", "mlflow"))


def require_writable(settings: Settings, doing: str) -> None:
    """Refuse, before anything changes, a write to a local home that cannot take it: each
    local database must open for writing, and the home must accept a new file.

    Raises :class:`StorageError` naming the path, the reason and ``doing`` (what was not
    done). Remote stores (servers) are theirs to refuse.
    """
    home = settings.home
    paths = [home, settings.artifact_root]
    for url in (
        settings.mlflow_tracking_uri,
        settings.audit_database_url,
        settings.evidence_database_url,
    ):
        database = _sqlite_file(url)
        if database is not None:
            paths.append(database)
    for path in paths:
        try:
            _probe(path)
        except OSError as exc:
            raise StorageError(
                f"RISKOPS_HOME: {describe_os_error(exc)}; {doing} was not done, nothing was written"
            ) from None


def _sqlite_file(url: str) -> Path | None:
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix))
    return None


def _probe(path: Path) -> None:
    """Open ``path`` for writing without changing it: a folder takes a new empty file
    (removed at once), an existing file opens read-write; a missing one is created later
    under its folder, which is probed too."""
    if path.is_dir():
        probe = path / f".riskops-probe-{os.getpid()}"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:  # name the folder, not the probe's own name
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        os.unlink(probe)
    elif path.exists():
        os.close(os.open(path, os.O_RDWR))
    elif path.parent.exists():
        _probe(path.parent)
