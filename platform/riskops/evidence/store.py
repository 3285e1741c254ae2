"""The live evidence store: what happens after a promotion, append-only and hash-chained.

Credit decisions and their matured outcomes, market observations, the forecasts a live
champion issues and how they scored, shadow answers, alarms: each is a row of a *stream*
(a model, a series) in a table of its kind. Every stream is a hash chain of its own: a row's
digest covers the stream, its sequence number, its idempotency key, its payload and the
previous row's digest, so an edited, deleted or reordered row breaks the chain from that row
on. The audit trail (:mod:`riskops.audit`) holds *seals* -- a stream's head at the moment
a decision relied on it (:meth:`EvidenceStore.seal`) -- so that evidence a promotion or a
monitor read is as tamper-evident as the decision itself, without an audit record per row.

The store knows no kind of evidence: a family's module declares its table
(:class:`EvidenceKind`: typed payload columns, SQLite under ``RISKOPS_HOME`` or PostgreSQL with
``RISKOPS_EVIDENCE_URL``) and appends batches. An append is one transaction; a row whose key
the stream already holds is a *duplicate* (same payload: counted, not written again) or a
*conflict* (another payload: refused with the keys named, nothing of the batch written).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from riskops.errors import BadInputError, RiskOpsError
from riskops.evidence.turn import WriteTurn
from riskops.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

GENESIS = "0" * 64
_REMEMBERED_HEADS = 200_000
"""At most this many committed stream heads are remembered (about 40 MB)."""
_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock (or for its turn) before it gives up."""
_READING = "riskops_reading"
"""The execution option of a connection that only reads (a deferred ``BEGIN``)."""
_STORE_COLUMNS = frozenset({"stream", "seq", "key", "prev_hash", "hash"})


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence: its table and its payload columns (typed, in hash order).

    ``columns`` are SQLAlchemy columns of the payload; the store adds ``stream``, ``seq``,
    ``key``, ``prev_hash`` and ``hash`` (the stream and its sequence number are the primary
    key, the stream and the key unique).
    """

    name: str
    columns: tuple[sa.Column[Any], ...]

    @functools.cached_property
    def payload(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Appended:
    """What one append did: rows written, duplicates skipped, the stream's new head."""

    kind: str
    stream: str
    written: int
    duplicates: int
    head_seq: int
    head_hash: str
    keys: tuple[str, ...] = field(default_factory=tuple)
    """The keys written, in order."""


class EvidenceConflict(BadInputError):
    """Rows whose keys the stream holds with another payload (exit 2, nothing written)."""

    def __init__(self, kind: str, stream: str, keys: Sequence[str]) -> None:
        shown = ", ".join(list(keys)[:10]) + ("..." if len(keys) > 10 else "")
        super().__init__(
            f"{kind}: {len(keys)} row(s) of {stream} conflict with what is recorded under the "
            f"same key ({shown}); nothing of the batch was written"
        )
        self.keys = tuple(keys)


class StaleHead(RiskOpsError):
    """A stream's head moved since the writer read it: another writer appended first."""

    def __init__(self, kind: str, stream: str, expected: int, found: int) -> None:
        super().__init__(
            f"{kind}: {stream} is at row {found}, the writer expected {expected}; nothing of "
            "the batch was written"
        )
        self.kind = kind
        self.stream = stream
        self.expected = expected
        self.found = found


@dataclass(frozen=True)
class Batch:
    """Rows for one stream of one kind, for :meth:`EvidenceStore.append_all`."""

    kind: EvidenceKind
    stream: str
    rows: Sequence[Mapping[str, Any]]
    expect_seq: int | None = None


def row_hash(stream: str, seq: int, key: str, payload: Mapping[str, Any], prev: str) -> str:
    """The digest of one row: SHA-256 of its stream, sequence, key, canonical payload and
    the previous row's digest."""
    return _digest(stream, seq, key, _canonical(payload), prev)


def canonical_json(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"), sort_keys=True)``, byte for byte: the
    encoding every row digest is computed over (never change it: recorded digests depend on
    it). The C encoder is built once instead of once per call -- ``json.dumps`` with
    arguments builds a ``JSONEncoder`` and its C scanner each time, which cost more than the
    encoding of a small row. Without the circular-reference check: a row is a flat mapping.
    """
    if type(value) is str:
        return _encode_string(value)
    return "".join(_CANONICAL_ENCODER(value, 0))


def _encoder(*, allow_nan: bool) -> Any:
    """The C encoder ``json.dumps(..., separators=(",", ":"), sort_keys=True)`` uses."""
    base = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=allow_nan)
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:  # a Python without the C accelerator: the pure-Python path
        return lambda value, _: base.iterencode(value)
    return make(
        None,  # markers: no circular-reference check
        base.default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        base.key_separator,
        base.item_separator,
        True,  # sort_keys
        False,  # skipkeys
        allow_nan,
    )


_CANONICAL_ENCODER = _encoder(allow_nan=True)


def strict_canonical_encoder() -> Any:
    """``encoder(value, 0) -> chunks`` of ``json.dumps(value, separators=(",", ":"),
    sort_keys=True, allow_nan=False)``, built once (a non-finite number raises
    ``ValueError``; no circular-reference check: a cycle raises ``RecursionError``)."""
    return _encoder(allow_nan=False)


_encode_string = json.encoder.encode_basestring_ascii


def _digest(stream: str, seq: int, key: str, canonical: dict[str, Any], prev: str) -> str:
    text = canonical_json([stream, seq, key, canonical, prev])
    return hashlib.sha256(text.encode()).hexdigest()


_PLAIN = (str, int, bool, type(None))


def _canonical(payload: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in payload.items():
        kind = type(value)
        if kind in _PLAIN:  # the common case, first: no conversion
            pass
        elif kind is float:  # the next most common: what the branches below do to a float
            if not math.isfinite(value):
                value = repr(value)
            elif value == 0.0:
                value = 0.0
        elif isinstance(value, float) and not math.isfinite(value):
            value = repr(value)  # JSON has no NaN; keep it distinguishable and stable
        elif isinstance(value, float) and value == 0.0:
            value = 0.0  # a database may store -0.0 as 0
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif hasattr(value, "item"):
            value = value.item()
        out[name] = value
    return out


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled once for the engine's driver, and how to order its parameters
    (positional drivers such as sqlite3, or named ones such as psycopg2)."""

    sql: str
    names: tuple[str, ...] | None
    """Parameter names in positional order; ``None`` for a driver of named parameters."""
    fixed: dict[str, Any]
    """Parameters the statement binds itself (a LIMIT)."""

    @classmethod
    def of(cls, statement: Any, dialect: Any, columns: list[str] | None = None) -> _Prepared:
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        names = tuple(compiled.positiontup) if compiled.positional else None
        blanks = {bind.key: None for bind in compiled.binds.values() if bind.required}
        params = compiled.construct_params({**blanks, **dict.fromkeys(columns or (), None)})
        fixed = {k: v for k, v in params.items() if v is not None}
        return cls(str(compiled), names, fixed)

    def parameters(self, values: Mapping[str, Any]) -> Any:
        if self.names is None:
            return {**self.fixed, **values}
        if not self.fixed:
            try:
                return self._pick(values)  # every column given: the insert of a planned row
            except KeyError:
                pass
        fixed = self.fixed
        return tuple(values[n] if n in values else fixed.get(n) for n in self.names)

    @functools.cached_property
    def _pick(self) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        names = self.names or ()
        if len(names) == 1:
            return lambda values: (values[names[0]],)
        return operator.itemgetter(*names)


class EvidenceStore:
    """The live evidence of one RiskOps installation."""

    _metadata_lock = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.evidence_database_url
        if url.startswith("sqlite"):
            settings.ensure_home()
        self._synchronous = "FULL"
        """SQLite's ``synchronous`` of this store's connections (see :meth:`defer_durability`)."""
        self.engine = sa.create_engine(url, future=True)
        self._turn: WriteTurn | None = None
        """One writer at a time across processes, woken at once (SQLite only, see
        :mod:`riskops.evidence.turn`)."""
        if self.engine.dialect.name == "sqlite":

            @sa.event.listens_for(self.engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _: Any) -> None:
                dbapi_conn.isolation_level = None
                dbapi_conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                # WAL: readers never block the writer; a commit is one fsync of the log
                # (FULL), or none until the next checkpoint (NORMAL, see defer_durability).
                dbapi_conn.execute("PRAGMA journal_mode = WAL")
                dbapi_conn.execute(f"PRAGMA synchronous = {self._synchronous}")

            @sa.event.listens_for(self.engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                # A writer takes the lock at BEGIN (it reads the head it appends after); a
                # reader's deferred BEGIN takes none: in WAL it reads a snapshot and never
                # makes a writer wait.
                reading = conn.get_execution_options().get(_READING, False)
                conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

            database = self.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._turn = WriteTurn(Path(database), timeout=_BUSY_TIMEOUT_MS / 1000)

        self.metadata = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._prepared: dict[str, tuple[_Prepared, _Prepared]] = {}
        self._committed: dict[tuple[str, str], tuple[int, str]] = {}
        """``(kind, stream) -> (seq, hash)`` this store committed last (see :meth:`append_all`)."""
        self._committed_lock = threading.Lock()

    # ------------------------------------------------------------------ durability
    @property
    def deferred(self) -> bool:
        """Whether a commit may return before it is durable (see :meth:`defer_durability`)."""
        return self._synchronous != "FULL"

    def defer_durability(self) -> None:
        """Commit without waiting for the disk; :meth:`durable_point` makes them durable.

        SQLite only (PostgreSQL commits are durable, and this does nothing there): the
        store's connections use WAL with ``synchronous = NORMAL``, so that a commit writes
        the log but does not fsync it. A committed transaction then survives the end of
        the process (``kill -9``: the log is in the operating system's cache and every
        other connection reads it) but not a power loss or a crash of the operating
        system, until a :meth:`durable_point` that succeeds after it. A writer that must
        not lose what it confirmed (the live consumer's acknowledgements) confirms only
        what a durable point covers.
        """
        if self.engine.dialect.name != "sqlite" or self.deferred:
            return
        self._synchronous = "NORMAL"
        self.engine.dispose()  # connections already open keep their pragma: new ones

    def durable_point(self) -> bool:
        """Make every transaction committed before this call durable; whether it did.

        With :meth:`defer_durability`, a passive checkpoint of the write-ahead log
        (``PRAGMA wal_checkpoint(PASSIVE)``): SQLite syncs the log before it copies its
        frames into the database and syncs the database once every frame is copied, so a
        checkpoint that copied every frame of the log (``checkpointed == log``) leaves
        every earlier commit on disk. It takes no write lock (the writer goes on while it
        runs, from another thread); a reader holding an older snapshot can keep frames
        from being copied, and then it returns ``False`` (try again later). Without
        deferral every commit is durable already: ``True``.
        """
        if not self.deferred:
            return True
        raw = self.engine.raw_connection()
        try:
            busy, log, checkpointed = raw.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
        finally:
            raw.close()
        return busy == 0 and log >= 0 and checkpointed == log

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction, committed on exit, taken in its turn (:mod:`.turn`)."""
        with self._turn or contextlib.nullcontext(), self.engine.begin() as conn:
            yield conn

    def _reading(self) -> sa.Connection:
        """A connection whose transactions only read (a snapshot; no lock in WAL)."""
        return self.engine.connect().execution_options(**{_READING: True})

    # ------------------------------------------------------------------ tables
    def table(self, kind: EvidenceKind) -> sa.Table:
        """The kind's table, created on first use."""
        found = self._tables.get(kind.name)
        if found is not None:
            return found
        with self._metadata_lock:
            found = self._tables.get(kind.name)
            if found is not None:
                return found
            table = sa.Table(
                f"riskops_evidence_{kind.name}",
                self.metadata,
                sa.Column("stream", sa.String(200), primary_key=True),
                sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("key", sa.String(200), nullable=False),
                *(c.copy() for c in kind.columns),
                sa.Column("prev_hash", sa.String(64), nullable=False),
                sa.Column("hash", sa.String(64), nullable=False),
                sa.UniqueConstraint("stream", "key", name=f"uq_{kind.name}_stream_key"),
            )
            try:
                table.create(self.engine, checkfirst=True)
            except sa.exc.DatabaseError:
                # Another process (a second service worker) created it between the check
                # and the create; anything else is still an error.
                if not sa.inspect(self.engine).has_table(table.name):
                    raise
            self._tables[kind.name] = table
            return table

    def kind_named(self, name: str) -> EvidenceKind | None:
        """The kind of an existing table, read from the database (for verifying seals that
        name a kind this process does not declare); ``None`` when there is no such table."""
        table_name = f"riskops_evidence_{name}"
        if not sa.inspect(self.engine).has_table(table_name):
            return None
        reflected = sa.Table(table_name, sa.MetaData(), autoload_with=self.engine)
        columns = tuple(
            sa.Column(c.name, c.type, nullable=c.nullable)
            for c in reflected.columns
            if c.name not in _STORE_COLUMNS
        )
        return EvidenceKind(name, columns)

    # ------------------------------------------------------------------ writing
    def append(
        self,
        kind: EvidenceKind,
        stream: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        expect_seq: int | None = None,
    ) -> Appended:
        """Append ``rows`` (each ``{"key": ..., <payload columns>...}``) to ``stream`` in one
        transaction. Duplicates (same key, same payload) are skipped and counted; a key held
        with another payload raises :class:`EvidenceConflict` and nothing is written.

        ``expect_seq``: the head the writer built its rows on; another head raises
        :class:`StaleHead` and nothing is written (optimistic concurrency between writers of
        one stream, e.g. two consumers that both believe they own a series).
        """
        return self.append_all([Batch(kind, stream, rows, expect_seq)])[0]

    def append_all(self, batches: Sequence[Batch]) -> list[Appended]:
        """Several appends (kinds and streams) in one transaction: all are written or none.

        What a live consumer commits per message batch (observation, forecast, score and
        state of every series it touched) before it acknowledges the messages. Each kind
        costs one multi-row insert whatever the number of streams (and a query of the heads
        not remembered, below); the keys already held are looked up only when the insert
        meets one (the unique key refuses it), and the transaction is then done again with
        them, so that duplicates are skipped and conflicts refused as :meth:`append` says.
        Returns one :class:`Appended` per batch, in order.

        The heads this store committed are remembered, and a stream whose remembered head is
        the one its batch expects (or that expects none) is not read again: a live consumer
        holds its series' leases and is normally their only writer, and the head query was
        the dearest statement of the batch. A remembered head can only be *behind* the
        stream (it is remembered after the commit, and rows are never removed), and a row
        planned on a head that is behind takes a sequence number the stream already holds:
        the primary key ``(stream, seq)`` refuses it, and the transaction is done again
        from heads read in it -- where a batch that expected the old head gets
        :class:`StaleHead`, as before. Another writer is detected by the database, not by
        a read that could race it.
        """
        by_kind: dict[str, list[int]] = {}
        for i, batch in enumerate(batches):
            self.table(batch.kind)
            by_kind.setdefault(batch.kind.name, []).append(i)
        streams = [b.stream for b in batches]
        if len(set(zip([b.kind.name for b in batches], streams, strict=True))) != len(batches):
            raise BadInputError("append_all: one batch per kind and stream")
        out: list[Appended | None] = [None] * len(batches)
        for look_up in (False, True):
            try:
                with self._writing() as conn:
                    for positions in by_kind.values():
                        chosen = [batches[i] for i in positions]
                        # The retry reads every head: one remembered may be behind.
                        done = self._append_kind(conn, chosen, look_up, trust=not look_up)
                        for i, one in zip(positions, done, strict=True):
                            out[i] = one
                break
            except sa.exc.IntegrityError:
                if look_up:
                    raise
        committed = [a for a in out if a is not None]
        self._remember(committed)
        return committed

    def _remember(self, appended: Sequence[Appended]) -> None:
        """Remember committed heads (never one behind what is remembered: two threads'
        commits may be remembered in either order)."""
        with self._committed_lock:
            committed = self._committed
            if len(committed) > _REMEMBERED_HEADS:
                committed.clear()  # a bound, not a policy: a head not remembered is read
            for a in appended:
                if a.head_seq == 0:
                    continue
                found = committed.get((a.kind, a.stream))
                if found is None or found[0] < a.head_seq:
                    committed[(a.kind, a.stream)] = (a.head_seq, a.head_hash)

    def _append_kind(
        self,
        conn: sa.Connection,
        batches: Sequence[Batch],
        look_up: bool = True,
        trust: bool = False,
    ) -> list[Appended]:
        kind = batches[0].kind
        table = self.table(kind)
        names = kind.payload
        wanted = [(b.stream, str(r["key"])) for b in batches for r in b.rows] if look_up else []
        heads: dict[str, tuple[int, str]] = {}
        unknown = []
        committed = self._committed
        for b in batches:
            # A batch with no row inserts nothing that could meet a moved head: read it.
            found = committed.get((kind.name, b.stream)) if trust and b.rows else None
            if found is not None and (b.expect_seq is None or b.expect_seq == found[0]):
                heads[b.stream] = found
            else:
                # Not remembered, or not what the writer expects: the database says.
                unknown.append(b.stream)
        if unknown:
            heads.update(self._heads(conn, table, unknown))
        held: dict[str, dict[str, dict[str, Any]]] = {b.stream: {} for b in batches}
        for chunk in _chunks(wanted, 400):
            if not chunk:
                continue
            query = sa.select(table).where(sa.tuple_(table.c.stream, table.c.key).in_(chunk))
            for found in conn.execute(query):
                held[found.stream][found.key] = _canonical({n: getattr(found, n) for n in names})
        values: list[dict[str, Any]] = []
        results: list[Appended] = []
        for batch in batches:
            seq, prev = heads.get(batch.stream, (0, GENESIS))
            if batch.expect_seq is not None and seq != batch.expect_seq:
                raise StaleHead(kind.name, batch.stream, batch.expect_seq, seq)
            fresh = None
            if not held[batch.stream]:
                fresh = _plan_fresh(kind, batch.stream, batch.rows, seq, prev, values)
            if fresh is not None:
                results.append(fresh)
                continue
            [result], planned = _plan(
                kind, batch.stream, [batch.rows], held[batch.stream], seq, prev
            )
            if isinstance(result, Exception):
                raise result
            results.append(result)
            values += planned
        if values:
            self._insert(conn, table, values)
        return results

    @staticmethod
    def _heads(
        conn: sa.Connection, table: sa.Table, streams: Sequence[str]
    ) -> dict[str, tuple[int, str]]:
        """``stream -> (seq, hash)`` of the newest row of each stream that has one."""
        out: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(list(dict.fromkeys(streams)), 400):
            newest = (
                sa.select(table.c.stream, sa.func.max(table.c.seq).label("seq"))
                .where(table.c.stream.in_(chunk))
                .group_by(table.c.stream)
                .subquery()
            )
            query = sa.select(table.c.stream, table.c.seq, table.c.hash).join(
                newest, sa.and_(table.c.stream == newest.c.stream, table.c.seq == newest.c.seq)
            )
            for found in conn.execute(query):
                out[found.stream] = (found.seq, found.hash)
        return out

    def append_groups(
        self, kind: EvidenceKind, stream: str, groups: Sequence[Sequence[Mapping[str, Any]]]
    ) -> list[Appended | BadInputError]:
        """Append several independent groups of rows to ``stream`` in **one** transaction
        (a group commit: one request's decisions per group, one fsync for all of them).

        Each group is all or nothing and judged on its own, in order: a group with a key
        repeated inside it (:class:`~riskops.errors.BadInputError`) or a key the stream
        holds -- or an earlier group of the same call wrote -- with another payload
        (:class:`EvidenceConflict`) writes nothing and gets that error as its result; the
        others are written. An error of the database itself raises, and then nothing of
        any group is written.

        The common case -- no key the stream holds -- is one transaction of three
        statements (head, insert, commit), with no look-up of the keys: the stream's
        unique key refuses a held one, and only then is the batch planned again in a
        second transaction against the rows the stream holds.
        """
        table = self.table(kind)
        try:
            with self._writing() as conn:
                seq, prev = self._locked_head(conn, table, stream)
                results, values = _plan(kind, stream, groups, {}, seq, prev)
                if values:
                    self._insert(conn, table, values)
            return results
        except sa.exc.IntegrityError:
            pass  # a key the stream holds: plan again, knowing what it holds
        with self._writing() as conn:
            seq, prev = self._locked_head(conn, table, stream)
            wanted = list(dict.fromkeys(str(r["key"]) for group in groups for r in group))
            held: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(wanted, 500):
                for found in conn.execute(
                    sa.select(table.c.key, *(table.c[n] for n in kind.payload)).where(
                        table.c.stream == stream, table.c.key.in_(chunk)
                    )
                ):
                    held[found.key] = _canonical({n: getattr(found, n) for n in kind.payload})
            results, values = _plan(kind, stream, groups, held, seq, prev)
            if values:
                self._insert(conn, table, values)
        return results

    def _locked_head(self, conn: Any, table: sa.Table, stream: str) -> tuple[int, str]:
        """``(seq, hash)`` of the stream's newest row, inside the write transaction."""
        if conn.dialect.name == "postgresql":
            # Writers of one stream in several processes: one at a time per stream, so
            # that each reads the head the previous one wrote.
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:stream))"), {"stream": stream}
            )
        head, _ = self._statements(table)
        found = conn.exec_driver_sql(head.sql, head.parameters({"stream": stream})).first()
        return (found[0], found[1]) if found else (0, GENESIS)

    def _insert(self, conn: Any, table: sa.Table, values: list[dict[str, Any]]) -> None:
        _, insert = self._statements(table)
        conn.exec_driver_sql(insert.sql, [insert.parameters(row) for row in values])

    def _statements(self, table: sa.Table) -> tuple[_Prepared, _Prepared]:
        """The head query and the insert of a table as the driver's SQL, compiled once:
        the group commit runs them per batch, and compiling a statement (or binding a
        dict of parameters) each time cost more CPU than SQLite's own work."""
        found = self._prepared.get(table.name)
        if found is None:
            head = (
                sa.select(table.c.seq, table.c.hash)
                .where(table.c.stream == sa.bindparam("stream"))
                .order_by(table.c.seq.desc())
                .limit(1)
            )
            columns = [c.name for c in table.columns]
            found = self._prepared[table.name] = (
                _Prepared.of(head, self.engine.dialect),
                _Prepared.of(table.insert(), self.engine.dialect, columns),
            )
        return found

    # ------------------------------------------------------------------ reading
    def rows(
        self,
        kind: EvidenceKind,
        stream: str | None = None,
        *,
        after_seq: int = 0,
        keys: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a kind (of one stream, after a sequence number, or with given keys), in
        stream and sequence order."""
        table = self.table(kind)
        query = sa.select(table).order_by(table.c.stream, table.c.seq)
        if stream is not None:
            query = query.where(table.c.stream == stream, table.c.seq > after_seq)
        wanted = None if keys is None else list(keys)
        with self._reading() as conn:
            if wanted is None:
                return [dict(r._mapping) for r in conn.execute(query)]
            out = []
            for chunk in _chunks(wanted, 500):
                out += [dict(r._mapping) for r in conn.execute(query.where(table.c.key.in_(chunk)))]
            return sorted(out, key=lambda r: (r["stream"], r["seq"]))

    def frame(
        self,
        kind: EvidenceKind,
        stream: str,
        columns: Sequence[str] | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        last: int | None = None,
        through_seq: int | None = None,
    ) -> pd.DataFrame:
        """Rows of one stream as a DataFrame, in sequence order: ``seq``, ``key`` and the
        payload ``columns`` (default all); those whose columns equal ``where``'s values, up to
        sequence number ``through_seq`` (what a :meth:`seal` taken before covers), the
        ``last`` ones only, when given. One query, no per-row objects."""
        import pandas as pd

        table = self.table(kind)
        names = ["seq", "key", *(columns if columns is not None else kind.payload)]
        query = sa.select(*(table.c[n] for n in names)).where(table.c.stream == stream)
        for column, value in (where or {}).items():
            query = query.where(table.c[column] == value)
        if through_seq is not None:
            query = query.where(table.c.seq <= int(through_seq))
        if last is not None:
            query = query.order_by(table.c.seq.desc()).limit(int(last))
        else:
            query = query.order_by(table.c.seq)
        with self._reading() as conn:
            found = pd.DataFrame(conn.execute(query).all(), columns=names)
        if last is not None:
            found = found.iloc[::-1].reset_index(drop=True)
        return found

    def streams(self, kind: EvidenceKind) -> list[str]:
        table = self.table(kind)
        with self._reading() as conn:
            return [r[0] for r in conn.execute(sa.select(table.c.stream).distinct())]

    def head(self, kind: EvidenceKind, stream: str) -> tuple[int, str]:
        """``(seq, hash)`` of the stream's newest row; ``(0, GENESIS)`` when it is empty."""
        table = self.table(kind)
        with self._reading() as conn:
            found = conn.execute(
                sa.select(table.c.seq, table.c.hash)
                .where(table.c.stream == stream)
                .order_by(table.c.seq.desc())
                .limit(1)
            ).first()
        return (found.seq, found.hash) if found else (0, GENESIS)

    # ------------------------------------------------------------------ integrity
    def seal(self, kind: EvidenceKind, stream: str) -> dict[str, Any]:
        """The stream's head, for an audit record of a decision that read it."""
        seq, digest = self.head(kind, stream)
        return {"kind": kind.name, "stream": stream, "seq": seq, "hash": digest}

    def verify(self, kind: EvidenceKind, stream: str | None = None) -> list[str]:
        """Every problem of the chains (one stream, or all): a gap, a broken link, a row whose
        content does not match its digest. Empty when they hold."""
        problems: list[str] = []
        for name in [stream] if stream is not None else self.streams(kind):
            prev, expected = GENESIS, 1
            for row in self.rows(kind, name):
                where = f"{kind.name} {name} row {row['seq']}"
                if row["seq"] != expected:
                    problems.append(f"{where}: rows {expected}..{row['seq'] - 1} are missing")
                    break
                if row["prev_hash"] != prev:
                    problems.append(f"{where}: link to the previous row is broken")
                    break
                payload = {n: row[n] for n in kind.payload}
                if row_hash(name, row["seq"], row["key"], payload, prev) != row["hash"]:
                    problems.append(f"{where}: content does not match its digest (edited)")
                    break
                prev, expected = row["hash"], expected + 1
        return problems

    def check_seal(self, seal: Mapping[str, Any], kind: EvidenceKind) -> str | None:
        """Why a sealed head no longer holds (the sealed row changed or is gone), or None."""
        table = self.table(kind)
        with self._reading() as conn:
            found = conn.execute(
                sa.select(table.c.hash).where(
                    table.c.stream == seal["stream"], table.c.seq == int(seal["seq"])
                )
            ).first()
        if int(seal["seq"]) == 0:
            return None
        if found is None:
            return f"{kind.name} {seal['stream']}: sealed row {seal['seq']} is gone"
        if found.hash != seal["hash"]:
            return f"{kind.name} {seal['stream']}: sealed row {seal['seq']} has another digest"
        return None


def _plan(
    kind: EvidenceKind,
    stream: str,
    groups: Sequence[Sequence[Mapping[str, Any]]],
    held: dict[str, dict[str, Any]],
    seq: int,
    prev: str,
) -> tuple[list[Appended | BadInputError], list[dict[str, Any]]]:
    """Each group's result and the rows to insert, chained from ``(seq, prev)``, given the
    canonical payloads the stream ``held`` under their keys (updated with those planned)."""
    payload_names = kind.payload
    results: list[Appended | BadInputError] = []
    values: list[dict[str, Any]] = []
    for group in groups:
        keys = [str(r["key"]) for r in group]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            repeated = [k for k in keys if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
            results.append(
                BadInputError(f"{kind.name}: keys repeated within one batch: {repeated[:10]}")
            )
            continue
        conflicts, fresh = [], []
        for row, key in zip(group, keys, strict=True):
            payload = {n: row.get(n) for n in payload_names}
            canonical = _canonical(payload)
            if key in held:
                if held[key] != canonical:
                    conflicts.append(key)
                continue
            fresh.append((key, payload, canonical))
        if conflicts:
            results.append(EvidenceConflict(kind.name, stream, conflicts))
            continue
        for key, payload, canonical in fresh:
            seq += 1
            digest = _digest(stream, seq, key, canonical, prev)
            values.append(
                {
                    "stream": stream,
                    "seq": seq,
                    "key": key,
                    **payload,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            held[key] = canonical
            prev = digest
        results.append(
            Appended(
                kind.name,
                stream,
                len(fresh),
                len(group) - len(fresh),
                seq,
                prev,
                tuple(k for k, _, _ in fresh),
            )
        )
    return results, values


def _plan_fresh(
    kind: EvidenceKind,
    stream: str,
    rows: Sequence[Mapping[str, Any]],
    seq: int,
    prev: str,
    values: list[dict[str, Any]],
) -> Appended | None:
    """:func:`_plan` of one group when the stream holds none of its keys (the common case
    of :meth:`EvidenceStore.append_all`, whose batches hold one row per stream): the same
    rows, appended to ``values``, without the bookkeeping of duplicates and conflicts.
    ``None`` (nothing appended) when a key is repeated: :func:`_plan` says so."""
    keys = [str(r["key"]) for r in rows]
    if len(keys) > 1 and len(set(keys)) != len(keys):
        return None
    names = kind.payload
    for row, key in zip(rows, keys, strict=True):
        payload = {n: row.get(n) for n in names}
        seq += 1
        digest = _digest(stream, seq, key, _canonical(payload), prev)
        values.append(
            {"stream": stream, "seq": seq, "key": key, **payload, "prev_hash": prev, "hash": digest}
        )
        prev = digest
    return Appended(kind.name, stream, len(keys), 0, seq, prev, tuple(keys))


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
