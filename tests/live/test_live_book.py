"""The one live path (:class:`riskops.live.book.LiveBook`): every outcome counted, every
refusal dead-lettered with its reason, one transaction per batch, stale writers refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from riskops.evidence.store import Batch, EvidenceStore, StaleHead
from riskops.families import get_family
from riskops.live import kinds
from riskops.live.book import LiveBook
from riskops.live.champions import LiveChampion
from riskops.live.observations import Observation, Refused, parse
from riskops.settings import Settings
from tests.live.conftest import sp500_returns

TRAIN_DAYS = 1500


@pytest.fixture(scope="module")
def garch_champion() -> LiveChampion:
    """A GARCH(1,1)-t VaR fitted on 1,500 S&P 500 days, as a live champion (no registry)."""
    from riskops.market.var import GarchTVaR

    returns = sp500_returns().iloc[:TRAIN_DAYS]
    estimator = GarchTVaR().fit(returns)
    return LiveChampion("market_var", 1, get_family("var"), "run:digest", estimator, ("sp500",))


def _next_days(n: int, series: str = "sp500", start: int = TRAIN_DAYS) -> list[Observation]:
    days = sp500_returns().iloc[start : start + n]
    return [
        Observation(series, ts, float(r), source="test", message_id=f"{series}@{i}")
        for i, (ts, r) in enumerate(days.items())
    ]


def test_messages_are_parsed_or_refused_naming_the_field() -> None:
    ok = parse(b'{"series": "sp500", "date": "2019-01-02T00:00:00Z", "ret": "0.5"}', "s", "1")
    assert isinstance(ok, Observation) and ok.ret == 0.5
    assert ok.key == "2019-01-02T00:00:00"  # aware times in UTC, as naive
    cases = {
        "{": "not JSON",
        "[1]": "not a JSON object",
        '{"series": "x y", "ts": "2019-01-02", "ret": 1}': "series",
        '{"series": "x", "ts": "soon", "ret": 1}': "timestamp",
        '{"series": "x", "ts": "2019-01-02"}': "ret or close",
        '{"series": "x", "ts": "2019-01-02", "ret": -120}': "ret",
        '{"series": "x", "ts": "2019-01-02", "close": -3}': "close",
        '{"series": "x", "ts": "2019-01-02", "ret": 1, "high": 1, "low": 2}': "high",
        '{"series": "x", "ts": "2019-01-02", "ret": true}': "ret",
    }
    for raw, field in cases.items():
        refused = parse(raw, "s", "m")
        assert isinstance(refused, Refused), raw
        assert refused.reason == "malformed" and field in refused.detail, (raw, refused.detail)
        assert refused.raw == raw


def test_duplicates_out_of_order_and_conflicts_are_counted_and_dead_lettered(
    settings: Settings, garch_champion: LiveChampion
) -> None:
    book = LiveBook(settings, champions=[garch_champion])
    days = _next_days(5)
    # Given three days absorbed
    first = book.ingest(days[:3])
    assert first.counts == {"accepted": 3} and first.committed
    # When the same day comes again, an older day that was never recorded, another value
    # under a recorded day, and a new day, in one batch
    older = Observation("sp500", days[0].ts - pd.Timedelta(days=1), 0.1, source="test")
    changed = Observation("sp500", days[1].ts, days[1].ret + 1.0, source="test", message_id="x")
    report = book.ingest([days[2], older, changed, days[3]])
    # Then each has its outcome, in order, and only the new day is recorded
    assert [o.reason for o in report.outcomes] == [
        "duplicate",
        "out_of_order",
        "conflict",
        "accepted",
    ]
    store = EvidenceStore(settings)
    assert len(store.rows(kinds.OBSERVATIONS, "sp500")) == 4
    letters = {r["reason"]: r for r in store.rows(kinds.DEAD_LETTERS, "test")}
    assert set(letters) == {"duplicate", "out_of_order", "conflict"}
    assert "recorded with other values" in letters["conflict"]["detail"]
    # and the live record has one score per absorbed day, each against the forecast before it
    scores = store.rows(kinds.SCORES, "market_var/v1/sp500")
    assert [(s["key"], s["forecast_seq"]) for s in scores] == [(str(i), i - 1) for i in range(1, 5)]
    assert book.counts == {"accepted": 4, "duplicate": 1, "out_of_order": 1, "conflict": 1}


def test_a_close_only_series_is_anchored_then_returns_follow_from_the_previous_close(
    settings: Settings, garch_champion: LiveChampion
) -> None:
    book = LiveBook(settings, champions=[garch_champion])
    first = parse({"series": "ftse", "timestamp": "2020-01-02", "close": 100.0})
    second = parse({"series": "ftse", "timestamp": "2020-01-03", "close": 101.5})
    report = book.ingest([first, second])
    # The first close anchors; the second's return is 1.5%; the champion has no history of
    # this series yet (250 recorded returns are needed), so it is warming up on it
    assert [o.reason for o in report.outcomes] == ["anchored", "accepted"]
    assert report.outcomes[1].followers == {"market_var/v1/ftse": "warming_up"}
    rows = EvidenceStore(settings).rows(kinds.OBSERVATIONS, "ftse")
    assert rows[0]["ret"] is None and rows[1]["ret"] == pytest.approx(1.5)


def test_a_series_with_enough_recorded_history_is_followed_from_it(
    settings: Settings, garch_champion: LiveChampion
) -> None:
    from riskops.market.online import online_state

    book = LiveBook(settings, champions=[garch_champion])
    history = [
        Observation("other", o.ts, o.ret, source="test", message_id=o.message_id)
        for o in _next_days(260, start=3000)
    ]
    book.ingest(history[:250])
    report = book.ingest(history[250:])
    assert report.outcomes[0].followers == {"market_var/v1/other": "forecast"}
    # The state started from the 250 recorded returns before the first forecast day
    returns = pd.Series([o.ret for o in history[:250]], index=[o.ts for o in history[:250]])
    live = report.forecasts["market_var/v1/other"]
    assert live["seq"] == 10
    expected = online_state(garch_champion.estimator, history=returns)
    for obs in history[250:]:
        expected.update(obs.ret)
    assert live["var"]["99"] == pytest.approx(expected.forecast().var_at(0.99), rel=1e-12)


def test_a_restarted_book_resumes_from_the_checkpoint_and_matches_an_uninterrupted_one(
    settings: Settings, garch_champion: LiveChampion
) -> None:
    days = _next_days(40)
    LiveBook(settings, champions=[garch_champion]).ingest(days[:25])
    resumed = LiveBook(settings, champions=[garch_champion])  # a new process: empty caches
    report = resumed.ingest(days[25:])
    assert report.counts == {"accepted": 15}
    from riskops.market.online import online_state

    state = online_state(garch_champion.estimator)
    for obs in days:
        state.update(obs.ret)
    assert report.forecasts["market_var/v1/sp500"]["var"]["99"] == pytest.approx(
        state.forecast().var_at(0.99), rel=1e-12
    )


def test_two_writers_of_one_series_never_fork_its_chain(
    settings: Settings, garch_champion: LiveChampion
) -> None:
    days = _next_days(6)
    one = LiveBook(settings, champions=[garch_champion])
    two = LiveBook(settings, champions=[garch_champion])
    one.ingest(days[:2])
    two.ingest(days[2:4])  # two never saw days 0-1 in its caches: it read the store
    # When one (its caches now stale) writes the next days, its heads are checked, it
    # starts again from the store, and the days are recorded once, in order
    report = one.ingest(days[2:6])
    assert [o.reason for o in report.outcomes] == ["duplicate"] * 2 + ["accepted"] * 2
    store = EvidenceStore(settings)
    scores = store.rows(kinds.SCORES, "market_var/v1/sp500")
    assert [s["key"] for s in scores] == [str(i) for i in range(1, 7)]
    assert store.verify(kinds.SCORES) == [] and store.verify(kinds.STATES) == []


def test_append_all_is_one_transaction_and_checks_each_streams_head(settings: Settings) -> None:
    store = EvidenceStore(settings)
    kind = kinds.ALARMS
    row = {
        "version": 1,
        "series": "s",
        "day_seq": 1,
        "ts": "2020-01-01",
        "detector": "cusum",
        "detail": "{}",
    }
    done = store.append_all([Batch(kind, "a", [{"key": "1", **row}], 0), Batch(kind, "b", [])])
    assert [(d.stream, d.written) for d in done] == [("a", 1), ("b", 0)]
    # A batch built on an older head writes nothing, not even its other streams' rows
    with pytest.raises(StaleHead):
        store.append_all(
            [Batch(kind, "b", [{"key": "1", **row}], 0), Batch(kind, "a", [{"key": "2", **row}], 0)]
        )
    assert store.head(kind, "b")[0] == 0 and store.head(kind, "a")[0] == 1


def test_a_durable_point_covers_every_commit_before_it_unless_a_reader_holds_an_old_snapshot(
    settings: Settings,
) -> None:
    import sqlite3

    store = EvidenceStore(settings)
    kind = kinds.ALARMS
    row = {"version": 1, "series": "s", "day_seq": 1, "ts": "2020-01-01", "detector": "c"}
    # Given a store whose commits are not synced (WAL, synchronous NORMAL)
    store.defer_durability()
    assert store.deferred
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.append(kind, "a", [{"key": "1", **row, "detail": "{}"}])
    # Then a durable point copies every frame of the log into the synced database
    assert store.durable_point()
    # But while a reader holds the snapshot before a commit, that commit's frames cannot be
    # copied, and the durable point says it did not cover them
    reader = sqlite3.connect(settings.home / "evidence.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM riskops_evidence_live_alarms").fetchone() == (1,)
    store.append(kind, "a", [{"key": "2", **row, "detail": "{}"}])
    assert not store.durable_point()
    reader.execute("COMMIT")
    reader.close()
    assert store.durable_point()
    assert [r["key"] for r in store.rows(kind, "a")] == ["1", "2"]


def test_without_deferral_every_commit_is_synced_and_durable(settings: Settings) -> None:
    store = EvidenceStore(settings)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert not store.deferred and store.durable_point()


def test_an_alarm_is_audited_naming_the_seal_and_handed_to_the_event_adapter(
    settings: Settings, garch_champion: LiveChampion, riskops_home: Path
) -> None:
    from riskops.audit import AuditTrail
    from riskops.live.watch import cusum_design

    events: list[dict] = []
    book = LiveBook(settings, champions=[garch_champion], on_alarm=events.append)
    # Given a stretch of days where every loss exceeds the 99% VaR (a crash, made up)
    days = [
        Observation("sp500", o.ts, -12.0, source="test", message_id=o.message_id)
        for o in _next_days(5)
    ]
    report = book.ingest(days)
    design = cusum_design()
    # Then the CUSUM alarms on the day its statistic crosses the threshold (m per exception)
    first = int(np.ceil(design.threshold / (design.m - 1)))
    assert [a["key"] for a in report.alarms] == [f"v1/sp500/{first}/cusum"]
    [record] = [r for r in AuditTrail(settings).records("market_var") if r.action == "alarm"]
    seal = record.body["scores_seal"]
    store = EvidenceStore(settings)
    assert store.check_seal(seal, kinds.SCORES) is None and seal["seq"] == 5
    # and the event adapter gets the one performance payload: retrain the family
    assert events == [
        {
            "model": "market_var",
            "family": "var",
            "monitor": "alarm",
            "families": ["var"],
            "include_outcomes": False,
            "version": 1,
            "series": "sp500",
            "detector": "cusum",
            "day": days[first - 1].key,
            "audit_seq": record.seq,
            "detail": json.loads(store.rows(kinds.ALARMS, "market_var")[0]["detail"]),
        }
    ]
    # and an alarm already audited is never audited twice
    assert book.publish_pending() == []


@settings_hypothesis(max_examples=60, deadline=None)
@given(seeded=st.integers(0, 250), hits=st.lists(st.booleans(), max_size=300))
def test_the_watch_checkpoint_writes_its_window_as_it_always_did(
    seeded: int, hits: list[bool]
) -> None:
    from riskops.live.watch import Watch

    watch = Watch(np.arange(seeded) % 7 == 0)
    for hit in hits:
        watch.update(hit)
    saved = watch.to_dict()
    # The window as the checkpoints recorded so far wrote it (their digests cover it)
    assert saved["zone"]["window"] == "".join("1" if h else "0" for h in watch.zone.window)
    assert Watch.from_dict(saved).to_dict() == saved
