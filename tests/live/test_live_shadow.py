"""A VaR version in shadow on the live stream (issue 30): the live book follows it beside the
champion on the same observations, and its forecasts are in the forecast ledger beside the
champion's for the same days, in its own streams, raising no alarm.

On a copy of the live trained home (GARCH(1,1)-t ``market_var`` v1, champion): the
champion's run registered again (v2) is put in shadow through the lifecycle, and the book
finds it in the trail, as it finds champions. The same run gives the same forecasts, which
checks that each shadow forecast is the one issued for the same day from the same data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskops.live import kinds
from riskops.live.book import LiveBook
from riskops.live.observations import Observation
from tests.live.conftest import LIVE_DAYS, sp500_returns

NAME = "market_var"
DAYS = 30


def _live_days(n: int) -> list[Observation]:
    """The first ``n`` of the days the champion never saw."""
    days = sp500_returns().iloc[-LIVE_DAYS:].iloc[:n]
    return [
        Observation("sp500", ts, float(r), source="test", message_id=f"sp500@{i}")
        for i, (ts, r) in enumerate(days.items())
    ]


def _ledger(store: object, version: int) -> pd.DataFrame:
    rows = store.rows(kinds.FORECASTS, kinds.live_stream(NAME, version, "sp500"))  # type: ignore[attr-defined]
    frame = pd.DataFrame(rows)
    frame["var_99"] = [kinds.loads(f)["var"]["99"] for f in frame["forecast"]]
    return frame.set_index("based_on", drop=False)


def test_a_var_shadow_forecasts_beside_the_champion_for_the_same_days(live_home: Path) -> None:
    from riskops.evidence.store import EvidenceStore
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    # Given the champion's run registered again and put in shadow
    life = Lifecycle(Settings())
    info = life.registry.version_for_alias(NAME, "champion")
    shadow = int(life.register_version(info.run_id, NAME, dict(info.tags)))
    assert life.shadow(NAME, shadow, reason="live shadow test").outcome == "shadow_started"
    # When 30 new days arrive on the live path
    book = LiveBook(Settings())
    report = book.ingest(_live_days(DAYS))
    assert report.counts == {"accepted": DAYS}
    # Then both versions followed every day, each in its own stream
    champion_stream = kinds.live_stream(NAME, 1, "sp500")
    shadow_stream = kinds.live_stream(NAME, shadow, "sp500")
    for outcome in report.outcomes:
        assert outcome.followers == {champion_stream: "forecast", shadow_stream: "forecast"}
    roles = {c.version: c.role for c in book.champions()}
    assert roles == {1: "champion", shadow: "shadow"}
    # And the forecast ledger holds the shadow's forecasts beside the champion's for the same
    # days, from the same data: the same run, the same 99% VaR, day by day
    store = EvidenceStore(Settings())
    champion, shadowed = _ledger(store, 1), _ledger(store, shadow)
    assert len(champion) == len(shadowed) == DAYS + 1  # the first forecast, then one a day
    assert list(shadowed.index) == list(champion.index)
    assert set(shadowed["version"]) == {shadow} and set(champion["version"]) == {1}
    assert (shadowed["var_99"] - champion["var_99"]).abs().max() < 1e-12
    # And each day's realised return is scored against the shadow's forecast too
    scores = store.rows(kinds.SCORES, shadow_stream)
    assert len(scores) == DAYS
    # But a shadow raises no alarm: its live record is evidence, not a trigger
    alarms = store.rows(kinds.ALARMS, NAME)
    assert all(row["version"] != shadow for row in alarms)
    # And once the shadow ends, the book stops following it (its record stays)
    assert life.shadow(NAME, None, stop=True, reason="done").outcome == "shadow_stopped"
    after = LiveBook(Settings()).ingest(_live_days(DAYS + 1)[DAYS:])
    assert after.outcomes[0].followers == {champion_stream: "forecast"}
    assert len(store.rows(kinds.FORECASTS, shadow_stream)) == DAYS + 1
