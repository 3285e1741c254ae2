"""The audit trail's append-only anchor table on PostgreSQL, as ``infra/postgres/anchor.sql``
sets it up (issue 26: anchors with freshness, outside the writer's control).

RiskOps appends one anchor per audit record through the role ``riskops_anchor``, which may
insert and read but not update, delete or truncate. Whoever holds RiskOps's own credentials
(the home's files, the anchor role's password) can therefore delete the newest records and
restore the local anchor file saved before them -- a replay no local anchor can see -- but
cannot take back the anchors that name the deleted records, and ``verify`` names them.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
from pathlib import Path

import pytest

from riskops.audit import AuditTrail
from riskops.settings import Settings

from . import harness


def _as_anchor_role(postgres: harness.PostgresServer, password: str, sql: str) -> None:
    import psycopg2

    dsn = f"postgresql://riskops_anchor:{password}@{postgres.host}:{postgres.port}/riskops"
    with contextlib.closing(psycopg2.connect(dsn, connect_timeout=5)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)


def test_the_anchor_role_only_appends_and_a_replayed_trail_is_detected(
    postgres: harness.PostgresServer,
    riskops_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg2.errors

    # Given a keyed home whose trail anchors to the table through the append-only role
    password = secrets.token_urlsafe(18)
    postgres.query("riskops", f"ALTER ROLE riskops_anchor PASSWORD '{password}'")
    url = f"postgresql+psycopg2://riskops_anchor:{password}@{postgres.host}:{postgres.port}/riskops"
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", secrets.token_hex(32))
    monkeypatch.setenv("RISKOPS_AUDIT_ANCHOR_URL", url)
    settings = Settings()
    trail = AuditTrail(settings)
    for n in range(3):
        trail.append("note", "credit_pd", None, text=f"record {n + 1}")
    saved = settings.audit_anchor_file.read_text()
    head = json.loads(saved)["seq"]
    trail.append("note", "credit_pd", None, text="a later record")
    trail.append("note", "credit_pd", None, text="and another")
    assert AuditTrail(settings).verify().ok
    anchored = postgres.query("riskops", "SELECT seq FROM riskops_audit_anchor ORDER BY id")
    assert [seq for (seq,) in anchored][-5:] == [head - 2, head - 1, head, head + 1, head + 2]

    # When the writer's credentials try to take back the newest anchors: refused, each way
    for sql in (
        f"DELETE FROM riskops_audit_anchor WHERE seq > {head}",
        f"UPDATE riskops_audit_anchor SET seq = {head} WHERE seq > {head}",
        "TRUNCATE riskops_audit_anchor",
        "DROP TABLE riskops_audit_anchor",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            _as_anchor_role(postgres, password, sql)

    # And the newest records are deleted from the home's trail, its anchor file restored
    with sqlite3.connect(settings.home / "audit.db") as db:
        db.execute("DELETE FROM riskops_audit WHERE seq > ?", (head,))
    settings.audit_anchor_file.write_text(saved)

    # Then verify names the replay: the append-only table names records the trail lacks
    result = AuditTrail(settings).verify()
    assert not result.ok
    assert result.reason == (
        f"the append-only anchor table names record {head + 1}, which the audit table no "
        "longer holds"
    )
