"""The evidence store's write turn: one writer at a time across processes and threads, a
bounded wait, nothing left behind by a process that dies."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from riskops.evidence.turn import WriteTurn

_HOLD = """
import sys, time
from pathlib import Path
from riskops.evidence.turn import WriteTurn
with WriteTurn(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


_COUNT = """
import sys
from pathlib import Path
from riskops.evidence.turn import WriteTurn
for _ in range(int(sys.argv[3])):
    with WriteTurn(Path(sys.argv[1])):
        path = Path(sys.argv[2])
        path.write_text(str(int(path.read_text()) + 1))
"""


def _holding(database: Path) -> subprocess.Popen[str]:
    """Another process that takes the turn of ``database`` and keeps it until a line on its
    standard input."""
    return subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _count_under_turn(database: str, counter: str, times: int) -> None:
    # A read-modify-write of a plain file: only exclusion keeps every increment.
    for _ in range(times):
        with WriteTurn(Path(database)):
            path = Path(counter)
            path.write_text(str(int(path.read_text()) + 1))


def test_processes_and_threads_never_hold_a_turn_together(tmp_path: Path) -> None:
    # Given a counter file incremented under the turn by two processes of two threads each
    database, counter = tmp_path / "evidence.db", tmp_path / "counter"
    counter.write_text("0")

    def two_threads() -> None:
        threads = [
            threading.Thread(target=_count_under_turn, args=(str(database), str(counter), 200))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # When they all run at once
    others = [
        subprocess.Popen([sys.executable, "-c", _COUNT, str(database), str(counter), "200"])
        for _ in range(2)
    ]
    two_threads()
    # Then no increment was lost
    assert [p.wait(60) for p in others] == [0, 0]
    assert int(counter.read_text()) == 4 * 200


def test_a_writer_waits_for_a_turn_held_elsewhere_then_gives_up_like_sqlite(
    tmp_path: Path,
) -> None:
    # Given another process holding the turn of a database
    database = tmp_path / "evidence.db"
    holder = _holding(database)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # When this process asks for it with a short deadline
        # Then it gets SQLite's own "database is locked" error at the deadline
        with (
            pytest.raises(sqlite3.OperationalError, match="database is locked"),
            WriteTurn(database, timeout=0.3),
        ):
            pass
        # and the thread lock was released: the turn is taken once the holder lets go
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
        with WriteTurn(database, timeout=5):
            taken = True
        assert taken
    finally:
        holder.kill()
        holder.wait()


def test_a_process_killed_holding_the_turn_leaves_it_free(tmp_path: Path) -> None:
    # Given a process that dies (SIGKILL) while it holds the turn
    database = tmp_path / "evidence.db"
    holder = _holding(database)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    # When another writer asks for it
    # Then the kernel released it with the dead process's files
    with WriteTurn(database, timeout=2):
        taken = True
    assert taken
    assert (tmp_path / "evidence.db.write-turn").exists()


def test_a_forked_child_takes_its_own_turn_not_its_parents(tmp_path: Path) -> None:
    # Given a parent that holds the turn when it forks
    database = tmp_path / "evidence.db"
    turn = WriteTurn(database, timeout=0.3)
    with turn:
        pid = os.fork()
        if pid == 0:  # the child: the parent holds the turn, so it must wait and give up
            try:
                with turn:
                    os._exit(1)  # taken: the child shared its parent's lock
            except sqlite3.OperationalError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
    # Then the child waited for the parent's turn instead of sharing it
    assert os.waitstatus_to_exitcode(status) == 0
    # and the parent's turn is free once it lets go
    with WriteTurn(database, timeout=2):
        taken = True
    assert taken
