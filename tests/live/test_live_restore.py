"""A live state restored from the store -- its last checkpoint, then the bars scored after it
re-applied -- is the state an uninterrupted book holds: killed between any two batches, a
book started again issues the same forecasts and scores (to 1e-12), detectors and
benchmark included, for every kind of live state (a GARCH recursion with the exception
watch, an FHS residual window, a volatility model with its benchmark, a multi-asset
anomaly detector)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from riskops.evidence.store import EvidenceStore
from riskops.families import get_family
from riskops.live import kinds
from riskops.live.book import CHECKPOINT_EVERY, LiveBook
from riskops.live.champions import LiveChampion
from riskops.live.observations import Observation
from riskops.settings import Settings
from tests.live.conftest import sp500_returns

TRAIN_DAYS = 1500
LIVE_DAYS = 130
EVERY = 7
"""Checkpoints every 7 bars in most cases: 130 days cross many, and a kill lands at every
distance from the last one (the default, 50, is run too)."""
RTOL = 1e-12


@dataclass
class Case:
    champion: LiveChampion
    days: list[Observation]
    history: Any = None


def _single(series: str, start: int = TRAIN_DAYS) -> list[Observation]:
    days = sp500_returns().iloc[start : start + LIVE_DAYS]
    return [
        Observation(series, ts, float(r), source="test", message_id=f"{series}@{i}")
        for i, (ts, r) in enumerate(days.items())
    ]


def _var(model: Any, name: str) -> Case:
    estimator = model.fit(sp500_returns().iloc[:TRAIN_DAYS])
    champion = LiveChampion(name, 1, get_family("var"), "run:digest", estimator, ("sp500",))
    return Case(champion, _single("sp500"))


def _volatility() -> Case:
    from riskops.market.volatility import GarchVolatility

    returns = sp500_returns()
    estimator = GarchVolatility(dist="t").fit(returns.iloc[:TRAIN_DAYS])
    champion = LiveChampion(
        "market_vol", 1, get_family("volatility"), "run:digest", estimator, ("sp500",)
    )
    return Case(champion, _single("sp500"), lambda c, s, before: returns.iloc[:TRAIN_DAYS])


def _anomaly() -> Case:
    from riskops.anomaly.features import build_features
    from riskops.anomaly.models import IsolationForestDetector
    from riskops.data.market import load_market

    us = load_market(bundled="us_indices")
    train_days = 2500
    train = us.window(end=us.returns.index[train_days - 1])
    detector = IsolationForestDetector(n_estimators=20, random_state=0).fit(build_features(train))
    assets = tuple(str(a) for a in us.assets)
    champion = LiveChampion(
        "market_anomaly", 1, get_family("anomaly"), "run:digest", detector, assets
    )
    index = us.returns.index[train_days : train_days + LIVE_DAYS]
    frames = {k: getattr(us, k).reindex(us.returns.index) for k in ("high", "low", "volume")}
    days = []
    for i, ts in enumerate(index):
        for asset in assets:
            extra = {k: frames[k].at[ts, asset] for k in frames}
            days.append(
                Observation(
                    asset,
                    ts,
                    float(us.returns.at[ts, asset]),
                    **{k: None if v != v else float(v) for k, v in extra.items()},
                    source="test",
                    message_id=f"{asset}@{i}",
                )
            )
    return Case(champion, days, lambda c, s, before: train)


@pytest.fixture(scope="module")
def cases() -> dict[str, Case]:
    from riskops.market.var import FilteredHistoricalVaR, GarchTVaR

    return {
        "garch_t_var": _var(GarchTVaR(), "market_var"),
        "fhs_var": _var(FilteredHistoricalVaR(), "market_fhs"),
        "garch_volatility": _volatility(),
        "isolation_forest": _anomaly(),
    }


def _record(home: Path) -> dict[str, list[tuple[str, Any]]]:
    """Every forecast, score and state checkpoint the store holds, per stream, as
    ``(key, payload)``."""
    store = EvidenceStore(Settings(home=home))
    out: dict[str, list[tuple[str, Any]]] = {}
    for kind, column in (
        (kinds.FORECASTS, "forecast"),
        (kinds.SCORES, "outcome"),
        (kinds.STATES, "state"),
    ):
        for row in store.rows(kind):
            out.setdefault(f"{kind.name}:{row['stream']}", []).append(
                (row["key"], json.loads(row[column]))
            )
    return out


def _run(home: Path, case: Case, batches: list[list[Observation]], kills: set[int], every: int):  # type: ignore[no-untyped-def]
    """Ingest ``batches`` in order, a new book (a new process: nothing cached) after each
    batch whose index is in ``kills``."""
    settings = Settings(home=home)

    def book() -> LiveBook:
        return LiveBook(
            settings, champions=[case.champion], history=case.history, checkpoint_every=every
        )

    live = book()
    for i, batch in enumerate(batches):
        assert live.ingest(batch).committed
        if i in kills:
            live = book()  # killed: no save_states, the caches are gone
    # A clean stop at the end: the whole state at the last bar is in the record too
    live.save_states()
    return _record(home)


def _close(a: Any, b: Any, where: str) -> None:
    """Equal payloads, numbers to a relative 1e-12."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=RTOL, abs=1e-300), where
    else:
        assert a == b, where


@pytest.mark.parametrize("name", ["garch_t_var", "fhs_var", "garch_volatility", "isolation_forest"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_book_killed_between_any_batches_matches_an_uninterrupted_one(
    tmp_path: Path, cases: dict[str, Case], name: str, seed: int
) -> None:
    case = cases[name]
    rng = random.Random(seed)
    every = EVERY if seed else CHECKPOINT_EVERY
    # Given the live days cut into batches of random sizes (a multi-asset bar's assets may
    # land in different batches)
    days, batches, start = case.days, [], 0
    while start < len(days):
        size = rng.randint(1, 12)
        batches.append(days[start : start + size])
        start += size
    # When one book absorbs them uninterrupted, and another is killed after random batches
    # (and once more right after its first, before any checkpoint but the fresh one)
    kills = {0} | set(rng.sample(range(len(batches) - 1), k=min(6, len(batches) - 1)))
    uninterrupted = _run(tmp_path / "uninterrupted", case, batches, set(), every)
    restarted = _run(tmp_path / "restarted", case, batches, kills, every)
    # Then every forecast, score and checkpoint is the same, day by day, and so is the
    # whole state at the end (online state, detectors, benchmark)
    assert restarted.keys() == uninterrupted.keys()
    for stream, rows in uninterrupted.items():
        got = restarted[stream]
        assert [k for k, _ in got] == [k for k, _ in rows], stream
        for (key, expected), (_, found) in zip(rows, got, strict=True):
            found.pop("issued_at", None)
            expected.pop("issued_at", None)
            _close(expected, found, f"{stream}@{key}")
    # (of every live day: the comparison covers them all)
    scored = [r for s, r in uninterrupted.items() if s.startswith("live_scores")]
    assert [len(r) for r in scored] == [LIVE_DAYS]


def test_checkpoints_are_written_every_n_bars_and_at_a_clean_stop(
    tmp_path: Path, cases: dict[str, Case]
) -> None:
    case = cases["garch_t_var"]
    settings = Settings(home=tmp_path)
    book = LiveBook(settings, champions=[case.champion], checkpoint_every=EVERY)
    # Given 40 days absorbed one batch of 5 at a time
    for start in range(0, 40, 5):
        book.ingest(case.days[start : start + 5])
    store = EvidenceStore(settings)
    stream = "market_var/v1/sp500"
    # Then the state was checkpointed at its first bar and every 7 bars after it
    assert [r["key"] for r in store.rows(kinds.STATES, stream)] == [
        "1",
        "8",
        "15",
        "22",
        "29",
        "36",
    ]
    # And a clean stop checkpoints the state at its last bar (once), so nothing is replayed
    assert book.save_states() == 1 and book.save_states() == 0
    rows = store.rows(kinds.STATES, stream)
    assert rows[-1]["key"] == "40" and rows[-1]["ts"] == case.days[39].key
    assert store.verify(kinds.STATES) == []
    # And a book that resumes from it forecasts as the one that wrote it
    again = LiveBook(settings, champions=[case.champion], checkpoint_every=EVERY)
    one = book.ingest(case.days[40:41]).forecasts[stream]
    assert again.ingest(case.days[40:41]).counts == {"duplicate": 1}
    two = again.ingest(case.days[41:42]).forecasts[stream]
    assert one["seq"] == 41 and two["seq"] == 42


def test_a_stop_does_not_checkpoint_a_stream_another_process_moved(
    tmp_path: Path, cases: dict[str, Case]
) -> None:
    case = cases["garch_t_var"]
    settings = Settings(home=tmp_path)

    def start(champion, series, before):  # type: ignore[no-untyped-def]
        return sp500_returns().iloc[:TRAIN_DAYS]

    def book() -> LiveBook:
        return LiveBook(settings, champions=[case.champion], history=start, checkpoint_every=EVERY)

    other = [Observation("other", d.ts, d.ret, source="test") for d in case.days]
    stopping = book()
    stopping.ingest(case.days[:10] + other[:10])
    # Given another process that took sp500 over and moved it on (not the other series)
    book().ingest(case.days[10:12])
    # When the first one stops cleanly, its state of sp500 (at 10) is not written over the
    # newer one, and its state of the other series is checkpointed
    assert stopping.save_states() == 1
    store = EvidenceStore(settings)
    assert [r["key"] for r in store.rows(kinds.STATES, "market_var/v1/sp500")] == ["1", "8"]
    assert [r["key"] for r in store.rows(kinds.STATES, "market_var/v1/other")] == ["1", "8", "10"]
    # and a book that follows sp500 next restores it at 12 (checkpoint 8 and four bars)
    assert book().ingest(case.days[12:13]).forecasts["market_var/v1/sp500"]["seq"] == 13


def test_checkpoint_every_is_checked(settings: Settings) -> None:
    from riskops.errors import BadInputError

    with pytest.raises(BadInputError, match="checkpoint_every"):
        LiveBook(settings, champions=[], checkpoint_every=0)
