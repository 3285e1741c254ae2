"""The live path on a PostgreSQL evidence store, as in production (``RISKOPS_EVIDENCE_URL``):
two books (two consumers) write the same champion's streams; the one whose cached heads went
stale starts again from the store, and the record is the one a single book on SQLite makes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from . import harness

TRAIN_DAYS = 1500
DAYS = 20


def _record(settings):  # type: ignore[no-untyped-def]
    from riskops.evidence.store import EvidenceStore
    from riskops.live import kinds

    store = EvidenceStore(settings)
    stream = "market_var/v1/sp500"
    kinds_checked = (kinds.SCORES, kinds.FORECASTS, kinds.STATES)
    problems = {k.name: store.verify(k, stream) for k in kinds_checked}
    problems["observations"] = store.verify(kinds.OBSERVATIONS, "sp500")
    scores = [(r["ts"], json.loads(r["outcome"])) for r in store.rows(kinds.SCORES, stream)]
    forecasts = [json.loads(r["forecast"]) for r in store.rows(kinds.FORECASTS, stream)]
    return problems, scores, forecasts


def test_two_books_on_postgres_keep_one_record_equal_to_sqlites(
    postgres: harness.PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.families import get_family
    from riskops.live.book import LiveBook
    from riskops.live.champions import LiveChampion
    from riskops.live.observations import Observation
    from riskops.market.var import GarchTVaR
    from riskops.settings import Settings
    from tests.live.conftest import sp500_returns

    returns = sp500_returns()
    estimator = GarchTVaR().fit(returns.iloc[:TRAIN_DAYS])
    champion = LiveChampion("market_var", 1, get_family("var"), "run:digest", estimator, ("sp500",))
    days = [
        Observation("sp500", ts, float(r), source="test", message_id=f"sp500@{i}")
        for i, (ts, r) in enumerate(returns.iloc[TRAIN_DAYS : TRAIN_DAYS + DAYS].items())
    ]

    def history(champion, series, before):  # type: ignore[no-untyped-def]
        return returns.iloc[:TRAIN_DAYS]

    # Given a fresh database on the production PostgreSQL as the evidence store
    database = f"live_{uuid.uuid4().hex[:12]}"
    postgres.query("postgres", f"CREATE DATABASE {database}")
    monkeypatch.setenv("RISKOPS_HOME", str(tmp_path / "pg-home"))
    monkeypatch.setenv("RISKOPS_EVIDENCE_URL", postgres.url(database))
    on_postgres = Settings()
    a = LiveBook(on_postgres, champions=[champion], history=history)
    b = LiveBook(on_postgres, champions=[champion], history=history)
    # When book a absorbs days 1-10, book b days 1-15, then book a days 11-20 (its cached
    # heads are stale by then: b moved the streams)
    first = a.ingest(days[:10])
    second = b.ingest(days[:15])
    third = a.ingest(days[10:])
    # Then b counted a's days as duplicates, and a, after starting again from the store, b's
    assert first.counts == {"accepted": 10}
    assert second.counts == {"duplicate": 10, "accepted": 5}
    assert third.counts == {"duplicate": 5, "accepted": 5}
    assert all(r.committed for r in (first, second, third))
    # and the record is unbroken and equals the one book on SQLite makes of the same days
    problems, scores, forecasts = _record(on_postgres)
    assert all(found == [] for found in problems.values()) and len(problems) == 4
    assert len(scores) == DAYS
    monkeypatch.setenv("RISKOPS_HOME", str(tmp_path / "sqlite-home"))
    monkeypatch.delenv("RISKOPS_EVIDENCE_URL")
    on_sqlite = Settings()
    assert LiveBook(on_sqlite, champions=[champion], history=history).ingest(days).committed
    assert _record(on_sqlite) == (problems, scores, forecasts)
