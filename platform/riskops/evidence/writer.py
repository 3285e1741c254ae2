"""Group commit: the rows of many concurrent requests written in one transaction, each
request told when *its* rows are durable.

A service that must not answer before its answer is recorded (a credit decision) pays one
transaction -- one ``fsync`` of the database's log -- per request if each writes alone: at
4 ms per commit, a single stream could not exceed 250 requests a second. The
:class:`GroupCommitWriter` has one thread per stream that takes *every* request waiting when
it becomes free and appends them in one transaction
(:meth:`~riskops.evidence.store.EvidenceStore.append_groups`); while that commit runs, the
next requests queue, and they form the next batch. Throughput then grows with the load
instead of being capped by the disk, and a request waits at most for the commit in progress
and its own.

Ordering: within one writer, requests are appended in the order they were submitted (the
stream's sequence numbers follow it). A request's future resolves only after the
transaction holding its rows has committed; a caller that answers only then never answers
anything that is not recorded.

Overload: the queue is bounded (``max_pending`` requests). :meth:`GroupCommitWriter.submit`
raises :class:`WriterOverloaded` at once when it is full, so a caller answers "busy" (HTTP
503) instead of waiting without bound -- or answering without a record. A database error
fails every request of its batch with :class:`WriterUnavailable` (nothing of the batch is
written); a request whose own rows conflict with the stream fails alone (its error is the
store's :class:`~riskops.evidence.store.EvidenceConflict`) and the others of the batch are
written.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from riskops.errors import RiskOpsError
from riskops.evidence.store import Appended, EvidenceKind, EvidenceStore

__all__ = ["GroupCommitWriter", "WriterOverloaded", "WriterStats", "WriterUnavailable"]

logger = logging.getLogger("riskops.ledger")


class WriterOverloaded(RiskOpsError):
    """More requests are waiting for their commit than the writer accepts."""

    def __init__(self, stream: str, pending: int) -> None:
        super().__init__(f"{stream}: {pending} requests already wait for their records")
        self.stream = stream
        self.pending = pending


class WriterUnavailable(RiskOpsError):
    """The store could not commit a batch: none of its rows was written."""


@dataclass
class WriterStats:
    """What a writer has done: commits, rows written, the largest batch, requests refused."""

    batches: int = 0
    requests: int = 0
    rows: int = 0
    largest_batch: int = 0
    refused: int = 0
    failed: int = 0
    commit_seconds: float = 0.0


@dataclass
class _Pending:
    rows: Sequence[Mapping[str, Any]]
    future: Future[Appended]


_STOP = object()


class GroupCommitWriter:
    """Appends submitted rows to one stream of ``kind``, one transaction per batch.

    Parameters
    ----------
    store
        The evidence store.
    kind, stream
        Where the rows go (e.g. ``credit_decisions``, the model's name).
    max_pending
        Requests that may wait for a commit; one more is refused (:class:`WriterOverloaded`).
    max_batch_rows
        A batch stops growing once it holds this many rows (a transaction stays short).
    """

    def __init__(
        self,
        store: EvidenceStore,
        kind: EvidenceKind,
        stream: str,
        *,
        max_pending: int = 256,
        max_batch_rows: int = 20_000,
    ) -> None:
        self.store = store
        self.kind = kind
        self.stream = stream
        self.max_batch_rows = max_batch_rows
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, max_pending))
        self._thread: threading.Thread | None = None
        self.stats = WriterStats()

    def start(self) -> GroupCommitWriter:
        if self._thread is None:
            # The table is created here, not in the first request's commit.
            self.store.table(self.kind)
            self._thread = threading.Thread(
                target=self._run, name=f"group-commit-{self.stream}", daemon=True
            )
            self._thread.start()
        return self

    def submit(self, rows: Sequence[Mapping[str, Any]]) -> Future[Appended]:
        """Queue one request's rows; the future resolves once they are committed (or with
        the error that kept them out). :class:`WriterOverloaded` when the queue is full."""
        future: Future[Appended] = Future()
        try:
            self._queue.put_nowait(_Pending(rows, future))
        except queue.Full:
            self.stats.refused += 1
            raise WriterOverloaded(self.stream, self._queue.qsize()) from None
        return future

    def write(self, rows: Sequence[Mapping[str, Any]], timeout: float | None = None) -> Appended:
        """Submit and wait for the commit (for callers without an event loop)."""
        return self.submit(rows).result(timeout)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            rows = len(first.rows)
            while rows < self.max_batch_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                rows += len(item.rows)
            self._commit(batch, rows)

    def _commit(self, batch: list[_Pending], rows: int) -> None:
        # A request whose caller stopped waiting (a timeout cancelled its future) is not
        # written: it was not answered, and nothing is recorded for it.
        batch = [p for p in batch if p.future.set_running_or_notify_cancel()]
        if not batch:
            return
        rows = sum(len(p.rows) for p in batch)
        started = time.perf_counter()
        try:
            results = self.store.append_groups(self.kind, self.stream, [p.rows for p in batch])
        except Exception as exc:  # the database: nothing of the batch is written
            self.stats.failed += len(batch)
            logger.warning(
                "%s %s: %d request(s) not recorded: %s: %s",
                self.kind.name,
                self.stream,
                len(batch),
                type(exc).__name__,
                exc,
            )
            error = WriterUnavailable(
                f"the {self.kind.name} store could not record them: {type(exc).__name__}"
            )
            for pending in batch:
                pending.future.set_exception(error)
            return
        stats = self.stats
        stats.batches += 1
        stats.requests += len(batch)
        stats.rows += rows
        stats.largest_batch = max(stats.largest_batch, len(batch))
        stats.commit_seconds += time.perf_counter() - started
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)
