"""The live evidence store: append-only streams, each a hash chain, sealed into the trail."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from riskops.evidence.store import (
    Batch,
    EvidenceConflict,
    EvidenceKind,
    EvidenceStore,
    StaleHead,
    canonical_json,
    row_hash,
)
from riskops.live import kinds
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


def test_a_second_writer_between_two_batches_is_detected_not_forked(riskops_home: Path) -> None:
    # Two stores on one database: the consumer (one) remembers the heads it committed and
    # does not read them again; another writer (two) moves the stream in between.
    one, two = EvidenceStore(Settings()), EvidenceStore(Settings())
    first = one.append_all([Batch(SCORES, "m", [{"key": "a", "value": 1.0}], 0)])[0]
    assert first.head_seq == 1
    two.append(SCORES, "m", [{"key": "b", "value": 2.0}])
    # When one appends on the head it remembers: the stream's primary key refuses the
    # row, the heads are read again, and the batch built on row 1 is stale (nothing written)
    with pytest.raises(StaleHead) as stale:
        one.append_all([Batch(SCORES, "m", [{"key": "c", "value": 3.0}], 1)])
    assert (stale.value.expected, stale.value.found) == (1, 2)
    assert [r["key"] for r in one.rows(SCORES, "m")] == ["a", "b"]
    # A batch that expects no head is chained after the other writer's row
    done = one.append_all([Batch(SCORES, "m", [{"key": "c", "value": 3.0}])])[0]
    assert (done.head_seq, done.written) == (3, 1)
    # and one that expects the head the database now holds is written, not called stale
    two.append(SCORES, "m", [{"key": "d", "value": 4.0}])
    assert one.append_all([Batch(SCORES, "m", [{"key": "e", "value": 5.0}], 4)])[0].head_seq == 5
    assert [r["seq"] for r in one.rows(SCORES, "m")] == [1, 2, 3, 4, 5]
    assert one.verify(SCORES) == []


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(writers=st.lists(st.sampled_from([0, 1]), min_size=1, max_size=12))
def test_interleaved_writers_keep_one_gapless_chain(riskops_home: Path, writers: list[int]) -> None:
    stores = [EvidenceStore(Settings()), EvidenceStore(Settings())]
    stream = f"s{len(stores[0].streams(SCORES))}"
    for i, w in enumerate(writers):
        stores[w].append_all([Batch(SCORES, stream, [{"key": str(i), "value": float(i)}])])
    rows = stores[0].rows(SCORES, stream)
    assert [(r["seq"], r["key"]) for r in rows] == [(i + 1, str(i)) for i in range(len(writers))]
    assert stores[1].verify(SCORES, stream) == []


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN, infinities, -0.0, subnormals
    | st.text()  # any code point: escapes, surrogates, non-ASCII
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@hypothesis_settings(max_examples=400, deadline=None)
@given(value=_JSON_VALUES)
def test_the_canonical_encoder_is_json_dumps_byte_for_byte(value: object) -> None:
    # Row digests are computed over this text: the encoder built once must give exactly
    # what json.dumps gives, for every value a payload or its JSON columns can hold.
    assert canonical_json(value) == json.dumps(value, separators=(",", ":"), sort_keys=True)
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError:
        expected = json.dumps(kinds._plain(value), sort_keys=True, separators=(",", ":"))
    assert kinds.dumps(value) == expected


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    stream=st.text(max_size=20),
    seq=st.integers(min_value=1, max_value=2**40),
    key=st.text(max_size=20),
    payload=st.dictionaries(
        st.sampled_from(["ts", "ret", "close", "bar", "version", "flag", "label"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text()
        | st.datetimes()
        | st.floats(allow_nan=False).map(np.float64)
        | st.integers(-(2**31), 2**31).map(np.int64),
    ),
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_row_digests_are_those_of_the_recorded_encoding(
    stream: str, seq: int, key: str, payload: dict[str, object], prev: str
) -> None:
    # The digest as every recorded row was hashed: json.dumps of the canonical payload
    # (the conversion written out here as it was: non-finite floats as their repr, -0.0
    # as 0.0, dates as ISO text, numpy scalars as Python numbers)
    def canonical(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        if isinstance(value, float) and value == 0.0:
            return 0.0
        if hasattr(value, "isoformat"):
            return value.isoformat()
        if hasattr(value, "item"):
            return value.item()
        return value

    text = json.dumps(
        [stream, seq, key, {k: canonical(v) for k, v in payload.items()}, prev],
        separators=(",", ":"),
        sort_keys=True,
    )
    assert row_hash(stream, seq, key, payload, prev) == hashlib.sha256(text.encode()).hexdigest()
