"""The identity store: people and service accounts, their roles, and their tokens' hashes.

Two SQL tables (SQLite ``RISKOPS_HOME/identity.db`` locally; PostgreSQL in production,
by default the audit trail's database, see
:attr:`riskops.settings.Settings.identity_database_url`):

``riskops_identities``
    ``name`` (normalised, primary key), ``kind`` (``user``/``service``), ``roles``
    (comma-separated), who created it and when, and ``revoked_at``/``revoked_by``.
``riskops_tokens``
    ``token_id`` (primary key), ``name``, ``hash`` (argon2id of the whole token), who
    issued it and when, ``revoked_at``.

A name is never reused: a revoked identity stays in the table, so that every audit record
naming it keeps naming one person. Once any identity exists the home is in authenticated
mode for good (:meth:`IdentityStore.any_identity`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from riskops.errors import AuthenticationError, BadInputError
from riskops.identity.roles import ROLES, Principal, check_roles, normalise
from riskops.identity.tokens import (
    IssuedToken,
    VerifiedCache,
    hash_token,
    new_token,
    token_id_of,
)
from riskops.settings import Settings

_metadata = sa.MetaData()
identities_table = sa.Table(
    "riskops_identities",
    _metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("revoked_at", sa.String(40), nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
)
tokens_table = sa.Table(
    "riskops_tokens",
    _metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, index=True),
    sa.Column("hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("revoked_at", sa.String(40), nullable=True),
)
bootstrap_table = sa.Table(
    "riskops_identity_bootstrap",
    _metadata,
    # One row ever (primary key 1): two bootstraps racing on one database cannot both win.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class IdentityRow:
    name: str
    kind: str
    roles: tuple[str, ...]
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None
    active_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "roles": list(self.roles),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "active_tokens": self.active_tokens,
        }


@dataclass(frozen=True)
class ActiveToken:
    """A token that is not revoked, of an identity that is not revoked."""

    token_id: str
    name: str
    kind: str
    roles: frozenset[str]
    hash: str

    def principal(self) -> Principal:
        if self.kind == "service":
            return Principal.of(self.name, self.roles, "token", "service", self.token_id)
        return Principal.of(self.name, self.roles, "token", "user", self.token_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@cache
def _engine(url: str) -> sa.Engine:
    """One engine per database URL and process, its tables created once."""
    engine = sa.create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _: Any) -> None:
            # WAL: the service's revocation poll reads while a command writes.
            dbapi_conn.execute("PRAGMA busy_timeout = 30000")
            dbapi_conn.execute("PRAGMA journal_mode = WAL")

    for attempt in range(5):
        try:
            _metadata.create_all(engine)
            break
        except sa.exc.DBAPIError:
            # Another process created the tables between the check and the CREATE.
            if attempt == 4:
                raise
    return engine


def defines_identities(settings: Settings) -> bool:
    """Whether any identity was ever defined, without creating a local database to find out
    (a home in the single-user mode never gets an ``identity.db``)."""
    url = sa.make_url(settings.identity_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return False
    return IdentityStore(settings).any_identity()


_verified = VerifiedCache()
"""argon2 results of this process (see :class:`~riskops.identity.tokens.VerifiedCache`)."""


class IdentityStore:
    """Identities and token hashes in the RiskOps database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.identity_database_url
        if url.startswith("sqlite"):
            settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)

    # ----------------------------------------------------------------- reading
    def any_identity(self) -> bool:
        """Whether the home is in authenticated mode (any identity ever defined)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(identities_table.c.name).limit(1)).first() is not None

    def identities(self) -> list[IdentityRow]:
        t, k = identities_table, tokens_table
        active = (
            sa.select(k.c.name, sa.func.count().label("n"))
            .where(k.c.revoked_at.is_(None))
            .group_by(k.c.name)
            .subquery()
        )
        query = (
            sa.select(t, sa.func.coalesce(active.c.n, 0).label("active"))
            .select_from(t.outerjoin(active, active.c.name == t.c.name))
            .order_by(t.c.name)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            IdentityRow(
                r.name,
                r.kind,
                tuple(r.roles.split(",")),
                r.created_at,
                r.created_by,
                r.revoked_at,
                r.revoked_by,
                int(r.active),
            )
            for r in rows
        ]

    def _active_query(self) -> sa.Select[Any]:
        t, k = identities_table, tokens_table
        return (
            sa.select(k.c.token_id, k.c.hash, t.c.name, t.c.kind, t.c.roles)
            .select_from(k.join(t, t.c.name == k.c.name))
            .where(k.c.revoked_at.is_(None), t.c.revoked_at.is_(None))
        )

    @staticmethod
    def _active(row: Any) -> ActiveToken:
        return ActiveToken(
            row.token_id, row.name, row.kind, frozenset(row.roles.split(",")), row.hash
        )

    def active_token(self, token_id: str) -> ActiveToken | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._active_query().where(tokens_table.c.token_id == token_id)
            ).first()
        return None if row is None else self._active(row)

    def active_tokens(self) -> dict[str, ActiveToken]:
        """Every usable token by id: what the service checks each request against."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._active_query()).all()
        return {row.token_id: self._active(row) for row in rows}

    def authenticate(self, token: str) -> Principal:
        """The identity a RiskOps token belongs to; :class:`AuthenticationError` otherwise.

        The revocation state is read from the store on every call; only the argon2 result
        is remembered (per process, by keyed digest).
        """
        token_id = token_id_of(token)
        if token_id is None:
            raise AuthenticationError("token: not a RiskOps token (expected rsk_<id>_<secret>)")
        active = self.active_token(token_id)
        if active is None or not _verified.verify(token_id, token.strip(), active.hash):
            raise AuthenticationError(
                "token: unknown, wrong or revoked token; ask an admin for a new one"
            )
        return active.principal()

    # ----------------------------------------------------------------- writing
    def bootstrap(self, name: str) -> tuple[str, IssuedToken]:
        """The first admin of a new home. Refused once any identity exists."""
        who = normalise(name)
        refused = BadInputError(
            "bootstrap: this home already has identities; an admin adds more with "
            "`riskops users add NAME --role ROLE`"
        )
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(identities_table.c.name).limit(1)).first() is not None:
                    raise refused
                conn.execute(bootstrap_table.insert().values(id=1, name=who, at=_now()))
                issued = self._insert(conn, who, frozenset({"admin"}), created_by=who)
        except IntegrityError:
            raise refused from None
        return who, issued

    def add(self, name: str, roles: Iterable[str], created_by: str) -> tuple[str, IssuedToken]:
        """A new identity with ``roles`` and its first token (returned once, in clear)."""
        who = normalise(name)
        chosen = check_roles(roles)
        if "service" in chosen and len(chosen) > 1:
            raise BadInputError(
                "--role: a service account holds the service role alone (scoring tokens "
                "never approve or train)"
            )
        with self.engine.begin() as conn:
            existing = conn.execute(
                sa.select(identities_table.c.revoked_at).where(identities_table.c.name == who)
            ).first()
            if existing is not None:
                state = "was revoked (names are never reused)" if existing.revoked_at else "exists"
                raise BadInputError(f"name: identity {who!r} {state}")
            issued = self._insert(conn, who, chosen, created_by=created_by)
        return who, issued

    def issue(self, name: str, created_by: str) -> IssuedToken:
        """One more token for an existing, unrevoked identity (rotation)."""
        who = normalise(name)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(identities_table.c.revoked_at).where(identities_table.c.name == who)
            ).first()
            if row is None or row.revoked_at is not None:
                raise BadInputError(f"name: no active identity {who!r}")
            issued = new_token()
            conn.execute(
                tokens_table.insert().values(
                    token_id=issued.token_id,
                    name=who,
                    hash=hash_token(issued.token),
                    created_at=_now(),
                    created_by=created_by,
                )
            )
        return issued

    def revoke(self, name: str, revoked_by: str) -> int:
        """Revoke an identity and every token it holds; returns how many tokens."""
        who = normalise(name)
        stamp = _now()
        with self.engine.begin() as conn:
            updated = conn.execute(
                identities_table.update()
                .where(identities_table.c.name == who, identities_table.c.revoked_at.is_(None))
                .values(revoked_at=stamp, revoked_by=revoked_by)
            ).rowcount
            if not updated:
                raise BadInputError(f"name: no active identity {who!r}")
            tokens = conn.execute(
                tokens_table.update()
                .where(tokens_table.c.name == who, tokens_table.c.revoked_at.is_(None))
                .values(revoked_at=stamp)
            ).rowcount
        return int(tokens)

    def _insert(
        self, conn: sa.Connection, who: str, roles: frozenset[str], created_by: str
    ) -> IssuedToken:
        kind = "service" if roles == {"service"} else "user"
        stamp = _now()
        conn.execute(
            identities_table.insert().values(
                name=who,
                kind=kind,
                roles=",".join(r for r in ROLES if r in roles),
                created_at=stamp,
                created_by=created_by,
            )
        )
        issued = new_token()
        conn.execute(
            tokens_table.insert().values(
                token_id=issued.token_id,
                name=who,
                hash=hash_token(issued.token),
                created_at=stamp,
                created_by=created_by,
            )
        )
        return issued
