"""Append-only, hash-chained audit trail of every registry decision.

Each record stores a digest of its own canonical content together with the previous
record's digest, so editing, deleting or reordering any record breaks the chain from that
record on, and :meth:`AuditTrail.verify` names the first broken one. Records live in a
SQL table (SQLite under ``RISKOPS_HOME`` by default, PostgreSQL in production), which
also gives the lock that serialises promotions of one model across processes.

Each record names its actor and, in the body, how the actor was established
(``actor_source``: ``token``, ``oidc`` or ``self_declared``): the principal the trail was
made for, else the identity this process authenticates (:mod:`riskops.identity.resolve`).

What the chain protects against
-------------------------------
* **Keyed** (``RISKOPS_AUDIT_KEY`` set): the digest is HMAC-SHA-256 under the key. Nobody
  without the key can edit, insert or reorder a record and recompute the later digests:
  ``verify`` names the first record whose digest does not match.
* **Unkeyed** (no key): plain SHA-256. Accidental edits and naive tampering are detected,
  but anyone with write access to the table can rewrite a record *and recompute every later
  digest* with the public function :func:`record_hash`; only the anchors below then notice,
  and only if the head moved.
* **Truncation** (deleting the newest records, or dropping the table): the head (sequence
  number, digest and time) is anchored outside the table at every append, in
  ``RISKOPS_HOME/audit_anchor.json`` (written while the append's transaction holds the write
  lock) and, by :mod:`riskops.lifecycle`, as the ``riskops.audit_head`` tag of the registered
  model; under a key both anchors are MAC'd (head, digest *and* time), so neither can be
  forged. ``verify`` fails when the table lacks an anchored record or holds another digest
  for it.
* **Replay** (deleting records *and* restoring the anchor file and tags saved before them):
  no local anchor can tell an old state from the current one. Configure
  ``RISKOPS_AUDIT_ANCHOR_URL``: every append is then also inserted into an append-only table
  outside the writer's control (a PostgreSQL role granted INSERT and SELECT but neither
  UPDATE nor DELETE, see ``infra/postgres``), and ``verify`` fails when that table names a
  record the trail no longer holds.
* **Unkeyed writes to a keyed trail** are refused before anything changes
  (:meth:`AuditTrail.check_writable`), so a command run without the key cannot append a
  record that breaks the chain for good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from riskops.errors import BadInputError
from riskops.settings import Settings

if TYPE_CHECKING:
    from riskops.identity.roles import Principal

logger = logging.getLogger("riskops.audit")

GENESIS = "0" * 64
SHA256 = "sha256"
HMAC_SHA256 = "hmac-sha256"

AnchorHook = Callable[["AuditRecord", str], None]
"""Called after each committed append with the record and its anchor value (see
:func:`anchor_value`), e.g. to tag the registered model with the head."""

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


_anchor_metadata = sa.MetaData()
_external_anchors = sa.Table(
    "riskops_audit_anchor",
    _anchor_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("mac", sa.String(64), nullable=False, default=""),
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
    scheme: str = SHA256
    anchor_seq: int | None = None
    note: str = ""
    """Something to know that is not a break (an append interrupted before it committed)."""

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
    key: bytes | None = None,
) -> str:
    """The digest of one record: HMAC-SHA-256 under ``key``, else SHA-256."""
    canonical = json.dumps(
        [seq, ts, actor, action, model, version, body_json, prev_hash], separators=(",", ":")
    ).encode()
    if key:
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()


def _anchor_mac(key: bytes, seq: int, digest: str, ts: str) -> str:
    return hmac.new(key, f"anchor:{seq}:{digest}:{ts}".encode(), hashlib.sha256).hexdigest()


def _committing_mac(key: bytes, seq: int, digest: str, ts: str, prev_hash: str) -> str:
    """The MAC of an anchor written before its record committed: without it, marking a final
    anchor "committing" would excuse the deletion of the newest record."""
    text = f"committing:{seq}:{digest}:{ts}:{prev_hash}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class AuditKeyError(BadInputError):
    """A write to a keyed trail without its key, or with another key (exit 2)."""


@dataclass(frozen=True)
class Anchor:
    """A copy of the chain's head kept outside the table: ``seq``, ``hash``, the record's time
    ``ts`` and, under a key, a MAC over the three."""

    seq: int
    hash: str
    ts: str = ""
    mac: str = ""

    def value(self) -> str:
        """``seq:hash:ts[:mac]``, the form of the registry tag."""
        return ":".join([str(self.seq), self.hash, self.ts, *([self.mac] if self.mac else [])])

    @classmethod
    def parse(cls, value: str) -> Anchor:
        parts = value.split(":")
        seq = int(parts[0]) if parts and parts[0].isdigit() else -1
        # ts is ISO 8601 with colons: seq, hash, then the time, then perhaps a 64-hex MAC.
        rest = parts[2:]
        mac = rest.pop() if rest and len(rest[-1]) == 64 and len(rest) > 1 else ""
        return cls(seq, parts[1] if len(parts) > 1 else "", ":".join(rest), mac)


class AuditTrail:
    """The audit trail of one RiskOps installation."""

    def __init__(
        self,
        settings: Settings,
        anchor: AnchorHook | None = None,
        principal: Principal | None = None,
    ) -> None:
        self.settings = settings
        self._anchor_hook = anchor
        self._principal = principal
        secret = settings.audit_key.get_secret_value() if settings.audit_key else ""
        self._key = secret.encode() if secret else None
        self.scheme = HMAC_SHA256 if self._key else SHA256
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
        self._external: sa.Engine | None = None
        if settings.audit_anchor_url:
            self._external = sa.create_engine(settings.audit_anchor_url, future=True)
            _anchor_metadata.create_all(self._external)

    def anchor(self, record: AuditRecord) -> Anchor:
        """The anchor of ``record``: MAC'd under the key when there is one."""
        mac = _anchor_mac(self._key, record.seq, record.hash, record.ts) if self._key else ""
        return Anchor(record.seq, record.hash, record.ts, mac)

    def check_writable(self, what: str = "the change") -> None:
        """Refuse, before anything changes, a write that would break the chain (exit 2: no
        key, or another key, on a trail written with one) or that the home cannot take
        (exit 1: a read-only or full local store, see :func:`riskops.storage.require_writable`).
        ``what`` names what is then not done."""
        from riskops.storage import require_writable

        require_writable(self.settings, what)
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(_events).order_by(_events.c.seq.desc()).limit(1)).first()
        if head is None:
            return
        body_json = json.dumps(json.loads(head.body), sort_keys=True, separators=(",", ":"))
        fields = (head.seq, head.ts, head.actor, head.action, head.model, head.version, body_json)
        if hmac.compare_digest(record_hash(*fields, head.prev_hash, self._key), head.hash):
            return
        if self._key is None:
            raise AuditKeyError(
                "RISKOPS_AUDIT_KEY: the audit trail of this home is keyed (HMAC-SHA-256) and "
                "no key is set; nothing was written"
            )
        raise AuditKeyError(
            "RISKOPS_AUDIT_KEY: the key set is not the one this audit trail was written with "
            "(its newest record does not verify under it); nothing was written"
        )

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

        if actor is None:
            acting = self.acting()
            actor = acting.name
            body.setdefault("actor_source", acting.source)
        from riskops.storage import storage_failure

        body_json = json.dumps(jsonable(body), sort_keys=True, separators=(",", ":"))
        last: Exception | None = None
        for attempt in range(50):
            anchored: list[tuple[AuditRecord, bytes | None]] = []
            try:
                with self.engine.begin() as conn:
                    record = self._append(conn, action, model, version, actor, body_json)
                    # Still inside the transaction, which holds the write lock: anchors are
                    # written in sequence order by one writer at a time.
                    anchored.append((record, self._write_anchor_file(record)))
                break
            except BaseException as exc:
                # The commit failed after the anchor named the record (a full disk fails at
                # COMMIT): the anchor goes back to what it was, else it would name a record
                # the table does not hold -- the very sign of a truncated trail.
                for written, before in anchored:
                    self._restore_anchor_file(written, before)
                if not isinstance(exc, (IntegrityError, OperationalError)):
                    raise
                # Another writer (a taken sequence number, a busy database) is waited for;
                # a full or read-only store is not (it would be retried for a minute).
                if storage_failure(exc) is not None:
                    raise
                last = exc
                time.sleep(0.05 * (attempt + 1))
        else:
            raise RuntimeError("audit: could not append after 50 attempts") from last
        self._settle_anchor_file(record)
        anchor = self.anchor(record)
        if self._external is not None:
            with self._external.begin() as conn:
                conn.execute(
                    _external_anchors.insert().values(
                        seq=anchor.seq, hash=anchor.hash, ts=anchor.ts, mac=anchor.mac
                    )
                )
        if self._anchor_hook is not None:
            self._anchor_hook(record, anchor.value())
        return record

    def acting(self) -> Principal:
        """Who the records of this trail name when no actor is given: the principal it was
        made for, else the one this process authenticates (resolved once)."""
        if self._principal is None:
            from riskops.identity.resolve import current

            self._principal = current(self.settings)
        return self._principal

    # ------------------------------------------------------------------ anchors
    def _restore_anchor_file(self, record: AuditRecord, before: bytes | None) -> None:
        """Put back the anchor file as it was before ``record``'s failed append, if it still
        names ``record`` -- under the write lock, so that no other writer's anchor is
        overwritten."""
        path = self.settings.audit_anchor_file
        try:
            with self.engine.begin():
                anchor = self.read_anchor() or {}
                if anchor.get("seq") != record.seq or anchor.get("hash") != record.hash:
                    return
                if before is None:
                    path.unlink(missing_ok=True)
                    return
                tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
                tmp.write_bytes(before)
                os.replace(tmp, path)
        except Exception:  # the append's own error is the one to report
            logger.exception("audit: the anchor of a failed append could not be put back")

    def _write_anchor_file(self, record: AuditRecord, *, committing: bool = True) -> bytes | None:
        """Anchor ``record`` in the home's anchor file; returns the file's previous bytes.

        Written inside the append's transaction, before COMMIT, the anchor says so
        (``committing``, with the previous record's hash, MAC'd under the key): a process
        killed between this write and COMMIT leaves an anchor one record ahead of the table,
        which :meth:`verify` then tells from a deleted record. :meth:`_settle_anchor_file`
        drops the mark once the record is committed.
        """
        path = self.settings.audit_anchor_file
        try:
            before: bytes | None = path.read_bytes()
        except FileNotFoundError:
            before = None
        anchor = self.anchor(record)
        payload: dict[str, Any] = {
            "seq": anchor.seq,
            "hash": anchor.hash,
            "ts": anchor.ts,
            "scheme": self.scheme,
        }
        if anchor.mac:
            payload["mac"] = anchor.mac
        if committing:
            payload["committing"] = True
            payload["prev_hash"] = record.prev_hash
            if self._key:
                payload["committing_mac"] = _committing_mac(
                    self._key, record.seq, record.hash, record.ts, record.prev_hash
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(payload, sort_keys=True))
        os.replace(tmp, path)  # atomic: a reader sees the old head or the new one
        return before

    def _settle_anchor_file(self, record: AuditRecord) -> None:
        """After COMMIT: the anchor file names ``record`` as committed -- under the write
        lock, and only if no later append has anchored its own record since."""
        with self.engine.begin():
            anchor = self.read_anchor() or {}
            if (
                anchor.get("committing")
                and anchor.get("seq") == record.seq
                and anchor.get("hash") == record.hash
            ):
                self._write_anchor_file(record, committing=False)

    def settle_anchor(self) -> str | None:
        """Re-anchor the table's head when the anchor file was left by an append killed
        before its COMMIT (see :meth:`verify`'s note); returns what was done, or None."""
        with self.engine.begin() as conn:
            anchor = self.read_anchor() or {}
            head = conn.execute(sa.select(_events).order_by(_events.c.seq.desc()).limit(1)).first()
            if self._interrupted(anchor, head) is None:
                return None
            if head is None:  # the first append was the one interrupted: nothing to anchor
                self.settings.audit_anchor_file.unlink(missing_ok=True)
                return "anchor file of an append that never committed removed (no records)"
            record = AuditRecord(
                head.seq,
                head.ts,
                head.actor,
                head.action,
                head.model,
                head.version,
                json.loads(head.body),
                head.prev_hash,
                head.hash,
            )
            self._write_anchor_file(record, committing=False)
        return f"anchor file re-anchored at record {head.seq}, the table's head"

    def _interrupted(self, anchor: dict[str, Any], head: Any) -> str | None:
        """Why ``anchor`` is one record ahead of the table's ``head`` without anything being
        deleted (an append killed before its COMMIT), or None when it is not that."""
        if not anchor.get("committing"):
            return None
        seq, digest = int(anchor.get("seq", -1)), str(anchor.get("hash", ""))
        ts = str(anchor.get("ts", ""))
        prev_hash = str(anchor.get("prev_hash", ""))
        if self._key is not None:
            expected = _committing_mac(self._key, seq, digest, ts, prev_hash)
            if not hmac.compare_digest(str(anchor.get("committing_mac", "")), expected):
                return None
        head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
        if head_seq != seq - 1 or not hmac.compare_digest(head_hash, prev_hash):
            return None
        return (
            f"the append of record {seq} was interrupted before it committed (a process "
            f"killed?): nothing of it is in the trail, whose head is record {head_seq}; the "
            "next record, or `riskops reconcile`, anchors the head again"
        )

    def read_anchor(self) -> dict[str, Any] | None:
        """The anchored head ``{"seq", "hash", "scheme"[, "mac"]}``, or None before any append."""
        path: Path = self.settings.audit_anchor_file
        if not path.exists():
            return None
        try:
            anchor = json.loads(path.read_text())
        except (OSError, ValueError):
            return {"seq": -1, "hash": "", "scheme": "unreadable"}
        return anchor if isinstance(anchor, dict) else {"seq": -1, "hash": "", "scheme": "?"}

    def check_anchor(self, anchor: Anchor, where: str) -> str | None:
        """Why an anchor disagrees with the table (or, keyed, is not MAC'd), or None."""
        if self._key is not None:
            expected = _anchor_mac(self._key, anchor.seq, anchor.hash, anchor.ts)
            if not hmac.compare_digest(anchor.mac, expected):
                return f"{where} is not signed with RISKOPS_AUDIT_KEY (forged or unkeyed)"
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_events.c.hash, _events.c.ts).where(_events.c.seq == anchor.seq)
            ).first()
        if row is None:
            return f"{where} names record {anchor.seq}, which the audit table no longer holds"
        if row.hash != anchor.hash:
            return f"{where} names record {anchor.seq} with a different hash than the table holds"
        return None

    def external_anchors(self) -> list[Anchor]:
        """The append-only anchors (``RISKOPS_AUDIT_ANCHOR_URL``), newest last; [] without."""
        if self._external is None:
            return []
        with self._external.connect() as conn:
            rows = conn.execute(sa.select(_external_anchors).order_by(_external_anchors.c.id)).all()
        return [Anchor(r.seq, r.hash, r.ts, r.mac) for r in rows]

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
        digest = record_hash(seq, ts, actor, action, model, version, body_json, prev, self._key)
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
        """Recompute the chain and compare its head with the anchor file.

        Names the first record whose content or link is broken, or the anchor mismatch
        (records deleted from the end, the table dropped, the anchor file removed).
        """
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_events).order_by(_events.c.seq)).all()
        n = len(rows)

        def broken(seq: int | None, reason: str) -> VerifyResult:
            return VerifyResult(False, n, seq, reason, self.scheme, anchor_seq)

        anchor = self.read_anchor()
        anchor_seq = int(anchor["seq"]) if anchor else None
        hint = (
            " (keyed with RISKOPS_AUDIT_KEY: is it the key the trail was written with?)"
            if self._key
            else " (if the trail was written with RISKOPS_AUDIT_KEY, set it to verify)"
        )
        prev = GENESIS
        for expected_seq, r in enumerate(rows, start=1):
            if r.seq != expected_seq:
                return broken(expected_seq, f"record {expected_seq} is missing")
            if r.prev_hash != prev:
                return broken(r.seq, "link to the previous record is broken")
            try:
                body_json = json.dumps(json.loads(r.body), sort_keys=True, separators=(",", ":"))
            except ValueError:
                return broken(r.seq, "body is not valid JSON")
            digest = record_hash(
                r.seq,
                r.ts,
                r.actor,
                r.action,
                r.model,
                r.version,
                body_json,
                r.prev_hash,
                self._key,
            )
            if not hmac.compare_digest(digest, r.hash) or body_json != r.body:
                return broken(r.seq, "content does not match its hash" + hint)
            prev = r.hash
        head = rows[-1] if rows else None
        note = self._interrupted(anchor or {}, head) or ""
        problem = None if note else self._anchor_problem(anchor, head)
        if problem:
            return broken(None, problem)
        for external in self.external_anchors():
            problem = self.check_anchor(external, "the append-only anchor table")
            if problem:
                return broken(None, problem)
        return VerifyResult(True, n, None, "", self.scheme, anchor_seq, note)

    def _anchor_problem(self, anchor: dict[str, Any] | None, head: Any) -> str | None:
        if anchor is None:
            if head is None:
                return None  # a fresh installation: nothing appended, nothing anchored
            return (
                f"anchor file {self.settings.audit_anchor_file} is missing but the table "
                f"holds {head.seq} records"
            )
        seq, digest = int(anchor.get("seq", -1)), str(anchor.get("hash", ""))
        if self._key:
            mac, ts = str(anchor.get("mac", "")), str(anchor.get("ts", ""))
            if not hmac.compare_digest(mac, _anchor_mac(self._key, seq, digest, ts)):
                return "anchor file is not signed with RISKOPS_AUDIT_KEY (forged or unkeyed)"
        if head is None:
            return f"anchor names record {seq} but the audit table is empty (dropped or truncated)"
        if head.seq < seq:
            return (
                f"anchor names record {seq} but the table ends at record {head.seq} "
                f"(records {head.seq + 1}..{seq} were deleted)"
            )
        local = self.engine.dialect.name == "sqlite"
        if local and head.seq != seq:
            return f"anchor names record {seq} but the table ends at record {head.seq}"
        stated = Anchor(seq, digest, str(anchor.get("ts", "")), str(anchor.get("mac", "")))
        # The MAC was checked above against the file's own fields.
        return self._table_problem(stated, "anchor file")

    def _table_problem(self, anchor: Anchor, where: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_events.c.hash).where(_events.c.seq == anchor.seq)).first()
        if row is None:
            return f"{where} names record {anchor.seq}, which the audit table no longer holds"
        if row.hash != anchor.hash:
            return f"{where} names record {anchor.seq} with a different hash than the table holds"
        return None

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
