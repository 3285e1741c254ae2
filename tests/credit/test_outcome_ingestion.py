"""Outcome ingestion: every problem reported with its row, nothing blocking written, and
never a conflicting outcome accepted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.credit.outcome_ingestion import BLOCKING_KINDS, ingest_outcomes
from riskops.errors import BadInputError, DataValidationError

AS_OF = "2025-03-01"


def _decisions(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"L{i:04d}" for i in range(n)],
            "decided_at": pd.Timestamp("2023-06-01", tz="UTC")
            + pd.to_timedelta(np.arange(n), unit="D"),
            "model_name": "credit_pd",
            "model_version": "4",
        }
    )


def _kinds(result) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for p in result.problems:
        out.setdefault(p.row, set()).add(p.kind)
    return out


def test_never_scored_ids_and_duplicates_are_named_by_line_and_block_the_write() -> None:
    # Given outcomes for 30 scored loans, 10 ids never scored and 5 repeated rows
    decisions = _decisions()
    good = pd.DataFrame({"loan_id": decisions["id"][:30], "default": ["no"] * 25 + ["yes"] * 5})
    unknown = pd.DataFrame({"loan_id": [f"X{i}" for i in range(10)], "default": "no"})
    repeated = good.iloc[[0, 3, 6, 9, 12]]
    frame = pd.concat([good, unknown, repeated], ignore_index=True)
    # When ingested as of March 2025 (every decision of 2023 has passed its 12 months)
    result = ingest_outcomes(
        frame,
        decisions,
        id_col="loan_id",
        target_col="default",
        positive_label="yes",
        as_of=AS_OF,
        horizon_months=12,
    )
    # Then the 10 unknown ids and the 5 duplicates are reported on their own lines
    assert result.counts() == {"unknown_id": 10, "duplicate_in_file": 5}
    assert [p.line for p in result.problems if p.kind == "unknown_id"] == list(range(32, 42))
    duplicates = [p for p in result.problems if p.kind == "duplicate_in_file"]
    assert [p.line for p in duplicates] == list(range(42, 47))
    assert duplicates[0].detail == "loan_id='L0000' also on line 2"
    # And nothing may be written; the CLI's error names the rows and exits 2
    assert not result.ok
    with pytest.raises(DataValidationError) as raised:
        result.raise_if_blocked()
    assert raised.value.exit_code == 2
    assert "unknown_id: 10 row(s), lines 32, 33" in str(raised.value)
    # While what would be written is the 30 good rows, labels mapped to 0/1
    assert len(result.to_write) == 30
    assert result.to_write["default"].sum() == 5
    assert set(result.to_write["model_version"]) == {"4"}


def test_immature_non_defaults_are_reported_not_written_and_do_not_block() -> None:
    decisions = _decisions(3)
    frame = pd.DataFrame(
        {
            "id": ["L0000", "L0001", "L0002"],
            "bad": [0, 1, 0],
            "seen": ["2024-03-01", "2024-02-01", "2024-06-10"],
        }
    )
    result = ingest_outcomes(
        frame,
        decisions,
        target_col="bad",
        observed_at_col="seen",
        as_of=AS_OF,
        horizon_months=12,
    )
    # L0000 was seen alive 9 months in: not an outcome yet. L0001 defaulted (final).
    # L0002 was alive on 10 June 2024, after its horizon ended on 3 June.
    assert _kinds(result) == {0: {"not_mature"}}
    assert result.ok
    assert result.to_write["id"].tolist() == ["L0001", "L0002"]
    assert result.to_write["observed_at"].dt.tz is not None


def test_invalid_cells_are_each_reported() -> None:
    decisions = _decisions(6)
    frame = pd.DataFrame(
        {
            "id": ["L0000", None, "L0002", "L0003", "L0004", "L0005"],
            "y": ["no", "no", "maybe", None, "no", "yes"],
            "t": [
                "2024-07-01",
                "2024-07-01",
                "2024-07-01",
                "2024-07-01",
                "yesterday",
                "2023-01-01",
            ],
        }
    )
    result = ingest_outcomes(
        frame,
        decisions,
        target_col="y",
        positive_label="yes",
        observed_at_col="t",
        as_of=AS_OF,
        horizon_months=12,
    )
    assert _kinds(result) == {
        1: {"missing_id"},
        2: {"invalid_target"},
        3: {"invalid_target"},
        4: {"invalid_observed_at"},
        5: {"before_decision"},
    }
    assert all(p.blocking for p in result.problems)
    assert result.to_write["id"].tolist() == ["L0000"]


def test_future_observations_are_invalid() -> None:
    frame = pd.DataFrame({"id": ["L0000"], "default": [1], "when": ["2030-01-01"]})
    result = ingest_outcomes(
        frame, _decisions(1), observed_at_col="when", as_of=AS_OF, horizon_months=12
    )
    assert _kinds(result) == {0: {"invalid_observed_at"}}
    assert "after 2025-03-01" in result.problems[0].detail


def test_recorded_outcomes_agree_or_conflict() -> None:
    decisions = _decisions(4)
    recorded = pd.DataFrame(
        {
            "id": ["L0000", "L0001", "L0002", "L0003"],
            "default": [1, 0, 0, 1],
            "observed_at": pd.to_datetime(
                ["2024-01-15", "2024-06-20", "2024-06-20", "2024-01-15"], utc=True
            ),
        }
    )
    frame = pd.DataFrame(
        {
            "id": ["L0000", "L0001", "L0002", "L0003"],
            "default": [1, 1, 1, 0],
            "seen": ["2024-01-15", "2024-04-01", "2024-09-01", "2024-02-01"],
        }
    )
    result = ingest_outcomes(
        frame, decisions, recorded, observed_at_col="seen", as_of=AS_OF, horizon_months=12
    )
    kinds = _kinds(result)
    # Same default again: nothing new. A default before the recorded survival date, and
    # no default after a recorded default: conflicts. A default after the recorded
    # survival past the horizon: consistent (a default outside the horizon), not rewritten.
    assert kinds == {
        0: {"already_recorded"},
        1: {"conflicts_with_recorded"},
        2: {"already_recorded"},
        3: {"conflicts_with_recorded"},
    }
    assert "contradicts the recorded no default observed 2024-06-20" in result.problems[1].detail
    assert result.to_write.empty


def test_numeric_ids_read_as_floats_still_join() -> None:
    decisions = pd.DataFrame(
        {"id": ["101", "102"], "decided_at": pd.to_datetime(["2023-01-01"] * 2, utc=True)}
    )
    frame = pd.DataFrame({"id": [101.0, np.nan], "default": [1, 0]})
    result = ingest_outcomes(frame, decisions, as_of=AS_OF, horizon_months=12)
    assert _kinds(result) == {1: {"missing_id"}}
    assert result.to_write["id"].tolist() == ["101"]


def test_missing_columns_are_refused_by_name() -> None:
    with pytest.raises(BadInputError, match="loan_id"):
        ingest_outcomes(
            pd.DataFrame({"id": ["a"], "default": [1]}),
            _decisions(1),
            id_col="loan_id",
            as_of=AS_OF,
            horizon_months=12,
        )


DAY = pd.Timedelta(days=1)


@st.composite
def outcome_histories(draw: st.DrawFn):
    n = draw(st.integers(min_value=1, max_value=12))
    decided = pd.Timestamp("2023-03-01", tz="UTC")
    ids = [f"L{i:04d}" for i in range(n)]
    # Recorded outcomes for some ids, then a file with rows for any ids (repeats allowed).
    recorded_ids = draw(st.lists(st.sampled_from(ids), unique=True, max_size=n))
    recorded = pd.DataFrame(
        {
            "id": recorded_ids,
            "default": draw(
                st.lists(st.integers(0, 1), min_size=len(recorded_ids), max_size=len(recorded_ids))
            ),
            "observed_at": [decided + draw(st.integers(1, 700)) * DAY for _ in recorded_ids],
        }
    )
    rows = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=2 * n))
    frame = pd.DataFrame(
        {
            "id": rows,
            "default": draw(st.lists(st.integers(0, 1), min_size=len(rows), max_size=len(rows))),
            "seen": [(decided + draw(st.integers(0, 700)) * DAY).isoformat() for _ in rows],
        }
    )
    decisions = pd.DataFrame({"id": ids, "decided_at": decided})
    return frame, decisions, recorded


def _label(default: int, observed: pd.Timestamp, end: pd.Timestamp) -> float:
    if default == 1:
        return 1.0 if observed <= end else 0.0
    return 0.0 if observed >= end else float("nan")


@settings(max_examples=200, deadline=None)
@given(outcome_histories())
def test_ingestion_never_accepts_a_conflicting_outcome(history) -> None:
    frame, decisions, recorded = history
    result = ingest_outcomes(
        frame, decisions, recorded, observed_at_col="seen", as_of="2025-06-01", horizon_months=12
    )
    end = pd.Timestamp("2024-03-01", tz="UTC")
    recorded_by_id = recorded.set_index("id")
    blocked_rows = {p.row for p in result.blocking}
    # Nothing already recorded is written again, and each write has no problem at all
    assert not set(result.to_write["id"]) & set(recorded["id"])
    assert not set(result.to_write["row"]) & {p.row for p in result.problems}
    # Every row whose label contradicts the recorded one is a blocking conflict
    for row, item in frame.iterrows():
        if item["id"] not in recorded_by_id.index:
            continue
        rec = recorded_by_id.loc[item["id"]]
        new = _label(item["default"], pd.Timestamp(item["seen"]), end)
        old = _label(rec["default"], rec["observed_at"], end)
        if not np.isnan(new) and not np.isnan(old) and new != old:
            assert row in blocked_rows
            assert "conflicts_with_recorded" in _kinds(result)[row]
    # And a write happens only when nothing blocks
    assert result.ok == (not blocked_rows)
    assert all((p.kind in BLOCKING_KINDS) == p.blocking for p in result.problems)
