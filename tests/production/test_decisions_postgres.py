"""The decision store on PostgreSQL, as in production (``RISKOPS_EVIDENCE_URL``): two
service workers' group-commit writers append to one model's stream at once, and the stream
stays one unbroken chain with every decision once."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import harness

WRITER = """
from riskops.credit.decisions import DECISIONS, decision_rows
from riskops.evidence.store import EvidenceStore
from riskops.evidence.writer import GroupCommitWriter
from riskops.settings import Settings

writer = GroupCommitWriter(
    EvidenceStore(Settings()), DECISIONS, "credit_pd", max_pending=1000
).start()
record = {"student": "No", "balance": 1200.5, "income": 30000.0}
result = {"pd": 0.05, "grade": "G4", "reasons": [{"feature": "balance"}]}


def rows(n):
    return decision_rows(
        ids=[f"w{WORKER}-{n}"], records=[record], results=[result],
        features=["student", "balance", "income"], version=1, run_id="r" * 32,
        request_id=f"req-{WORKER}-{n}", decided_at="2026-12-07T10:00:00.000000+00:00",
    )


barrier()
futures = [writer.submit(rows(n)) for n in range(300)]
print(sum(f.result(timeout=120).written for f in futures))
writer.close()
"""


def test_two_workers_group_commits_make_one_chain(
    postgres: harness.PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.credit.decisions import DECISIONS
    from riskops.evidence.store import EvidenceConflict, EvidenceStore
    from riskops.settings import Settings

    url = postgres.url("riskops")
    home = tmp_path / "home"
    home.mkdir()
    env = harness.clean_environment({"RISKOPS_HOME": str(home), "RISKOPS_EVIDENCE_URL": url})
    # When two processes append 300 single-decision requests each, released together
    done = harness.run_python_concurrently(WRITER, 2, env=env, workdir=tmp_path / "workers")
    assert [r.stdout.strip().splitlines()[-1] for r in done] == ["300", "300"]
    # Then the stream is one chain of 600 rows, each decision once
    monkeypatch.setenv("RISKOPS_HOME", str(home))
    monkeypatch.setenv("RISKOPS_EVIDENCE_URL", url)
    store = EvidenceStore(Settings())
    rows = store.frame(DECISIONS, "credit_pd", ["id"])
    assert rows["seq"].tolist() == list(range(1, 601))
    assert sorted(rows["id"]) == sorted(f"w{w}-{n}" for w in (0, 1) for n in range(300))
    assert store.verify(DECISIONS, "credit_pd") == []
    # and an id decided again with another answer is refused, nothing of its batch written
    again = {"key": "w0-7", "id": "w0-7", "decided_at": "2026-12-08T10:00:00+00:00"}
    with pytest.raises(EvidenceConflict, match="w0-7"):
        store.append(DECISIONS, "credit_pd", [again])
    assert len(store.frame(DECISIONS, "credit_pd", ["id"])) == 600
