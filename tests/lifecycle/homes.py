"""Homes that moved (issue 26, attack 10): a ``cp -a`` copy of a home at another path, its
original frozen so that any write into it fails, and a digest of a tree that shows the
original byte-identical afterwards.

A frozen tree refuses writes loudly: its modes lose every write bit (``chmod a-w``) and, when
the tests run as root (whom modes do not stop), its files and folders are also made
immutable (``chattr +i``, which stops root too). Where neither stops the writer (root on a
file system without the immutable attribute), :func:`tree_digest` still tells afterwards
that something was written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path


def tree_digest(root: Path) -> str:
    """SHA-256 over every entry under ``root``: its relative path, kind and content (a
    symbolic link's target, a file's bytes), in sorted order. Modes and times are left out:
    freezing changes modes, and only what is written counts."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root)).encode()
        if path.is_symlink():
            digest.update(b"L\0" + relative + b"\0" + os.readlink(path).encode() + b"\0")
        elif path.is_dir():
            digest.update(b"D\0" + relative + b"\0")
        else:
            digest.update(b"F\0" + relative + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _chmod_tree(root: Path, *, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        no_write = mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        path.chmod(mode | stat.S_IWUSR if writable else no_write)


def _chattr(root: Path, flag: str) -> None:
    chattr = shutil.which("chattr")
    if chattr is None or os.geteuid() != 0:
        return
    # -f: symbolic links and file systems without the attribute are skipped quietly.
    subprocess.run([chattr, "-R", "-f", flag, str(root)], check=False, capture_output=True)


def freeze(root: Path) -> bool:
    """Make every write under ``root`` fail; returns whether a probe write was refused."""
    _chmod_tree(root, writable=False)
    _chattr(root, "+i")
    probe = root / ".write-probe"
    try:
        probe.write_text("")
    except OSError:
        return True
    probe.unlink()
    return False


def thaw(root: Path) -> None:
    """Undo :func:`freeze` (for ``tmp_path``'s clean-up)."""
    _chattr(root, "-i")
    _chmod_tree(root, writable=True)


def close_connections_under(root: Path) -> None:
    """Close this process's pooled SQLite connections to the databases under ``root``.

    The given steps of a test leave connections open (MLflow's cached store, the trail's and
    the evidence store's engines). A database in WAL mode writes when its last connection
    closes (a checkpoint): left open, they would write into the original after it was hashed
    and frozen -- through the WAL index's shared memory, a ``SIGBUS`` under ``chattr +i``.
    Garbage is collected first (its connections close now), then every live engine on a
    database under ``root`` is disposed; one used again reconnects, and fails on a frozen
    original, as it should.
    """
    import gc

    import sqlalchemy as sa

    gc.collect()
    for engine in [o for o in gc.get_objects() if isinstance(o, sa.Engine)]:
        database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        if database and Path(database).resolve().is_relative_to(root.resolve()):
            engine.dispose()


def copy_home(home: Path, to: Path) -> Path:
    """``cp -a home to``, as an operator copies a home; returns ``to``."""
    to.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(home), str(to)], check=True)
    return to
