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
