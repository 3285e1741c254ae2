"""The live evidence store: append-only streams, each a hash chain, sealed into the trail."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from riskops.evidence.store import EvidenceConflict, EvidenceKind, EvidenceStore
from riskops.settings import Settings

SCORES = EvidenceKind(
    "test_scores", (sa.Column("value", sa.Float), sa.Column("label", sa.String(20)))
)


def test_appends_are_idempotent_by_key_and_conflicts_write_nothing(riskops_home: Path) -> None:
    store = EvidenceStore(Settings())
    # Given two rows appended to a stream
    first = store.append(SCORES, "m", [{"key": "a", "value": 0.1}, {"key": "b", "value": 0.2}])
    assert (first.written, first.duplicates, first.head_seq) == (2, 0, 2)
    # When the same rows arrive again with a new one: duplicates are counted, not written
    again = store.append(
        SCORES, "m", [{"key": "a", "value": 0.1}, {"key": "c", "value": 0.3, "label": "x"}]
    )
    assert (again.written, again.duplicates, again.keys) == (1, 1, ("c",))
    # When a key arrives with another payload: refused, naming it, and nothing is written
    with pytest.raises(EvidenceConflict, match="a"):
        store.append(SCORES, "m", [{"key": "d", "value": 0.4}, {"key": "a", "value": 0.9}])
    assert [r["key"] for r in store.rows(SCORES, "m")] == ["a", "b", "c"]
    # and another stream is a chain of its own
    assert store.append(SCORES, "n", [{"key": "a", "value": 7.0}]).head_seq == 1
    assert store.verify(SCORES) == []


@hypothesis_settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=12),
    tampered=st.integers(min_value=0, max_value=11),
    change=st.sampled_from(["edit", "delete"]),
)
def test_any_edited_or_deleted_row_breaks_its_chain(
    riskops_home: Path, values: list[float], tampered: int, change: str
) -> None:
    store = EvidenceStore(Settings())
    stream = f"s{len(store.streams(SCORES))}"
    store.append(SCORES, stream, [{"key": str(i), "value": v} for i, v in enumerate(values)])
    seal = store.seal(SCORES, stream)
    assert store.verify(SCORES, stream) == [] and store.check_seal(seal, SCORES) is None
    seq = tampered % len(values) + 1
    with sqlite3.connect(riskops_home / "evidence.db") as db:
        if change == "edit":
            db.execute(
                "UPDATE riskops_evidence_test_scores SET label = 'tampered' "
                "WHERE stream = ? AND seq = ?",
                (stream, seq),
            )
        else:
            db.execute(
                "DELETE FROM riskops_evidence_test_scores WHERE stream = ? AND seq = ?",
                (stream, seq),
            )
    problems = store.verify(SCORES, stream)
    if change == "edit":
        edited = f"test_scores {stream} row {seq}: content does not match its digest (edited)"
        assert problems == [edited]
    elif seq < len(values):
        assert problems == [f"test_scores {stream} row {seq + 1}: rows {seq}..{seq} are missing"]
    else:
        # Deleting the newest row leaves a valid, shorter chain: the seal catches it.
        assert problems == []
        assert store.check_seal(seal, SCORES) == f"test_scores {stream}: sealed row {seq} is gone"
