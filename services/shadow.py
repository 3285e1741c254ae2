"""Shadow scoring off the hot path: a challenger answers the champion's live requests in a
process of its own, at the lowest CPU priority (``SCHED_IDLE``), and what it cannot keep up
with is dropped and counted.

Why a process, and why it drops
-------------------------------
A shadow's scoring costs about what the champion's does. In the worker process it would
take the GIL from the event loop for as long as it runs: every champion request arriving
meanwhile waits (up to ``sys.getswitchinterval()``, 5 ms, per hand-off), and on a busy
server the champion's throughput falls by the shadow's share. So each worker that has a
shadow to feed starts one **shadow process** (``python -m services.shadow``) whose scoring
thread lowers its own priority to ``SCHED_IDLE`` (and ``nice 19``) and does the shadow's work
there: loading the version the audit trail names in shadow
(:class:`~services.champions.ChampionHolder`, role ``shadow``: identity and hashes
verified), validating, scoring. The kernel gives it the CPU the champion leaves idle.

Its answers are written by a **recorder thread that keeps the normal priority**. The shadow's
rows go to the same database as the champion's decisions, and a write holds that database's
write lock until its commit: written from an idle-priority thread, a busy machine would
preempt it inside its transaction and the champion's own commits would wait for a thread
that cannot run (a priority inversion). The recorder's work is bounded by what the idle
thread managed to score.

The threads of one process also share its GIL, and a thread preempted while it holds the GIL
holds it until the kernel runs it again -- which, at ``SCHED_IDLE`` on a busy machine, can be
tens of milliseconds. A recorder that needed the GIL back after each SQLite call, inside its
transaction, would then hold the champion's write lock for as long: the same inversion, one
level down. So the idle threads **yield to the recorder between requests**
(:class:`_Turns`): before it takes the database's write lock, the recorder waits until the
scoring and reader threads are between two requests, and they wait, parked without the GIL,
until its commit. Waiting for them costs the recorder only; nothing of the champion waits.

The hand-off costs the worker one non-blocking ``send`` on a Unix datagram socket per
request, made once the champion's answer is built: the raw request body with a small
header (model, shadow version, request id, caller). Nothing in the worker waits for the
shadow and no thread of the worker is woken. The pool is bounded twice, and both bounds
drop and count rather than wait:

* in flight: the worker counts the requests it handed over and the shadow process reports
  how many it has taken off the socket; a request that would make more than
  ``max_pending`` in flight is dropped by the worker (``dropped``), as is one the socket
  refuses (its buffer full, or a body larger than a datagram may be);
* the shadow process's own queue of ``max_pending`` requests, filled by a reader thread
  that keeps the socket drained: a request arriving when it is full is dropped (``dropped``).

A starved shadow process (its reader thread does not run either) therefore costs the
worker at most ``max_pending`` requests' bodies in the socket, and a drop costs it nothing
but a counter.

What is recorded
----------------
The shadow's answer to a request is recorded beside the champion's, with the same request
id and applicant ids: a route whose answers are decisions kept in the live evidence store
(:attr:`riskops.serving.route.Route.record`, credit) gets its rows appended to the model's
stream with ``role`` ``shadow`` and the key ``{id}#shadow-v{version}``
(:func:`riskops.credit.decisions.decision_key`); any other route's rows go to an inference
log of their own, ``RISKOPS_HOME/inference/<model>.shadow``, with ``role`` ``shadow``. A
request the shadow refuses (its schema differs from the champion's) is counted ``failed``
with the reason; the champion has already answered it.

The counters of the shadow process (``scored``, ``rows``, ``dropped``, ``failed``, the
version, the first and last scored request) come back to the worker over the same socket
pair, twice a second at most, and are shown by ``GET /models`` beside the worker's own
(:meth:`ShadowLane.status`).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

logger = logging.getLogger("riskops.serving")

_SOCKET_BUFFER = 4 * 1024 * 1024
"""Bytes asked for the socket's buffers (the kernel caps them at ``wmem_max``)."""

_STATS_PERIOD = 0.1
"""Seconds between two reports of the shadow process's counters (what it took off the
socket bounds what the worker may hand it)."""

_FLUSH_PERIOD = 0.2
"""Seconds a recorded row may wait in the shadow process before it is written."""


# ============================================================================ the worker's side
@dataclass
class _Dropped:
    version: int | None = None
    dropped: int = 0
    too_large: int = 0
    sent: int = 0


@dataclass
class ShadowLane:
    """The worker's end: hands requests to the shadow process, never waits for it.

    Parameters
    ----------
    max_pending
        Requests the shadow process may hold waiting to be scored; beyond it, it drops.
    environment
        The environment of the shadow process (the worker's, with ``RISKOPS_*`` settings).
    """

    max_pending: int = 256
    environment: dict[str, str] | None = None
    settings: Any = None
    """Where the counters are written for ``riskops models`` (:mod:`riskops.serving.shadow`);
    ``None``: nowhere."""
    _socket: socket.socket | None = None
    _process: subprocess.Popen[bytes] | None = None
    _local: dict[str, _Dropped] = field(default_factory=dict)
    _remote: dict[str, dict[str, Any]] = field(default_factory=dict)
    _handed: int = 0
    """Requests handed to the socket (every model)."""
    _taken: int = 0
    """Requests the shadow process has taken off the socket, as it last reported."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> socket.socket:
        """Start the shadow process on first use (a worker without shadows never does)."""
        with self._lock:
            if self._socket is not None:
                return self._socket
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            for end in (ours, theirs):
                with contextlib.suppress(OSError):
                    end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
                    end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
            ours.setblocking(False)
            command = [
                sys.executable,
                "-m",
                "services.shadow",
                "--fd",
                str(theirs.fileno()),
                "--max-pending",
                str(self.max_pending),
                "--parent",
                str(os.getpid()),
            ]
            self._process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                env=self.environment,
                stdin=subprocess.DEVNULL,
            )
            theirs.close()
            self._socket = ours
            if self.settings is not None:
                self._stop.clear()
                threading.Thread(target=self._persist, name="shadow-status", daemon=True).start()
            logger.info("shadow scoring: process %d started", self._process.pid)
            return ours

    def _persist(self) -> None:
        """Write this worker's counters for ``riskops models`` once a second."""
        from riskops.serving.shadow import write_status

        written: dict[str, dict[str, Any]] = {}
        while not self._stop.wait(1.0):
            for model in list(self._local):
                status = self.status(model)
                if status is None or status == written.get(model):
                    continue
                try:
                    write_status(self.settings, model, status)
                    written[model] = status
                except OSError as exc:  # a full disk must not stop the shadow
                    logger.warning("shadow status of %s not written: %s", model, exc)

    def submit(
        self, path: str, model: str, version: int, request_id: str, caller: str, body: bytes
    ) -> None:
        """Hand one request to the shadow (after the champion's answer is built): one
        non-blocking send; a full queue or an oversized body is dropped and counted."""
        sock = self._socket or self.start()
        counts = self._local.get(model)
        if counts is None:
            counts = self._local[model] = _Dropped()
        counts.version = version
        if self._handed - self._taken >= self.max_pending:
            self._read_reports()  # a system call only when the bound is reached
            if self._handed - self._taken >= self.max_pending:
                counts.dropped += 1
                return
        header = orjson.dumps({"p": path, "m": model, "v": version, "r": request_id, "c": caller})
        try:
            sock.send(header + b"\n" + body)
        except BlockingIOError:
            counts.dropped += 1
        except OSError:  # EMSGSIZE: larger than a datagram may be
            counts.too_large += 1
        else:
            counts.sent += 1
            self._handed += 1

    def status(self, model: str) -> dict[str, Any] | None:
        """The shadow's counters for ``model`` (``None`` when this worker sent it nothing):
        requests handed to it, scored, rows recorded, dropped (by the worker and by the shadow
        process), failed (the rest are still queued), the shadow version and when its window
        started and last grew."""
        self._read_reports()
        local = self._local.get(model)
        if local is None:
            return None
        remote = self._remote.get(model, {})
        return {
            "version": local.version,
            "requests": local.sent + local.dropped + local.too_large,
            "scored": remote.get("scored", 0),
            "rows": remote.get("rows", 0),
            "dropped": local.dropped + local.too_large + remote.get("dropped", 0),
            "failed": remote.get("failed", 0),
            "last_failure": remote.get("last_failure"),
            "first_scored_at": remote.get("first_scored_at"),
            "last_scored_at": remote.get("last_scored_at"),
            "process_alive": self._process is not None and self._process.poll() is None,
        }

    def _read_reports(self) -> None:
        sock = self._socket
        if sock is None:
            return
        while True:
            try:
                report = sock.recv(1 << 20)
            except (BlockingIOError, OSError):
                return
            with contextlib.suppress(orjson.JSONDecodeError):
                found = orjson.loads(report)
                self._taken = max(self._taken, int(found.pop("_taken", 0)))
                self._remote.update(found)

    def close(self) -> None:
        """Stop the shadow process (it writes what it holds first)."""
        self._stop.set()
        with self._lock:
            process, self._process = self._process, None
            sock, self._socket = self._socket, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setblocking(True)
                sock.send(b"")  # the stop message
            sock.close()
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ============================================================================ the shadow process
class _Turns:
    """The idle threads score (or read) one request at a time and yield to the recorder
    between two: while the recorder writes, they are parked without the GIL, so that none can
    be preempted holding it inside the recorder's transaction (see the module doc)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._working = 0
        self._writing = False
        self._write_wanted = False

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Around one request's work in an idle thread."""
        with self._changed:
            while self._writing or self._write_wanted:
                self._changed.wait()
            self._working += 1
        try:
            yield
        finally:
            with self._changed:
                self._working -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around the recorder's write: no idle thread works meanwhile."""
        with self._changed:
            self._write_wanted = True
            while self._working:
                self._changed.wait()
            self._write_wanted, self._writing = False, True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()


@dataclass
class _Counts:
    version: int | None = None
    scored: int = 0
    rows: int = 0
    dropped: int = 0
    failed: int = 0
    last_failure: str | None = None
    first_scored_at: str | None = None
    last_scored_at: str | None = None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _ShadowProcess:
    """Reads requests, scores them with the shadow the trail names, records the answers."""

    def __init__(self, sock: socket.socket, max_pending: int, parent: int) -> None:
        from riskops.settings import Settings
        from services import adapters
        from services.champions import LedgerSource

        self.sock = sock
        self.parent = parent
        self.max_pending = max_pending
        self.settings = Settings()
        self.routes = {route.path: route for route in adapters.routes().values()}
        self.source = LedgerSource(self.settings)
        self.pending: collections.deque[tuple[dict[str, Any], bytes]] = collections.deque()
        self.taken = 0
        self.ready = threading.Condition()
        self.stopping = False
        self.counts: dict[str, _Counts] = {}
        self.holders: dict[str, Any] = {}
        self.specs: dict[str, Any] = {}
        self.unsaved: dict[str, list[tuple[Any, list[dict[str, Any]]]]] = {}
        self.unsaved_lock = threading.Lock()  # scoring thread adds, the recorder takes
        self.counts_lock = threading.Lock()  # the recorder corrects counts it failed to write
        self.writers: dict[str, Any] = {}
        self._store: Any = None
        self.turns = _Turns()
        self._reported = b""
        self._last_report = 0.0

    # ---------------------------------------------------------------- reading
    def read(self) -> None:
        """Keep the socket drained into the bounded queue (a reader thread)."""
        self.sock.settimeout(1.0)
        while True:
            try:
                message = self.sock.recv(1 << 24)
            except TimeoutError:
                if os.getppid() != self.parent:  # the worker died: nothing more will come
                    message = b""
                else:
                    continue
            except OSError:
                message = b""
            if not message:
                with self.ready:
                    self.stopping = True
                    self.ready.notify()
                return
            with self.turns.working():
                self._take(message)

    def _take(self, message: bytes) -> None:
        self.taken += 1
        head, _, body = message.partition(b"\n")
        try:
            job = orjson.loads(head)
        except orjson.JSONDecodeError:
            return
        with self.ready:
            if len(self.pending) >= self.max_pending:
                self._counts(job["m"]).dropped += 1
                return
            self.pending.append((job, body))
            self.ready.notify()

    def _counts(self, model: str) -> _Counts:
        counts = self.counts.get(model)
        if counts is None:
            counts = self.counts[model] = _Counts()
        return counts

    # ---------------------------------------------------------------- scoring
    def run(self, recorder: _Recorder) -> None:
        """Score until the worker goes away (this thread and the reader thread it starts run
        at the lowered priority: a starved reader lets the socket fill, and the worker drops
        and counts); ``recorder`` writes what was scored."""
        recorder.serve(self)
        threading.Thread(target=self.read, name="shadow-reader", daemon=True).start()
        while True:
            with self.ready:
                while not self.pending and not self.stopping:
                    self.ready.wait(_FLUSH_PERIOD)
                    self._housekeeping()
                if not self.pending and self.stopping:
                    break
                job, body = self.pending.popleft()
            with self.turns.working():
                try:
                    self.score(job, body)
                except Exception as exc:  # one request's failure never stops the shadow
                    counts = self._counts(job["m"])
                    counts.failed += 1
                    counts.last_failure = f"{type(exc).__name__}: {exc}"[:300]
                    logger.debug("shadow scoring failed", exc_info=True)
                self._housekeeping()
        recorder.finish()
        self.report(force=True)

    def _housekeeping(self) -> None:
        self.report()

    def _shadow(self, path: str, model: str, version: int) -> Any:
        """The shadow version of ``model`` as the trail names it, loaded and verified."""
        from services.champions import ChampionHolder

        holder = self.holders.get(model)
        if holder is None:
            route = self.routes[path]
            holder = self.holders[model] = ChampionHolder(
                self.source, model, route.prepare, role="shadow"
            )
        current = holder.current
        if current is None or current.version != version:
            holder.refresh()
            current = holder.current
        if current is None or current.version != version:
            raise RuntimeError(
                f"{model}: the trail's shadow is not v{version} "
                f"({holder.status().get('last_error') or 'none named'})"
            )
        return current

    def score(self, job: dict[str, Any], body: bytes) -> None:
        path, model, version = job["p"], job["m"], int(job["v"])
        route = self.routes[path]
        shadow = self._shadow(path, model, version)
        request = route.request.model_validate_json(body)
        fields = {key: getattr(request, key) for key in type(request).model_fields}
        fields.pop("model", None)
        try:
            _, rows = route.handle(shadow, route.request.model_construct(**fields), job["r"])
        except Exception as exc:
            message = getattr(exc, "body", None) or exc
            raise RuntimeError(f"the shadow refused the request: {message}") from None
        for row in rows:
            row["caller"] = job["c"]
            if "key" in row:  # a decision: keyed by role and version beside the champion's
                row["key"] = f"{row['key']}#shadow-v{version}"
            row["role"] = "shadow"
        kind = getattr(route, "record", None)
        with self.unsaved_lock:
            self.unsaved.setdefault(model, []).append((kind, rows))
        counts = self._counts(model)
        counts.version = version
        with self.counts_lock:
            counts.scored += 1
            counts.rows += len(rows)
        stamp = _now()
        counts.first_scored_at = counts.first_scored_at or stamp
        counts.last_scored_at = stamp

    # ---------------------------------------------------------------- recording
    def close(self) -> None:
        """Close the inference logs (the recorder thread, after its last flush)."""
        for writer in self.writers.values():
            writer.close()

    def flush(self) -> None:
        """Write what was scored: one transaction per model (the evidence store), or the
        shadow's inference log."""
        with self.unsaved_lock:
            unsaved, self.unsaved = self.unsaved, {}
        for model, batches in unsaved.items():
            kept = [(kind, rows) for kind, rows in batches if kind is not None]
            logged = [rows for kind, rows in batches if kind is None]
            if logged:
                self._writer(model).log_many([row for rows in logged for row in rows])
            if kept:
                with self.turns.writing():
                    self._append(model, kept)

    def _writer(self, model: str) -> Any:
        writer = self.writers.get(model)
        if writer is None:
            from riskops.inference_log import InferenceLogWriter

            writer = self.writers[model] = InferenceLogWriter(
                self.settings, f"{model}.shadow"
            ).start()
        return writer

    def _append(self, model: str, batches: list[tuple[Any, list[dict[str, Any]]]]) -> None:
        from riskops.evidence.store import EvidenceStore

        if self._store is None:
            self._store = EvidenceStore(self.settings)
        kind = batches[0][0]
        try:
            self._store.append(kind, model, [row for _, rows in batches for row in rows])
            return
        except Exception:  # one request's conflicting key: write the others alone
            pass
        for _, rows in batches:
            try:
                self._store.append(kind, model, rows)
            except Exception as exc:
                counts = self._counts(model)
                with self.counts_lock:
                    counts.failed += 1
                    counts.rows -= len(rows)
                counts.last_failure = f"not recorded: {type(exc).__name__}: {exc}"[:300]

    def report(self, force: bool = False) -> None:
        """Send the counters to the worker when they changed (twice a second at most)."""
        if not force and time.monotonic() - self._last_report < _STATS_PERIOD:
            return
        self._last_report = time.monotonic()
        counts: dict[str, Any] = {m: vars(c) for m, c in self.counts.items()}
        payload = orjson.dumps({**counts, "_taken": self.taken})
        if payload == self._reported:
            return
        with contextlib.suppress(OSError):  # the worker's queue full: the next report
            self.sock.send(payload, socket.MSG_DONTWAIT)
            self._reported = payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RiskOps shadow scoring (started by a worker)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--max-pending", type=int, default=256)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    # The recorder thread first, at the normal priority; then this thread lowers its own
    # for everything it loads and scores (threads it starts, and the libraries' thread
    # pools created from it, inherit the lowered priority).
    recorder = _Recorder()
    _lower_this_threads_priority()
    sock = socket.socket(fileno=args.fd)
    _ShadowProcess(sock, args.max_pending, args.parent).run(recorder)
    return 0


class _Recorder:
    """The thread that writes the shadow's answers, at the normal priority (see the module
    doc: an idle-priority writer would hold the champion's database lock while preempted).
    Started before the process lowers its priority; it waits for the shadow to serve, then
    flushes every ``_FLUSH_PERIOD`` and once more at the end."""

    def __init__(self) -> None:
        self._shadow: _ShadowProcess | None = None
        self._served = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shadow-recorder", daemon=True)
        self._thread.start()

    def serve(self, shadow: _ShadowProcess) -> None:
        self._shadow = shadow
        self._served.set()

    def finish(self) -> None:
        """Write what is left and stop (called when nothing more will be scored)."""
        self._finished.set()
        self._thread.join()

    def _run(self) -> None:
        self._served.wait()
        shadow = self._shadow
        if shadow is None:  # never: serve() sets it before the event
            return
        while not self._finished.wait(_FLUSH_PERIOD):
            shadow.flush()
        shadow.flush()
        shadow.close()


def _lower_this_threads_priority() -> None:
    """The lowest priority for the calling thread and the threads it starts next: the shadow
    gets the CPU the champion leaves idle. SCHED_IDLE (Linux) runs it only on an otherwise
    idle CPU; nice 19 alone still takes a share. On Linux both are per thread, so the
    recorder thread started before keeps the normal priority."""
    with contextlib.suppress(OSError):
        os.nice(19)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


if __name__ == "__main__":
    sys.exit(main())
