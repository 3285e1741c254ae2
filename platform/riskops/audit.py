"""Append-only, hash-chained audit trail of every registry decision.

Each record stores the SHA-256 of its own canonical content together with the previous
record's hash, so editing, deleting or reordering any record breaks the chain from that
record on, and :meth:`AuditTrail.verify` names the first broken one. Records live in a
SQL table (SQLite under ``RISKOPS_HOME`` by default, PostgreSQL in production), which
also gives the lock that serialises promotions of one model across processes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from riskops.settings import Settings

GENESIS = "0" * 64

_metadata = sa.MetaData()
_events = sa.Table(
    "riskops_audit",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: str
    actor: str
    action: str
    model: str
    version: int | None
    body: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int
    first_broken: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_hash(
    seq: int,
    ts: str,
    actor: str,
    action: str,
    model: str,
    version: int | None,
    body_json: str,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [seq, ts, actor, action, model, version, body_json, prev_hash], separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditTrail:
    """The audit trail of one RiskOps installation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.audit_database_url
        if url.startswith("sqlite"):
            settings.ensure_home()
        self.engine = sa.create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            # Writers take the database lock at BEGIN so that reading the chain head and
            # appending happen atomically across processes.
            @sa.event.listens_for(self.engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _: Any) -> None:
                dbapi_conn.isolation_level = None
                dbapi_conn.execute("PRAGMA busy_timeout = 30000")

            @sa.event.listens_for(self.engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        _metadata.create_all(self.engine)

    def append(
        self,
        action: str,
        model: str,
        version: int | None = None,
        *,
        actor: str | None = None,
        **body: Any,
    ) -> AuditRecord:
        """Append one record. Retries when another writer appended the same sequence number."""
        from riskops.tracking import jsonable

        body_json = json.dumps(jsonable(body), sort_keys=True, separators=(",", ":"))
        actor = actor or self.settings.actor
        for attempt in range(50):
            try:
                with self.engine.begin() as conn:
                    return self._append(conn, action, model, version, actor, body_json)
            except (IntegrityError, OperationalError):
                time.sleep(0.05 * (attempt + 1))
        raise RuntimeError("audit: could not append after 50 attempts")

    def _append(
        self,
        conn: sa.Connection,
        action: str,
        model: str,
        version: int | None,
        actor: str,
        body_json: str,
    ) -> AuditRecord:
        head = conn.execute(
            sa.select(_events.c.seq, _events.c.hash).order_by(_events.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        digest = record_hash(seq, ts, actor, action, model, version, body_json, prev)
        conn.execute(
            _events.insert().values(
                seq=seq,
                ts=ts,
                actor=actor,
                action=action,
                model=model,
                version=version,
                body=body_json,
                prev_hash=prev,
                hash=digest,
            )
        )
        return AuditRecord(
            seq, ts, actor, action, model, version, json.loads(body_json), prev, digest
        )

    def records(self, model: str | None = None) -> list[AuditRecord]:
        query = sa.select(_events).order_by(_events.c.seq)
        if model is not None:
            query = query.where(_events.c.model == model)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRecord(
                r.seq,
                r.ts,
                r.actor,
                r.action,
                r.model,
                r.version,
                json.loads(r.body),
                r.prev_hash,
                r.hash,
            )
            for r in rows
        ]

    def verify(self) -> VerifyResult:
        """Recompute the chain; name the first record whose content or link is broken."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_events).order_by(_events.c.seq)).all()
        prev = GENESIS
        for expected_seq, r in enumerate(rows, start=1):
            if r.seq != expected_seq:
                return VerifyResult(
                    False, len(rows), expected_seq, f"record {expected_seq} is missing"
                )
            if r.prev_hash != prev:
                return VerifyResult(
                    False, len(rows), r.seq, "link to the previous record is broken"
                )
            try:
                body_json = json.dumps(json.loads(r.body), sort_keys=True, separators=(",", ":"))
            except ValueError:
                return VerifyResult(False, len(rows), r.seq, "body is not valid JSON")
            digest = record_hash(
                r.seq, r.ts, r.actor, r.action, r.model, r.version, body_json, r.prev_hash
            )
            if digest != r.hash or body_json != r.body:
                return VerifyResult(False, len(rows), r.seq, "content does not match its hash")
            prev = r.hash
        return VerifyResult(True, len(rows))

    @contextmanager
    def model_lock(self, model: str) -> Iterator[None]:
        """Serialise promotions of one model across processes (and hosts on PostgreSQL)."""
        if self.engine.dialect.name != "postgresql":
            # SQLite lives on this machine, so a lock file beside it serialises processes;
            # holding the database's own write lock would block the audit appends.
            yield from _file_lock(self.settings, model)
            return
        # Autocommit: a session idle in a transaction can be killed by the server's
        # idle_in_transaction_session_timeout, which would silently release the lock.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:m))"), {"m": model})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:m))"), {"m": model})


def _file_lock(settings: Settings, model: str) -> Iterator[None]:
    from filelock import FileLock

    locks = settings.home / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{model}.lock"), timeout=300):
        yield
