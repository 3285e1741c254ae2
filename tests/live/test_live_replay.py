"""The live VaR champion on Redis Streams (a real ``redis-server``): the same exceptions as the
offline batch of the same model, day by day; and ``kill -9`` of the consumer mid-replay loses
no acknowledged observation and counts none twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.live.conftest import LIVE_DAYS, RedisServer, environment_for, sp500_returns

RISKOPS = Path(sys.executable).with_name("riskops")
STREAM = "market_var/v1/sp500"


def _bodies() -> list[dict]:
    returns = sp500_returns()
    live = returns.iloc[-LIVE_DAYS:]
    return [
        {"series": "sp500", "timestamp": ts.date().isoformat(), "ret": float(r)}
        for ts, r in live.items()
    ]


def _offline(settings) -> tuple[object, object]:
    """The champion's offline batch over the live days (the same fitted parameters)."""
    from riskops.ledger.loader import VerifiedLoader
    from riskops.market.online import batch_forecasts

    estimator = VerifiedLoader(settings).champion("market_var").estimator
    returns = sp500_returns()
    return estimator, batch_forecasts(estimator, returns, start=len(returns) - LIVE_DAYS)


def _ledger(settings) -> tuple[list[dict], list[dict], list[dict]]:
    from riskops.evidence.store import EvidenceStore
    from riskops.live import kinds

    store = EvidenceStore(settings)
    return (
        store.rows(kinds.OBSERVATIONS, "sp500"),
        store.rows(kinds.FORECASTS, STREAM),
        store.rows(kinds.SCORES, STREAM),
    )


def _hits(scores: list[dict], tag: str) -> np.ndarray:
    return np.array([json.loads(s["outcome"])["exceptions"][tag] for s in scores], dtype=bool)


def test_a_replay_through_redis_finds_the_offline_exceptions_day_by_day(
    live_home: Path, redis_server: RedisServer
) -> None:
    from riskops.evidence.store import EvidenceStore
    from riskops.live import kinds
    from riskops.live.book import LiveBook
    from riskops.live.brokers import RedisStreams
    from riskops.settings import Settings

    redis_server.flush()
    settings = Settings()
    # Given 1,000 days of the S&P 500 on Redis Streams, after the champion's training data
    broker = RedisStreams(redis_server.url, consumer="only", shards=4)
    broker.publish_observations(_bodies())
    # When one consumer absorbs them into the live champion
    from riskops.live.consumer import Consumer

    stats = Consumer(LiveBook(settings), broker, batch=100).run(idle_seconds=2)
    broker.close()
    assert stats.counts == {"accepted": LIVE_DAYS}
    observations, forecasts, scores = _ledger(settings)
    assert len(observations) == LIVE_DAYS and len(scores) == LIVE_DAYS
    # Then every forecast was issued before its day (the chain orders them) and is the
    # offline batch's, day by day, to rounding
    _, batch = _offline(settings)
    live = {
        tag: np.array([json.loads(f["forecast"])["var"][tag] for f in forecasts[:-1]])
        for tag in ("95", "99")
    }
    for tag in ("95", "99"):
        np.testing.assert_allclose(live[tag], batch[f"var_{tag}"].to_numpy(), rtol=1e-10)
        offline_hits = (batch["ret"] < -batch[f"var_{tag}"]).to_numpy()
        # and the exceptions found live are the offline ones, on the same days
        assert np.array_equal(_hits(scores, tag), offline_hits)
    assert [s["ts"][:10] for s in scores] == [d.date().isoformat() for d in batch.index]
    assert _hits(scores, "99").sum() == int((batch["ret"] < -batch["var_99"]).sum()) > 0
    # and the evidence holds: no gap, no broken link, in every live table
    store = EvidenceStore(settings)
    for kind in (kinds.OBSERVATIONS, kinds.FORECASTS, kinds.SCORES, kinds.STATES):
        assert store.verify(kind) == []


def _stream(home: Path, redis: RedisServer, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(RISKOPS),
            "stream",
            "--broker",
            redis.url,
            "--shards",
            "4",
            "--consumer",
            "desk-1",
            "--batch",
            "20",
            "--json",
            *args,
        ],
        env=environment_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _scored(settings) -> int:
    from riskops.evidence.store import EvidenceStore
    from riskops.live import kinds

    return EvidenceStore(settings).head(kinds.SCORES, STREAM)[0]


def test_kill_9_mid_replay_then_restart_records_every_day_exactly_once(
    live_home: Path, redis_server: RedisServer
) -> None:
    import redis

    from riskops.live.brokers import RedisStreams
    from riskops.settings import Settings

    redis_server.flush()
    settings = Settings()
    RedisStreams(redis_server.url, shards=4).publish_observations(_bodies())
    # Given a consumer process absorbing the replay
    first = _stream(live_home, redis_server, "--until-idle", "60")
    deadline = time.monotonic() + 300
    while _scored(settings) < 300:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "the consumer absorbed fewer than 300 days in 5 min"
        time.sleep(0.05)
    # When it is killed with SIGKILL mid-replay (no handler, no clean-up)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    committed = _scored(settings)
    assert 300 <= committed < LIVE_DAYS
    # and restarted under the same name
    second = _stream(live_home, redis_server, "--until-idle", "3")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    report = json.loads(out)
    # Then the restart absorbed exactly the days the first had not committed: every day the
    # first acknowledged stayed recorded, none was counted twice (re-delivered ones are
    # counted duplicates)
    assert report["counts"]["accepted"] == LIVE_DAYS - committed
    observations, forecasts, scores = _ledger(settings)
    days = [b["timestamp"] for b in _bodies()]
    assert [o["ts"][:10] for o in observations] == days
    assert [s["ts"][:10] for s in scores] == days
    assert [s["key"] for s in scores] == [str(i) for i in range(1, LIVE_DAYS + 1)]
    assert [f["key"] for f in forecasts] == [str(i) for i in range(LIVE_DAYS + 1)]
    # and the resumed state forecast exactly what an uninterrupted one would have
    _, batch = _offline(settings)
    assert np.array_equal(_hits(scores, "99"), (batch["ret"] < -batch["var_99"]).to_numpy())
    # and nothing is left unacknowledged on the broker
    client = redis.Redis.from_url(redis_server.url)
    pending = sum(client.xpending(f"riskops:obs:{s}", "riskops-live")["pending"] for s in range(4))
    assert pending == 0


def test_kill_9_after_commits_no_durable_point_acknowledged_redelivers_them_as_duplicates(
    live_home: Path, redis_server: RedisServer
) -> None:
    """The window of the deferred durability: batches committed (synchronous NORMAL) and
    their forecasts published, but no durable point yet, so none acknowledged."""
    import redis

    from riskops.live.brokers import RedisStreams
    from riskops.settings import Settings

    redis_server.flush()
    settings = Settings()
    RedisStreams(redis_server.url, shards=4).publish_observations(_bodies())
    client = redis.Redis.from_url(redis_server.url)

    def pending() -> int:
        return sum(client.xpending(f"riskops:obs:{s}", "riskops-live")["pending"] for s in range(4))

    # Given a consumer whose durable point is ten minutes away: it commits and publishes,
    # and acknowledges nothing
    first = _stream(live_home, redis_server, "--until-idle", "60", "--durable-ms", "600000")
    deadline = time.monotonic() + 300
    while _scored(settings) < 300:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "the consumer absorbed fewer than 300 days in 5 min"
        time.sleep(0.05)
    # When it is killed with SIGKILL
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    committed = _scored(settings)
    assert 300 <= committed < LIVE_DAYS
    # every committed day is still pending on the broker: none was acknowledged
    assert pending() >= committed
    # and a consumer of the default durability is started under the same name
    second = _stream(live_home, redis_server, "--until-idle", "3")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    report = json.loads(out)
    # Then every committed day came again and was counted a duplicate, the others accepted
    assert report["counts"] == {"duplicate": committed, "accepted": LIVE_DAYS - committed}
    # and the ledger has every day exactly once, with the forecasts of an uninterrupted run
    observations, forecasts, scores = _ledger(settings)
    days = [b["timestamp"] for b in _bodies()]
    assert [o["ts"][:10] for o in observations] == days
    assert [s["key"] for s in scores] == [str(i) for i in range(1, LIVE_DAYS + 1)]
    assert [f["key"] for f in forecasts] == [str(i) for i in range(LIVE_DAYS + 1)]
    _, batch = _offline(settings)
    assert np.array_equal(_hits(scores, "99"), (batch["ret"] < -batch["var_99"]).to_numpy())
    # and the stopping consumer's last durable point acknowledged everything
    assert pending() == 0


@pytest.mark.parametrize("bad", ["not json", '{"series": "sp500"}', '{"series": "a/b"}'])
def test_a_malformed_message_is_dead_lettered_and_acknowledged(
    live_home: Path, redis_server: RedisServer, bad: str
) -> None:
    from riskops.evidence.store import EvidenceStore
    from riskops.live import kinds
    from riskops.live.book import LiveBook
    from riskops.live.brokers import RedisStreams, shard_of
    from riskops.live.consumer import Consumer
    from riskops.settings import Settings

    redis_server.flush()
    broker = RedisStreams(redis_server.url, consumer="c", shards=1)
    broker.client.xadd(broker.stream(shard_of("sp500", 1)), {"body": bad})
    stats = Consumer(LiveBook(Settings()), broker).run(idle_seconds=1)
    broker.close()
    assert stats.counts == {"malformed": 1}
    [letter] = EvidenceStore(Settings()).rows(kinds.DEAD_LETTERS, broker.name)
    assert letter["reason"] == "malformed" and letter["message"] == bad and letter["detail"]
    assert broker.client.xpending(broker.stream(0), broker.group)["pending"] == 0
