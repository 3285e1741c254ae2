"""The group-commit writer: one transaction per batch, each request told when its own rows
are durable, a bounded queue that refuses rather than waits, and conflicts that fail only
the request they belong to. On a real SQLite evidence store in ``tmp_path``; a second
connection holding the database's write lock stands for a slow disk."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from riskops.evidence.store import EvidenceConflict, EvidenceKind, EvidenceStore
from riskops.evidence.writer import GroupCommitWriter, WriterOverloaded
from riskops.settings import Settings

ANSWERS = EvidenceKind("test_answers", (sa.Column("value", sa.Float),))


@contextmanager
def write_lock(home: Path) -> Iterator[None]:
    """Hold the evidence database's write lock (as a slow commit would) for the block."""
    db = sqlite3.connect(home / "evidence.db", isolation_level=None, timeout=30)
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        db.execute("ROLLBACK")
        db.close()


def wait_until_running(future: Future[object], timeout: float = 30.0) -> None:
    """Wait until the writer has started the future's batch (it is blocked on the lock)."""
    deadline = time.monotonic() + timeout
    while not future.running():
        assert time.monotonic() < deadline, "the writer never started the batch"
        time.sleep(0.01)


def _rows(request: int, size: int = 3) -> list[dict[str, object]]:
    return [{"key": f"r{request}-{i}", "value": float(request)} for i in range(size)]


def test_concurrent_requests_share_commits_and_keep_their_order(riskops_home: Path) -> None:
    store = EvidenceStore(Settings())
    writer = GroupCommitWriter(store, ANSWERS, "m", max_pending=100).start()
    try:
        # Given the disk is busy while 40 requests arrive
        with write_lock(riskops_home):
            futures = [writer.submit(_rows(n)) for n in range(40)]
            # none is answered while its rows are not committed
            assert not any(f.done() for f in futures)
        results = [f.result(timeout=30) for f in futures]
    finally:
        writer.close()
    # Then every request's rows are written, in the order the requests came
    keys = [r["key"] for r in store.rows(ANSWERS, "m")]
    assert keys == [k for n in range(40) for k in (f"r{n}-0", f"r{n}-1", f"r{n}-2")]
    assert [r.written for r in results] == [3] * 40
    assert [r.head_seq for r in results] == [3 * (n + 1) for n in range(40)]
    # in at most two transactions: the one waiting on the lock, then all the others
    assert writer.stats.batches <= 2 and writer.stats.requests == 40
    assert store.verify(ANSWERS) == []


def test_a_full_queue_refuses_at_once_and_never_records_what_it_refused(
    riskops_home: Path,
) -> None:
    store = EvidenceStore(Settings())
    writer = GroupCommitWriter(store, ANSWERS, "m", max_pending=4).start()
    accepted, refused = [], []
    try:
        with write_lock(riskops_home):
            # Given one request's commit waiting on the disk
            accepted.append((0, writer.submit(_rows(0, 1))))
            wait_until_running(accepted[0][1])
            # When 29 more arrive: four queue, the others are refused at once
            for n in range(1, 30):
                try:
                    accepted.append((n, writer.submit(_rows(n, 1))))
                except WriterOverloaded:
                    refused.append(n)
            assert not any(f.done() for _, f in accepted)
        for _, future in accepted:
            future.result(timeout=30)
    finally:
        writer.close()
    assert [n for n, _ in accepted] == [0, 1, 2, 3, 4] and refused == list(range(5, 30))
    written = {r["key"] for r in store.rows(ANSWERS, "m")}
    assert written == {f"r{n}-0" for n, _ in accepted}
    assert writer.stats.refused == len(refused)


def test_a_conflicting_request_fails_alone_in_its_batch(riskops_home: Path) -> None:
    store = EvidenceStore(Settings())
    store.append(ANSWERS, "m", [{"key": "taken", "value": 1.0}])
    writer = GroupCommitWriter(store, ANSWERS, "m").start()
    try:
        with write_lock(riskops_home):
            before = writer.submit([{"key": "a", "value": 2.0}])
            clash = writer.submit([{"key": "b", "value": 3.0}, {"key": "taken", "value": 9.0}])
            twice = writer.submit([{"key": "a", "value": 4.0}])  # an id another request took
            after = writer.submit([{"key": "c", "value": 5.0}])
        assert before.result(timeout=30).written == 1
        assert after.result(timeout=30).written == 1
        with pytest.raises(EvidenceConflict) as taken:
            clash.result(timeout=30)
        with pytest.raises(EvidenceConflict) as again:
            twice.result(timeout=30)
    finally:
        writer.close()
    assert taken.value.keys == ("taken",) and again.value.keys == ("a",)
    assert [(r["key"], r["value"]) for r in store.rows(ANSWERS, "m")] == [
        ("taken", 1.0),
        ("a", 2.0),
        ("c", 5.0),
    ]
    assert store.verify(ANSWERS) == []


def test_a_request_whose_caller_gave_up_is_not_written(riskops_home: Path) -> None:
    store = EvidenceStore(Settings())
    writer = GroupCommitWriter(store, ANSWERS, "m").start()
    try:
        with write_lock(riskops_home):
            first = writer.submit(_rows(0, 1))
            wait_until_running(first)  # its batch waits on the lock
            gave_up = writer.submit(_rows(1, 1))
            kept = writer.submit(_rows(2, 1))
            # a timeout in the service cancels the wait of a request still queued
            assert gave_up.cancel()
        first.result(timeout=30)
        kept.result(timeout=30)
    finally:
        writer.close()
    assert [r["key"] for r in store.rows(ANSWERS, "m")] == ["r0-0", "r2-0"]
    # and a request whose batch has started cannot be withdrawn any more
    assert not first.cancel()


def test_a_shadow_versions_answers_sit_beside_the_champions_in_one_stream(
    riskops_home: Path,
) -> None:
    """What the shadow work calls (``RiskService.record_beside``): a version's decisions as
    the route built them, re-keyed as another role's, through the model's writer."""
    from riskops.credit.decisions import DECISIONS, decision_rows, with_role

    def rows(version: int, pds: list[float]) -> list[dict[str, object]]:
        return decision_rows(
            ids=["A-1", "A-2"],
            records=[{"x": 1.0}, {"x": 2.0}],
            results=[{"pd": p, "grade": "G1", "reasons": []} for p in pds],
            features=["x"],
            version=version,
            run_id=f"{version}" * 32,
            request_id="req-1",
            decided_at="2026-12-07T18:00:00.000000+00:00",
        )

    store = EvidenceStore(Settings())
    writer = GroupCommitWriter(store, DECISIONS, "credit_pd", max_pending=10).start()
    try:
        # Given the champion (v1) decided two applicants
        writer.write(rows(1, [0.1, 0.2]), timeout=30)
        # When v2's answers to the same request are recorded as a shadow's
        shadow = writer.write(with_role(rows(2, [0.15, 0.25]), "shadow"), timeout=30)
        # Then both are in the model's stream, the shadow's under their own keys
        assert shadow.keys == ("A-1#shadow-v2", "A-2#shadow-v2")
        found = store.frame(DECISIONS, "credit_pd")
        assert found["role"].tolist() == ["champion"] * 2 + ["shadow"] * 2
        assert found["id"].tolist() == ["A-1", "A-2", "A-1", "A-2"]
        assert found["pd"].tolist() == [0.1, 0.2, 0.15, 0.25]
        # and the same answers again are duplicates, other answers for them a conflict
        again = writer.write(with_role(rows(2, [0.15, 0.25]), "shadow"), timeout=30)
        assert again.written == 0 and again.duplicates == 2
        with pytest.raises(EvidenceConflict):
            writer.write(with_role(rows(2, [0.5, 0.25]), "shadow"), timeout=30)
    finally:
        writer.close()
    assert len(store.frame(DECISIONS, "credit_pd")) == 4
