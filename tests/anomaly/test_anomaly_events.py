"""Curated stress events: real trading days, and the moves reported for them are in the data."""

from __future__ import annotations

import pandas as pd
import pytest

from riskops.anomaly.events import STRESS_EVENTS, events_frame, events_in
from riskops.anomaly.features import build_features
from riskops.data.market import load_market


@pytest.fixture(scope="module")
def sp500():
    return load_market(bundled="sp500")


def test_events_are_unique_and_inside_1999_2018() -> None:
    frame = events_frame()
    assert frame.index.is_unique
    assert frame.index.min() >= pd.Timestamp("1999-01-01")
    assert frame.index.max() <= pd.Timestamp("2018-12-31")
    assert all(e.name and e.description for e in STRESS_EVENTS)


def test_every_event_is_a_trading_day_with_features(sp500) -> None:
    # Given the bundled US data and its features
    features = build_features(load_market(bundled="us_indices"))
    # Then every curated event is a trading day of the data and has a feature row
    assert len(events_in(sp500.returns.index)) == len(STRESS_EVENTS)
    assert len(events_in(features.index)) == len(STRESS_EVENTS)


@pytest.mark.parametrize("event", STRESS_EVENTS, ids=lambda e: e.date)
def test_reported_sp500_move_matches_the_data(event, sp500) -> None:
    # The moves are those reported at the time (one decimal), e.g. -8.8% on 2008-09-29
    # when the House rejected TARP and +11.6% on 2008-10-13.
    assert sp500.returns.loc[event.date, "sp500"] == pytest.approx(event.sp500_move, abs=0.051)
