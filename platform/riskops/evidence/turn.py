"""Whose turn it is to write a SQLite evidence store, across threads and processes.

SQLite lets one writer at a time into a database. A writer that finds the lock taken sleeps in
SQLite's busy handler, which backs off in steps of 1, 2, 5, 10, ... up to 100 ms between its
tries, whatever happens in between: the lock may be free for 99 ms of a sleep. Two service
workers recording their decisions in one store (or a worker and its shadow's recorder) then
make each other's requests wait tens of milliseconds for a lock that is free most of the time
-- the second worker's tail latency measured by ``bench/bench_serving.py``.

:class:`WriteTurn` queues the writers before they reach SQLite: a thread lock among the
threads of a process, then an ``flock`` on a file beside the database among processes. The
kernel wakes the next process when the holder releases the file, without a backoff, and a
process that dies releases it with its file descriptors (nothing stale is left behind). A
turn is taken only around a write transaction and released once it has committed (or rolled
back), so it never waits on anything but another writer's transaction.

A holder that hangs inside its transaction (stopped, not dead) would make the others wait
for ever on a blocking ``flock``; the wait is therefore bounded like SQLite's own
(``timeout``, the store's ``busy_timeout``): the file is tried without blocking, in short
sleeps that grow to :data:`LONGEST_NAP` -- a wake-up at most 1 ms late instead of 100 ms --
and a writer still waiting at the deadline gets :class:`sqlite3.OperationalError` ("database
is locked"), the error SQLite itself would have raised.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LONGEST_NAP", "WriteTurn"]

LONGEST_NAP = 0.001
"""The longest sleep between two tries of a taken file (seconds)."""
_FIRST_NAP = 0.00005


class WriteTurn:
    """A lock held by one writer of ``database`` at a time, in any thread of any process.

    Parameters
    ----------
    database
        The SQLite database file; the lock file is ``<database>.write-turn`` beside it.
    timeout
        Seconds a writer waits for its turn before :class:`sqlite3.OperationalError`.
    """

    def __init__(self, database: Path, timeout: float = 30.0) -> None:
        self.path = database.with_name(database.name + ".write-turn")
        self.timeout = timeout
        self._pid = -1
        self._threads = threading.Lock()
        self._fd = -1

    def _for_this_process(self) -> tuple[threading.Lock, int]:
        # A forked child shares its parent's open file description (and so its flock) and
        # may inherit a thread lock taken by a thread it does not have: it makes its own.
        if self._pid != os.getpid():
            if self._fd >= 0:
                # The parent's descriptor: closing this copy leaves the parent's lock alone,
                # and keeps a lock the parent holds from outliving the parent.
                os.close(self._fd)
            self._threads = threading.Lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._threads, self._fd

    def __enter__(self) -> WriteTurn:
        threads, fd = self._for_this_process()
        deadline = time.monotonic() + self.timeout
        if not threads.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError(f"database is locked (no turn in {self.timeout:g} s)")
        try:
            nap = _FIRST_NAP
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return self
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise sqlite3.OperationalError(
                            f"database is locked (no turn in {self.timeout:g} s)"
                        ) from None
                    time.sleep(nap)
                    nap = min(nap * 2, LONGEST_NAP)
        except BaseException:
            threads.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()
