"""Start ``bentoml serve`` with a Prometheus multiprocess folder of this server's own.

BentoML keeps the counters of all worker processes in one folder,
``$BENTOML_HOME/prometheus_multiproc_dir``, and *empties it* whenever a server starts. Two
servers on one ``RISKOPS_HOME`` (two ports, or a second start that then fails to bind)
would share it and the second would wipe the first one's counters. Here each server gets
``RISKOPS_HOME/metrics/port-PORT``, owned through an exclusive lock on
``port-PORT.lock`` held for the life of the process: only the owner empties the folder
(when it starts, as BentoML does, and when it stops), and a second server on the same home
and port is refused before it touches anything.

Run as ``python -m services.launcher --metrics-dir DIR -- serve services.service:RiskService
...``; ``riskops serve`` does so.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path


class FolderTaken(RuntimeError):
    """Another live process owns the metrics folder."""


@contextlib.contextmanager
def own_folder(folder: Path) -> Iterator[Path]:
    """Hold ``folder`` exclusively (an ``flock`` on ``folder.lock``), empty on entry and exit.

    The lock lives beside the folder, not inside it, because BentoML empties the folder.
    The kernel releases it when the process dies, however it dies, so a crashed server
    never blocks the next one.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.with_name(folder.name + ".lock")
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderTaken(
                f"{folder} belongs to another running server (lock {lock_path}); "
                "stop it or serve on another port"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        handle.close()  # releases the lock


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--metrics-dir" or "--" not in args:
        print("usage: python -m services.launcher --metrics-dir DIR -- BENTOML_ARGS...")
        return 2
    folder = Path(args[1]).resolve()
    bentoml_args = args[args.index("--") + 1 :]
    try:
        with own_folder(folder):
            from bentoml._internal.configuration.containers import BentoMLContainer

            # bentoml.serving.ensure_prometheus_dir() reads this, then hands the folder to
            # every worker as PROMETHEUS_MULTIPROC_DIR.
            BentoMLContainer.prometheus_multiproc_dir.set(str(folder))
            from bentoml_cli.cli import cli

            try:
                cli.main(args=bentoml_args, prog_name="bentoml", standalone_mode=True)
            except SystemExit as done:
                return int(done.code or 0) if not isinstance(done.code, str) else 1
    except FolderTaken as exc:
        print(f"riskops serve: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
