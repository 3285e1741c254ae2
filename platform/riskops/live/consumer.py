"""The stream consumer: read a batch, put it through the book, publish, acknowledge what is durable.

One loop for every source (:mod:`riskops.live.brokers`)::

    heartbeat -> read a batch -> parse each message -> LiveBook.ingest (one transaction)
              -> publish its forecasts -> acknowledge the batches a durable point covers

The durability contract (``durable_ms``, default :data:`DURABLE_MS`):

* a batch's forecasts are published once its transaction -- observations, forecasts,
  scores, state checkpoints, dead letters -- has *committed*: on SQLite with
  ``synchronous = NORMAL`` (:meth:`~riskops.evidence.store.EvidenceStore.defer_durability`),
  which survives the end of the process (``kill -9``) but not yet a power loss;
* its messages are acknowledged on the broker only after a *durable point* covers the
  commit: a thread of the consumer checkpoints the write-ahead log every ``durable_ms``
  (:meth:`~riskops.evidence.store.EvidenceStore.durable_point`: the log and the database
  synced), and the loop acknowledges every batch committed before the last checkpoint that
  succeeded (and all of them, after a last durable point, when it stops).

So ``kill -9`` at any point loses nothing committed and counts nothing twice (a message read
again is a counted duplicate); a power loss or an operating-system crash loses at most the
commits of the last ``durable_ms`` or so -- their messages were not acknowledged, so the
broker delivers them again and the ledger records them then, once (the state restarts as
the durable ledger restores it). What may repeat is a *published* forecast of that
window: the same stream, sequence number and values, published again. ``durable_ms=None`` is the
strict mode: every commit is synced (``synchronous = FULL``, one fsync per batch) and the
batch acknowledged at once, before its forecasts are published.

A batch that could not be committed (stale twice) is read again. A broker that does not
answer is a counted outcome with a dead letter; the loop waits (doubling up to
:data:`MAX_BACKOFF_SECONDS`) and goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from riskops.errors import BadInputError
from riskops.evidence.store import Batch
from riskops.live import kinds
from riskops.live.book import LiveBook
from riskops.live.brokers import BrokerDown, Message
from riskops.live.observations import parse

__all__ = ["Consumer", "ConsumerStats"]

logger = logging.getLogger("riskops.live")

MAX_BACKOFF_SECONDS = 10.0
DURABLE_MS = 50.0
"""How often committed batches are made durable (and then acknowledged), in milliseconds."""
FINAL_DURABLE_SECONDS = 5.0
"""How long a stopping consumer tries to make its last batches durable before it leaves them
unacknowledged (delivered again to whoever reads next: counted duplicates)."""


@dataclass
class ConsumerStats:
    """What a consumer did: outcomes counted, batches, alarms, broker outages."""

    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    messages: int = 0
    alarms: list[dict[str, Any]] = field(default_factory=list)
    last_forecasts: dict[str, dict[str, Any]] = field(default_factory=dict)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))
    """Per message with a send time: milliseconds from its send to its forecast published."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "batches": self.batches,
            "messages": self.messages,
            "alarms": self.alarms,
            "last_forecasts": self.last_forecasts,
        }

    def latency(self) -> dict[str, float | int | None]:
        """p50, p99 and max of :attr:`latencies_ms`."""
        import numpy as np

        values = np.fromiter(self.latencies_ms, dtype=float)
        if not values.size:
            return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            "n": int(values.size),
            "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max()),
        }


class Consumer:
    """Feed a book from a source until stopped (see the module doc).

    Parameters
    ----------
    book
        The one path of observations.
    source
        A :mod:`~riskops.live.brokers` source.
    batch
        Messages read (and committed) at once.
    block_ms
        How long a read waits for messages.
    durable_ms
        How often committed batches are made durable and then acknowledged (module doc);
        ``None``: every commit durable, its batch acknowledged at once.
    """

    def __init__(
        self,
        book: LiveBook,
        source: Any,
        *,
        batch: int = 100,
        block_ms: int = 200,
        durable_ms: float | None = DURABLE_MS,
    ) -> None:
        if durable_ms is not None and not durable_ms > 0:
            raise BadInputError(f"durable_ms: milliseconds above 0 (or None), got {durable_ms}")
        self.book = book
        self.source = source
        self.batch = int(batch)
        self.block_ms = int(block_ms)
        self.durable_ms = durable_ms
        self.stats = ConsumerStats()
        self.stop = threading.Event()
        self._unacked: deque[tuple[int, list[Message]]] = deque()
        """``(batch number, messages)`` committed, not acknowledged yet (oldest first)."""
        self._committed = 0
        """Batches committed so far (numbers 1, 2, ...)."""
        self._durable = 0
        """Batches a durable point covers: numbers up to this one."""
        if durable_ms is not None:
            book.store.defer_durability()

    def run(
        self,
        *,
        max_messages: int | None = None,
        idle_seconds: float | None = None,
        on_batch: Callable[[Any], None] | None = None,
    ) -> ConsumerStats:
        """Consume until :attr:`stop` is set, ``max_messages`` were absorbed, the source is
        exhausted (a replay), or nothing came for ``idle_seconds``."""
        self.book.champions()  # loaded before the first message, not during its batch
        self.book.publish_pending()
        done = threading.Event()
        syncer = None
        if self.durable_ms is not None:
            syncer = threading.Thread(
                target=self._keep_durable, args=(done,), name="riskops-durable", daemon=True
            )
            syncer.start()
        try:
            self._loop(max_messages, idle_seconds, on_batch)
        finally:
            done.set()
            if syncer is not None:
                syncer.join()
            # Before the last durable point, which then covers them: whoever follows these
            # series next restores their states without replaying a bar.
            self.book.save_states()
            self._last_durable_point()
        return self.stats

    def _loop(
        self,
        max_messages: int | None,
        idle_seconds: float | None,
        on_batch: Callable[[Any], None] | None,
    ) -> None:
        backoff = 0.5
        idle_since = time.monotonic()
        last_beat = 0.0
        while not self.stop.is_set():
            try:
                now = time.monotonic()
                if now - last_beat >= 1.0:
                    self.source.heartbeat()
                    last_beat = now
                messages = self.source.read(self.batch, self.block_ms)
            except BrokerDown as exc:
                self._broker_down(str(exc))
                self.stop.wait(backoff)
                backoff = min(2 * backoff, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.5
            self._ack_durable()
            if not messages:
                if getattr(self.source, "exhausted", False):
                    break
                if idle_seconds is not None and time.monotonic() - idle_since > idle_seconds:
                    break
                continue
            idle_since = time.monotonic()
            report = self._absorb(messages)
            if on_batch is not None:
                on_batch(report)
            if max_messages is not None and self.stats.messages >= max_messages:
                break

    # ------------------------------------------------------------------ durability
    def _keep_durable(self, done: threading.Event) -> None:
        """Every ``durable_ms``: a durable point covering the batches committed before it."""
        assert self.durable_ms is not None
        while not done.wait(self.durable_ms / 1000):
            committed = self._committed  # read before the checkpoint starts
            if committed <= self._durable:
                continue
            try:
                if self.book.store.durable_point():
                    self._durable = committed
            except Exception as exc:  # the store is busy or down: the next round tries
                logger.warning("live: durable point failed: %s", exc)

    def _ack_durable(self) -> None:
        """Acknowledge every committed batch a durable point covers (one call)."""
        durable = self._durable
        if not self._unacked or self._unacked[0][0] > durable:
            return
        messages: list[Message] = []
        while self._unacked and self._unacked[0][0] <= durable:
            messages += self._unacked.popleft()[1]
        try:
            self.source.ack(messages)
        except BrokerDown as exc:
            # Durable but not acknowledged: delivered again later, then a duplicate.
            self._broker_down(f"acknowledging {len(messages)} message(s): {exc}")

    def _last_durable_point(self) -> None:
        """A stopping consumer acknowledges what it committed, once a durable point holds."""
        if not self._unacked:
            return
        deadline = time.monotonic() + FINAL_DURABLE_SECONDS
        committed = self._committed
        while True:
            try:
                if self.book.store.durable_point():
                    self._durable = committed
                    break
            except Exception as exc:
                logger.warning("live: durable point failed: %s", exc)
            if time.monotonic() > deadline:
                logger.warning(
                    "live: no durable point in %.0f s: %s committed message(s) left "
                    "unacknowledged (delivered again: duplicates)",
                    FINAL_DURABLE_SECONDS,
                    sum(len(m) for _, m in self._unacked),
                )
                return
            time.sleep(0.05)
        self._ack_durable()

    def _absorb(self, messages: list[Message]) -> Any:
        items = [parse(m.body, self.source.name, m.id) for m in messages]
        report = self.book.ingest(items)
        if not report.committed:
            self.source.requeue(messages)
            self.stats.counts.update(report.counts)
            return report
        self._committed += 1
        if self.durable_ms is None:
            self._durable = self._committed  # synchronous = FULL: the commit is durable
        self._unacked.append((self._committed, messages))
        if self.durable_ms is None:
            self._ack_durable()
        self.stats.batches += 1
        self.stats.messages += len(messages)
        self.stats.counts.update(report.counts)
        self.stats.alarms += report.alarms
        self.stats.last_forecasts.update(report.forecasts)
        self._publish(messages, report)
        return report

    def _publish(self, messages: list[Message], report: Any) -> None:
        if not report.forecasts:
            return
        sent = {}
        for message, outcome in zip(messages, report.outcomes, strict=True):
            if outcome.series is not None and message.sent_ns is not None:
                sent[(outcome.series, outcome.ts)] = message.sent_ns
        published = time.time_ns()
        out = []
        for stream, forecast in report.forecasts.items():
            series = stream.rsplit("/", 1)[1]
            row = {
                "stream": stream,
                "seq": forecast["seq"],
                "based_on": forecast["based_on"],
                "forecast": json.dumps(forecast, default=str),
                "published_ns": published,
            }
            sent_ns = sent.get((series, forecast["based_on"]))
            if sent_ns is not None:
                row["sent_ns"] = sent_ns
            out.append(row)
        try:
            self.source.publish(out)
        except BrokerDown as exc:
            self._broker_down(f"publishing forecasts: {exc}")
            return
        done = time.time_ns()
        self.stats.latencies_ms.extend(
            (done - m.sent_ns) / 1e6 for m in messages if m.sent_ns is not None
        )

    def _broker_down(self, detail: str) -> None:
        """Count the outage and dead-letter it (the loop goes on)."""
        self.stats.counts["broker_unavailable"] += 1
        self.book.counts["broker_unavailable"] += 1
        when = datetime.now(UTC).isoformat(timespec="milliseconds")
        logger.warning("live: broker unavailable: %s", detail)
        row = {
            "key": f"down@{when}",
            "reason": "broker_unavailable",
            "series": None,
            "ts": when,
            "detail": detail[:4000],
            "message": None,
        }
        try:
            self.book.store.append_all([Batch(kinds.DEAD_LETTERS, self.source.name, [row])])
        except Exception as exc:  # the store is down too: the log line is what remains
            logger.warning("live: the outage was not recorded: %s", exc)
