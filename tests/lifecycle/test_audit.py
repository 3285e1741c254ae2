"""The audit trail is append-only and hash-chained; tampering is detected and located."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from riskops.audit import AuditTrail
from riskops.settings import Settings


@pytest.fixture
def trail(settings: Settings) -> AuditTrail:
    trail = AuditTrail(settings)
    trail.append("register", "credit_pd", 1, run_id="r1", dataset_hash="sha256:aa")
    trail.append("gate_decision", "credit_pd", 1, passed=True, report={"results": []})
    trail.append("promote", "credit_pd", 1, alias_changes=[{"alias": "champion", "to": 1}])
    return trail


def test_untouched_chain_verifies(trail: AuditTrail) -> None:
    result = trail.verify()
    assert result.ok and result.records == 3
    assert [r.seq for r in trail.records("credit_pd")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("sql", "broken"),
    [
        ("UPDATE riskops_audit SET actor = 'mallory' WHERE seq = 2", 2),
        (
            'UPDATE riskops_audit SET body = \'{"passed":false,"report":{}}\' WHERE seq = 2',
            2,
        ),
        ("UPDATE riskops_audit SET version = 9 WHERE seq = 3", 3),
        ("DELETE FROM riskops_audit WHERE seq = 1", 1),
        ("UPDATE riskops_audit SET ts = '2020-01-01' WHERE seq = 1", 1),
    ],
)
def test_any_edit_is_detected_at_the_first_broken_record(
    trail: AuditTrail, settings: Settings, sql: str, broken: int
) -> None:
    with sqlite3.connect(settings.home / "audit.db") as conn:
        conn.execute(sql)
    result = trail.verify()
    assert not result.ok
    assert result.first_broken == broken


def test_rehashing_one_record_still_breaks_the_next_link(
    trail: AuditTrail, settings: Settings
) -> None:
    import json

    from riskops.audit import record_hash

    first = trail.records()[0]
    forged = record_hash(
        1,
        first.ts,
        "mallory",
        first.action,
        first.model,
        first.version,
        json.dumps(first.body, sort_keys=True, separators=(",", ":")),
        first.prev_hash,
    )
    with sqlite3.connect(settings.home / "audit.db") as conn:
        conn.execute("UPDATE riskops_audit SET actor='mallory', hash=? WHERE seq=1", (forged,))
    result = trail.verify()
    assert not result.ok and result.first_broken == 2


def test_concurrent_writers_keep_one_unbroken_chain(settings: Settings, tmp_path: Path) -> None:
    script = (
        "from riskops.audit import AuditTrail\nfrom riskops.settings import Settings\n"
        "t = AuditTrail(Settings())\n"
        "for i in range(15): t.append('register', 'm', i)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    trail = AuditTrail(settings)
    assert trail.verify().ok
    assert len(trail.records()) == 60


# ----------------------------------------------------------------- anchors and the key
def _sql(settings: Settings, statement: str, *params: object) -> None:
    with sqlite3.connect(settings.home / "audit.db") as conn:
        conn.execute(statement, params)


def test_deleting_the_two_newest_records_fails_verify_at_the_anchor(
    trail: AuditTrail, settings: Settings
) -> None:
    # Given three records, anchored at record 3
    assert trail.verify().anchor_seq == 3
    # When the two newest are deleted (the rest of the chain is still consistent)
    _sql(settings, "DELETE FROM riskops_audit WHERE seq >= 2")
    # Then verify fails on the anchor, naming the deleted range
    result = AuditTrail(settings).verify()
    assert not result.ok
    assert result.first_broken is None
    assert "records 2..3 were deleted" in result.reason


def test_dropping_the_table_fails_verify(trail: AuditTrail, settings: Settings) -> None:
    # Given a trail with records, when its table is dropped (and recreated empty on next use)
    _sql(settings, "DROP TABLE riskops_audit")
    result = AuditTrail(settings).verify()
    # Then the empty table contradicts the anchor
    assert not result.ok
    assert result.records == 0
    assert "audit table is empty" in result.reason


def test_deleting_the_anchor_file_fails_verify(trail: AuditTrail, settings: Settings) -> None:
    settings.audit_anchor_file.unlink()
    result = trail.verify()
    assert not result.ok and "anchor file" in result.reason


def test_a_fresh_installation_verifies_with_no_anchor(settings: Settings) -> None:
    result = AuditTrail(settings).verify()
    assert result.ok and result.records == 0 and result.anchor_seq is None


def _rewrite_from(settings: Settings, seq: int, key: bytes | None) -> None:
    """Change record ``seq``'s actor and recompute every later link and hash with ``key``."""
    import json

    from riskops.audit import record_hash

    with sqlite3.connect(settings.home / "audit.db") as conn:
        rows = conn.execute(
            "SELECT seq, ts, actor, action, model, version, body, prev_hash FROM riskops_audit "
            "ORDER BY seq"
        ).fetchall()
        prev = rows[seq - 1][7]  # the link into the edited record stays as it was
        last = (0, "")
        for s, ts, actor, action, model, version, body, _ in rows[seq - 1 :]:
            actor = "mallory" if s == seq else actor
            digest = record_hash(s, ts, actor, action, model, version, body, prev, key)
            conn.execute(
                "UPDATE riskops_audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (actor, prev, digest, s),
            )
            prev, last = digest, (s, digest)
        json.loads(body)  # the bodies are untouched, still canonical JSON
    # The forger also rewrites the anchor file to the new head.
    anchor = json.loads(settings.audit_anchor_file.read_text())
    anchor.update(seq=last[0], hash=last[1])
    settings.audit_anchor_file.write_text(json.dumps(anchor))


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", "correct horse battery staple")
    keyed = Settings()
    trail = AuditTrail(keyed)
    trail.append("register", "credit_pd", 1, run_id="r1")
    trail.append("gate_decision", "credit_pd", 1, passed=True, report={"results": []})
    trail.append("promote", "credit_pd", 1, alias_changes=[{"alias": "champion", "to": 1}])
    return keyed


def test_a_keyed_chain_detects_a_rewrite_without_the_key(keyed: Settings) -> None:
    # Given a keyed chain that verifies
    assert AuditTrail(keyed).verify().ok
    assert AuditTrail(keyed).verify().scheme == "hmac-sha256"
    # When record 2 is edited and every later hash recomputed with the public function
    # (no key), and the anchor file rewritten to the forged head
    _rewrite_from(keyed, 2, None)
    # Then verify (with the key) names record 2
    result = AuditTrail(keyed).verify()
    assert not result.ok
    assert result.first_broken == 2
    assert "does not match its hash" in result.reason


def test_an_unkeyed_chain_cannot_detect_a_full_rewrite_which_is_why_the_key_exists(
    trail: AuditTrail, settings: Settings
) -> None:
    # The documented limit of SHA-256 without a key: a forger who recomputes every later
    # hash and the anchor file goes unnoticed by the chain alone.
    _rewrite_from(settings, 2, None)
    result = AuditTrail(settings).verify()
    assert result.ok
    assert AuditTrail(settings).records()[1].actor == "mallory"


def test_a_keyed_anchor_file_cannot_be_forged_without_the_key(keyed: Settings) -> None:
    import json

    # Given the two newest records deleted and the anchor moved back to record 1 by hand
    with sqlite3.connect(keyed.home / "audit.db") as conn:
        conn.execute("DELETE FROM riskops_audit WHERE seq >= 2")
        head = conn.execute("SELECT hash FROM riskops_audit WHERE seq = 1").fetchone()[0]
    anchor = json.loads(keyed.audit_anchor_file.read_text())
    anchor.update(seq=1, hash=head)
    keyed.audit_anchor_file.write_text(json.dumps(anchor))
    # Then the anchor's MAC no longer matches
    result = AuditTrail(keyed).verify()
    assert not result.ok and "not signed" in result.reason


def test_a_keyed_chain_read_without_the_key_fails_with_a_hint(keyed: Settings) -> None:
    result = AuditTrail(Settings(audit_key=None)).verify()
    assert not result.ok and result.first_broken == 1
    assert "RISKOPS_AUDIT_KEY" in result.reason


def test_each_record_says_how_the_actor_was_established(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a home without identities (local single-user mode): RISKOPS_ACTOR (set by the
    # fixture), then no RISKOPS_ACTOR (the operating-system user)
    first = AuditTrail(settings).append("register", "m", 1)
    monkeypatch.delenv("RISKOPS_ACTOR")
    second = AuditTrail(Settings()).append("register", "m", 2)
    # Then each record says the name was only declared, never authenticated
    assert (first.actor, first.body["actor_source"]) == ("pytest", "self_declared")
    assert second.body["actor_source"] == "self_declared"
