"""Where observations come from: Redis Streams, Kafka, or a file replayed as if live.

Every source offers the same four calls to :class:`~riskops.live.consumer.Consumer`:
``heartbeat()`` (keep its share of the series), ``read(count, block_ms)``, ``ack(messages)``
(only after the batch is committed) and ``publish(forecasts)``.

Redis Streams (:class:`RedisStreams`)
    Observations are partitioned by series over ``shards`` streams (``{topic}:{shard}``,
    the shard a CRC-32 of the series' name), so that one series is always read in order by
    one consumer. The consumers of one group share the shards through leases held in Redis
    (``SET NX PX``, renewed at every heartbeat; a consumer takes at most its fair share,
    ``ceil(shards / live consumers)``, and gives back the rest). A consumer that dies stops
    renewing: once its leases expire the others take its shards over, first claiming the
    entries it had read but not acknowledged (``XAUTOCLAIM``), so they are processed again
    -- as duplicates where the dead consumer had committed them, as new observations
    where it had not. The state of each series is in the evidence store, not in the process,
    so whoever owns a shard resumes its series where the ledger says. A broker that does not
    answer is a counted outcome (``broker_unavailable``, dead-lettered); the consumer waits
    and tries again.
Kafka (:class:`KafkaTopic`)
    ``confluent-kafka`` with the series as the message key (Kafka's partitioner keeps a
    series in one partition, its group protocol assigns partitions), auto-commit off, the
    offsets committed after the batch is. Not exercised by the tests unless a broker runs.
File replay (:class:`Replay`)
    A file (read with the same column mapping as ``riskops observe``) played as messages,
    ``speed`` observations per second (0: as fast as they are absorbed). No broker.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from riskops.errors import BadInputError

__all__ = ["BrokerDown", "KafkaTopic", "Message", "RedisStreams", "Replay", "open_source"]

logger = logging.getLogger("riskops.live")

DEFAULT_TOPIC = "riskops:obs"
DEFAULT_GROUP = "riskops-live"
DEFAULT_SHARDS = 16
LEASE_MS = 10_000
"""A consumer that has not renewed its leases for this long is taken to be dead."""


class BrokerDown(Exception):
    """The broker did not answer (a counted outcome; the consumer waits and retries)."""


@dataclass
class Message:
    """One message: its broker id, its body (JSON bytes), where it came from."""

    id: str
    body: bytes | str | dict[str, Any]
    partition: str = ""
    sent_ns: int | None = None
    handle: Any = field(default=None, repr=False)


def consumer_name() -> str:
    """A consumer name unique on this machine and process."""
    return f"{socket.gethostname()}-{os.getpid()}"


def shard_of(series: str, shards: int) -> int:
    """The shard of a series: stable across processes and machines (CRC-32)."""
    return zlib.crc32(series.encode()) % shards


# -- Redis Streams ------------------------------------------------------------------------------

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_ACQUIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStreams:
    """Observations on Redis Streams, shared by a consumer group (see the module doc)."""

    def __init__(
        self,
        url: str,
        *,
        topic: str = DEFAULT_TOPIC,
        group: str = DEFAULT_GROUP,
        consumer: str | None = None,
        shards: int = DEFAULT_SHARDS,
        lease_ms: int = LEASE_MS,
        publish_to: str | None = None,
    ) -> None:
        import redis

        if shards < 1:
            raise BadInputError(f"--shards: at least 1, got {shards}")
        self.url = url
        self.topic = topic
        self.group = group
        self.consumer = consumer or consumer_name()
        self.shards = int(shards)
        self.lease_ms = int(lease_ms)
        self.publish_to = publish_to if publish_to is not None else f"{topic}:forecasts"
        self.name = f"redis:{topic}"
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.owned: set[int] = set()
        self._drained: set[int] = set()
        self._cursor: dict[int, str] = {}
        """Per shard not drained: the id after which its pending entries are read next."""
        self._groups_ready = False
        self._renew = self.client.register_script(_RENEW)
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._renewer: threading.Thread | None = None
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)

    # ------------------------------------------------------------------ names
    def stream(self, shard: int) -> str:
        return f"{self.topic}:{shard}"

    def _lease(self, shard: int) -> str:
        return f"{self.topic}:lease:{self.group}:{shard}"

    @property
    def _members(self) -> str:
        return f"{self.topic}:members:{self.group}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise BrokerDown(f"redis at {self.url}: {exc}") from None

    # ------------------------------------------------------------------ producing
    def publish_observations(self, bodies: Iterable[dict[str, Any]]) -> list[str]:
        """Send observations (JSON objects with ``series``) to their shards; their ids."""
        pipe = self.client.pipeline(transaction=False)
        for body in bodies:
            shard = shard_of(str(body.get("series", "")), self.shards)
            pipe.xadd(
                self.stream(shard),
                {"body": json.dumps(body), "sent_ns": str(time.time_ns())},
            )
        return [i.decode() if isinstance(i, bytes) else str(i) for i in self._call(pipe.execute)]

    # ------------------------------------------------------------------ consuming
    def _ensure_groups(self) -> None:
        import redis

        if self._groups_ready:
            return
        for shard in range(self.shards):
            try:
                self._call(
                    self.client.xgroup_create, self.stream(shard), self.group, id="0", mkstream=True
                )
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups_ready = True

    def _keep_alive(self) -> None:
        """Renew the leases every third of their life from a thread of its own, so that a
        long batch does not lose them; a process that dies (or hangs in Redis) stops it.

        It renews the leases only: being counted as a live member of the group (the fair
        share) is what :meth:`heartbeat` says, so a consumer whose loop stopped calling it
        (ended, stuck, or never closed) stops counting and cannot hold the others' share
        down while it holds no shard."""
        while not self._stopped.wait(self.lease_ms / 3000):
            try:
                self._renew_owned()
            except Exception as exc:  # the broker is down: the main loop reports it
                logger.debug("live: lease renewal failed: %s", exc)

    def _announce(self) -> None:
        """Count this consumer as a live member until its lease period from now (each
        member says until when, so members with other lease periods are judged alike)."""
        until_ms = int(time.time() * 1000) + self.lease_ms
        self._call(self.client.hset, self._members, self.consumer, until_ms)

    def _renew_owned(self) -> None:
        with self._lock:
            for shard in sorted(self.owned):
                if not self._call(
                    self._renew, keys=[self._lease(shard)], args=[self.consumer, self.lease_ms]
                ):
                    # Lost (the process stalled past the lease): another consumer owns it.
                    self.owned.discard(shard)
                    self._drained.discard(shard)
                    self._cursor.pop(shard, None)

    def heartbeat(self) -> set[int]:
        """Renew this consumer's leases, take free shards up to its fair share, give back
        the surplus; returns the shards it owns now. Newly taken shards first claim the
        entries their previous owner read but did not acknowledge."""
        self._ensure_groups()
        if self._renewer is None:
            self._renewer = threading.Thread(
                target=self._keep_alive, name="riskops-leases", daemon=True
            )
            self._renewer.start()
        with self._lock:
            return self._rebalance()

    def _rebalance(self) -> set[int]:
        self._announce()
        self._renew_owned()
        now_ms = int(time.time() * 1000)
        members = self._call(self.client.hgetall, self._members)
        alive = [k for k, until in members.items() if int(until) >= now_ms]
        for name, until in members.items():
            if now_ms - int(until) > 10 * self.lease_ms:
                self._call(self.client.hdel, self._members, name)
        fair = math.ceil(self.shards / max(1, len(alive)))
        while len(self.owned) > fair:
            shard = max(self.owned)
            self._call(self._release, keys=[self._lease(shard)], args=[self.consumer])
            self.owned.discard(shard)
            self._drained.discard(shard)
            self._cursor.pop(shard, None)
        for shard in range(self.shards):
            if len(self.owned) >= fair:
                break
            if shard in self.owned:
                continue
            # Free, or still ours from before a restart under the same name.
            got = self._call(
                self._acquire, keys=[self._lease(shard)], args=[self.consumer, self.lease_ms]
            )
            if got:
                self.owned.add(shard)
                self._take_over(shard)
        return set(self.owned)

    def _take_over(self, shard: int) -> int:
        """Claim every pending entry of the shard (XAUTOCLAIM); how many."""
        claimed, start = 0, "0-0"
        while True:
            answer = self._call(
                self.client.xautoclaim,
                self.stream(shard),
                self.group,
                self.consumer,
                min_idle_time=0,
                start_id=start,
                count=500,
            )
            # [next cursor, claimed entries, ids deleted meanwhile]
            start, entries = answer[0], answer[1]
            claimed += len(entries)
            if start in (b"0-0", "0-0"):
                break
        self._drained.discard(shard)
        self._cursor.pop(shard, None)
        if claimed:
            logger.info(
                "live: %s took over shard %s with %s pending", self.consumer, shard, claimed
            )
        return claimed

    def read(self, count: int = 100, block_ms: int = 500) -> list[Message]:
        """Up to ``count`` messages of the owned shards: each shard's pending entries (its
        own, or claimed) before new ones.

        The pending entries are read on from where the last read of them stopped, not from
        the start: the consumer acknowledges a batch only once a durable point covers it, so
        the entries it has just processed are still pending when it reads again."""
        with self._lock:
            owned, drained = set(self.owned), set(self._drained)
            pending = {self.stream(s): self._cursor.get(s, "0") for s in sorted(owned - drained)}
        if not owned:
            time.sleep(block_ms / 1000)
            return []
        if pending:
            answer = self._call(
                self.client.xreadgroup, self.group, self.consumer, pending, count=count
            )
            messages = self._messages(answer)
            for stream, entries in answer or []:
                name = stream.decode() if isinstance(stream, bytes) else stream
                shard = int(name.rsplit(":", 1)[1])
                with self._lock:
                    if not entries:
                        self._drained.add(shard)
                        self._cursor.pop(shard, None)
                    elif shard in self.owned:
                        last = entries[-1][0]
                        self._cursor[shard] = last.decode() if isinstance(last, bytes) else last
            if messages:
                return messages
        fresh = {self.stream(s): ">" for s in sorted(owned)}
        answer = self._call(
            self.client.xreadgroup, self.group, self.consumer, fresh, count=count, block=block_ms
        )
        return self._messages(answer)

    @staticmethod
    def _messages(answer: Any) -> list[Message]:
        out = []
        for stream, entries in answer or []:
            name = stream.decode() if isinstance(stream, bytes) else str(stream)
            for entry_id, fields in entries:
                ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                fields = fields or {}
                body = fields.get(b"body", fields.get("body", b""))
                sent = fields.get(b"sent_ns", fields.get("sent_ns"))
                out.append(
                    Message(
                        f"{name}/{ident}",
                        body,
                        name,
                        int(sent) if sent else None,
                        (name, ident),
                    )
                )
        return out

    def requeue(self, messages: Sequence[Message]) -> None:
        """Messages of a batch that was not committed: read again (they stay pending)."""
        with self._lock:
            for m in messages:
                shard = int(m.handle[0].rsplit(":", 1)[1])
                self._drained.discard(shard)
                before = _id_before(m.handle[1])
                found = self._cursor.get(shard)
                if found is None or _id_key(before) < _id_key(found):
                    self._cursor[shard] = before

    def ack(self, messages: Sequence[Message]) -> None:
        """Acknowledge committed messages (XACK, per shard)."""
        by_stream: dict[str, list[str]] = {}
        for m in messages:
            stream, ident = m.handle
            by_stream.setdefault(stream, []).append(ident)
        pipe = self.client.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xack(stream, self.group, *ids)
        self._call(pipe.execute)

    def publish(self, forecasts: Sequence[dict[str, Any]]) -> None:
        """The forecasts of a committed batch, on the output stream (trimmed to ~100,000)."""
        if not forecasts or not self.publish_to:
            return
        pipe = self.client.pipeline(transaction=False)
        for forecast in forecasts:
            pipe.xadd(
                self.publish_to,
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in forecast.items()},
                maxlen=100_000,
                approximate=True,
            )
        self._call(pipe.execute)

    def close(self) -> None:
        """Give back the leases (a clean stop: the others take over at once)."""
        self._stopped.set()
        try:
            for shard in list(self.owned):
                self._release(keys=[self._lease(shard)], args=[self.consumer])
            self.client.hdel(self._members, self.consumer)
        except Exception:  # the broker is gone: the leases expire on their own
            pass
        self.owned.clear()


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _id_before(entry_id: str) -> str:
    """The stream entry id just before ``entry_id`` (reads "after" it start at it)."""
    ms, seq = _id_key(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-18446744073709551615" if ms > 0 else "0"


# -- Kafka -------------------------------------------------------------------------------------


def kafka_commit_offsets(consumed: Iterable[tuple[int, int]]) -> dict[int, int]:
    """``{partition: offset to commit}`` for consumed ``(partition, offset)`` pairs: Kafka's
    committed offset is the next one to read, one past the highest consumed per partition.
    Committing only the last message's would leave the batch's other partitions to be read
    again (and an earlier, lower offset of one partition must never move its commit back)."""
    found: dict[int, int] = {}
    for partition, offset in consumed:
        found[partition] = max(found.get(partition, -1), offset + 1)
    return found


class KafkaTopic:
    """Observations on a Kafka topic keyed by series; offsets committed after the batch."""

    def __init__(self, bootstrap: str, *, topic: str, group: str, publish_to: str | None = None):
        try:
            from confluent_kafka import Consumer, Producer
        except ImportError:
            raise BadInputError(
                "--broker kafka://: confluent-kafka is not installed (pip install 'riskops[kafka]')"
            ) from None
        self.name = f"kafka:{topic}"
        self.topic = topic
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._consumer.subscribe([topic])
        self._producer = Producer({"bootstrap.servers": bootstrap})
        self.publish_to = publish_to or f"{topic}.forecasts"

    def heartbeat(self) -> set[int]:
        return set()  # Kafka's group protocol assigns the partitions

    def read(self, count: int = 100, block_ms: int = 500) -> list[Message]:
        from confluent_kafka import KafkaException

        try:
            found = self._consumer.consume(num_messages=count, timeout=block_ms / 1000)
        except KafkaException as exc:
            raise BrokerDown(f"kafka: {exc}") from None
        out = []
        for m in found:
            if m.error():
                raise BrokerDown(f"kafka: {m.error()}")
            ident = f"{m.topic()}/{m.partition()}/{m.offset()}"
            out.append(Message(ident, m.value() or b"", str(m.partition()), None, m))
        return out

    def requeue(self, messages: Sequence[Message]) -> None:
        from confluent_kafka import TopicPartition

        first: dict[int, int] = {}
        for m in messages:
            first.setdefault(m.handle.partition(), m.handle.offset())
        for partition, offset in first.items():
            self._consumer.seek(TopicPartition(self.topic, partition, offset))

    def ack(self, messages: Sequence[Message]) -> None:
        """Commit, for each partition the messages came from, the offset after the last one
        (a batch, or several batches acknowledged at once, spans partitions)."""
        from confluent_kafka import KafkaException, TopicPartition

        if not messages:
            return
        offsets = kafka_commit_offsets((m.handle.partition(), m.handle.offset()) for m in messages)
        try:
            self._consumer.commit(
                offsets=[TopicPartition(self.topic, p, o) for p, o in sorted(offsets.items())],
                asynchronous=False,
            )
        except KafkaException as exc:
            raise BrokerDown(f"kafka: {exc}") from None

    def publish(self, forecasts: Sequence[dict[str, Any]]) -> None:
        for forecast in forecasts:
            self._producer.produce(
                self.publish_to, json.dumps(forecast, default=str), key=forecast.get("stream")
            )
        self._producer.poll(0)

    def close(self) -> None:
        self._consumer.close()
        self._producer.flush(5)


# -- file replay -------------------------------------------------------------------------------


class Replay:
    """A file's bars as messages, ``speed`` per second (0: unpaced); no broker."""

    def __init__(self, bodies: Iterable[dict[str, Any]], name: str, speed: float = 0.0) -> None:
        if speed < 0:
            raise BadInputError(f"--speed: observations per second, at least 0, got {speed}")
        self.name = f"replay:{name}"
        self.speed = float(speed)
        self._bodies: Iterator[dict[str, Any]] = iter(bodies)
        self._again: list[Message] = []
        self._count = 0
        self._started = time.monotonic()
        self.exhausted = False

    def heartbeat(self) -> set[int]:
        return set()

    def read(self, count: int = 100, block_ms: int = 500) -> list[Message]:
        if self._again:
            out, self._again = self._again, []
            return out
        out = []
        for body in self._bodies:
            self._count += 1
            out.append(
                Message(f"{body.get('series')}@{body.get('timestamp')}", body, "", time.time_ns())
            )
            if self.speed:
                due = self._started + self._count / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                break  # paced: one message per read, on time
            if len(out) >= count:
                break
        if not out:
            self.exhausted = True
        return out

    def requeue(self, messages: Sequence[Message]) -> None:
        self._again = list(messages) + self._again

    def ack(self, messages: Sequence[Message]) -> None:
        return None

    def publish(self, forecasts: Sequence[dict[str, Any]]) -> None:
        return None

    def close(self) -> None:
        return None


def open_source(broker: str | None, **options: Any) -> Any:
    """The source a ``--broker`` URL names: ``redis://...``, ``rediss://...`` or
    ``kafka://host:port[,host:port]``."""
    if not broker:
        raise BadInputError("--broker: give redis://HOST:PORT/DB or kafka://HOST:PORT, or --replay")
    scheme = urlparse(broker).scheme
    if scheme in ("redis", "rediss", "unix"):
        return RedisStreams(broker, **options)
    if scheme == "kafka":
        bootstrap = broker.split("://", 1)[1].rstrip("/")
        return KafkaTopic(
            bootstrap,
            topic=options.get("topic", DEFAULT_TOPIC).replace(":", "."),
            group=options.get("group", DEFAULT_GROUP),
        )
    raise BadInputError(f"--broker: {scheme!r} is not redis:// or kafka:// (got {broker!r})")
