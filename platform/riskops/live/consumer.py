"""The stream consumer: read a batch, put it through the book, acknowledge what is committed.

One loop for every source (:mod:`riskops.live.brokers`)::

    heartbeat -> read a batch -> parse each message -> LiveBook.ingest (one transaction)
              -> acknowledge the batch -> publish its forecasts

A message is acknowledged only after the transaction that recorded it -- observation,
forecast, score, state checkpoint, or its dead letter -- has committed, so ``kill -9`` at
any point loses nothing acknowledged and repeats nothing (a message read again is a
counted duplicate). A batch that could not be committed (stale twice) is read again. A
broker that does not answer is a counted outcome with a dead letter; the loop waits
(doubling up to :data:`MAX_BACKOFF_SECONDS`) and goes on.
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

from riskops.evidence.store import Batch
from riskops.live import kinds
from riskops.live.book import LiveBook
from riskops.live.brokers import BrokerDown, Message
from riskops.live.observations import parse

__all__ = ["Consumer", "ConsumerStats"]

logger = logging.getLogger("riskops.live")

MAX_BACKOFF_SECONDS = 10.0


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
    """

    def __init__(
        self, book: LiveBook, source: Any, *, batch: int = 100, block_ms: int = 200
    ) -> None:
        self.book = book
        self.source = source
        self.batch = int(batch)
        self.block_ms = int(block_ms)
        self.stats = ConsumerStats()
        self.stop = threading.Event()

    def run(
        self,
        *,
        max_messages: int | None = None,
        idle_seconds: float | None = None,
        on_batch: Callable[[Any], None] | None = None,
    ) -> ConsumerStats:
        """Consume until :attr:`stop` is set, ``max_messages`` were absorbed, the source is
        exhausted (a replay), or nothing came for ``idle_seconds``."""
        backoff = 0.5
        idle_since = time.monotonic()
        last_beat = 0.0
        self.book.champions()  # loaded before the first message, not during its batch
        self.book.publish_pending()
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
        return self.stats

    def _absorb(self, messages: list[Message]) -> Any:
        items = [parse(m.body, self.source.name, m.id) for m in messages]
        report = self.book.ingest(items)
        if not report.committed:
            self.source.requeue(messages)
            self.stats.counts.update(report.counts)
            return report
        try:
            self.source.ack(messages)
        except BrokerDown as exc:
            # Committed but not acknowledged: delivered again later, then a duplicate.
            self._broker_down(f"acknowledging {len(messages)} message(s): {exc}")
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
