"""Online anomaly features and scores equal the batch ones, day by day."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.anomaly.features import WARMUP_DAYS, build_features
from riskops.anomaly.models import IsolationForestDetector, LOFDetector, score_frame
from riskops.anomaly.online import AnomalyState, OnlineFeatures
from riskops.data.market import MarketDataset, load_market
from riskops.families import get_family
from riskops.market.online import ObservationRejected

TRAIN_DAYS = 2500
LIVE_DAYS = 300
RTOL = 1e-9
"""pandas' rolling statistics are running sums over the whole series; the online ones are
recomputed over each window, so the two differ by accumulated rounding (measured: 2e-13)."""


def live_state(detector: object, **start: object) -> AnomalyState:
    """The live state the anomaly family's hook builds (the one way the live path asks)."""
    state = get_family("anomaly").online(detector, **start)
    assert isinstance(state, AnomalyState)
    return state


@pytest.fixture(scope="module")
def us() -> MarketDataset:
    return load_market(bundled="us_indices")


@pytest.fixture(scope="module")
def batch(us: MarketDataset) -> pd.DataFrame:
    return build_features(us)


@pytest.fixture(scope="module")
def train(us: MarketDataset) -> MarketDataset:
    return us.window(end=us.returns.index[TRAIN_DAYS - 1])


def bars(dataset: MarketDataset, days: pd.Index) -> list[dict]:
    index = dataset.returns.index
    frames = {key: getattr(dataset, key).reindex(index) for key in ("high", "low", "volume")}
    return [
        {"ret": dataset.returns.loc[d].to_dict()}
        | {key: frame.loc[d].to_dict() for key, frame in frames.items()}
        for d in days
    ]


@pytest.mark.parametrize(
    ("detector", "live_days"),
    # The LOF's single-row neighbour search costs ~60 ms: fewer days
    [(IsolationForestDetector(n_estimators=50, random_state=0), LIVE_DAYS), (LOFDetector(), 60)],
    ids=["isolation_forest", "lof"],
)
def test_live_features_and_scores_equal_batch(detector, live_days, us, batch, train) -> None:
    # Given a detector fitted on the first 2,500 days of the S&P 500 and NASDAQ (all eleven
    # features: returns, range, volume, cross-asset) and its state after those days
    detector.fit(build_features(train))
    state = live_state(detector, history=train)
    assert isinstance(state, AnomalyState)
    assert state.forecast().score == pytest.approx(
        detector.score_samples(batch.iloc[[TRAIN_DAYS - WARMUP_DAYS - 1]])[0]
    )
    # When the next days arrive as bars
    days = us.returns.index[TRAIN_DAYS : TRAIN_DAYS + live_days]
    scored = [
        state.update(bar, timestamp=day) for bar, day in zip(bars(us, days), days, strict=True)
    ]
    # Then each day's features are build_features' row for that day...
    online = pd.DataFrame([dict(f.features) for f in scored], index=days)
    expected = batch.loc[days, online.columns]
    np.testing.assert_allclose(online.to_numpy(), expected.to_numpy(), rtol=RTOL, atol=1e-12)
    assert list(online.columns) == list(batch.columns)
    # ...and its score, percentile and alert are the detector's on that row
    table = score_frame(detector, batch.loc[days])
    np.testing.assert_allclose([f.score for f in scored], table["score"], rtol=1e-10)
    np.testing.assert_allclose([f.percentile for f in scored], table["percentile"], rtol=1e-10)
    assert [int(f.alert) for f in scored] == table["alert"].tolist()
    assert all(f.horizon == 0 for f in scored)


def test_missing_volume_gives_no_score_like_the_batch(us, train) -> None:
    # Given a day whose volumes are missing (a data gap)
    detector = IsolationForestDetector(n_estimators=30, random_state=1).fit(build_features(train))
    days = us.returns.index[TRAIN_DAYS : TRAIN_DAYS + 30]
    gap = days[10]
    volume = us.volume.copy()
    volume.loc[gap] = np.nan
    gapped = replace(us, volume=volume)
    state = live_state(detector, history=train)
    scored = {d: state.update(bar) for bar, d in zip(bars(gapped, days), days, strict=True)}
    # Then the online state issues no score that day, saying why, as build_features drops it
    assert scored[gap].score is None and "volume_change" in (scored[gap].note or "")
    batch = build_features(gapped)
    assert gap not in batch.index
    # and the following days (their volume baseline still has enough days) are scored
    # exactly as the batch scores them
    later = days[11:]
    np.testing.assert_allclose(
        [scored[d].score for d in later], detector.score_samples(batch.loc[later]), rtol=1e-10
    )


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=st.integers(0, 4500), extra=st.integers(1, 40), single=st.booleans())
def test_incremental_features_equal_batch_anywhere(us, start, extra, single) -> None:
    # Given any stretch of the data (one asset or two), warmed up on its first 67 days
    data = us if not single else us.select(["sp500"])
    window = data.window(
        start=data.returns.index[start], end=data.returns.index[start + WARMUP_DAYS + extra]
    )
    expected = build_features(window)
    features = OnlineFeatures(window.assets, list(expected.columns))
    rows = []
    for bar in bars(window, window.returns.index):
        features.push(
            *(
                np.array(list(bar[k].values()), dtype=float)
                for k in ("ret", "high", "low", "volume")
            )
        )
        row, _ = features.row()
        rows.append(row)
    # Then every day past the warm-up has build_features' row
    online = np.vstack([r for r in rows if r is not None])
    np.testing.assert_allclose(online, expected.to_numpy(), rtol=RTOL, atol=1e-12)
    assert sum(r is None for r in rows) == WARMUP_DAYS


def test_checkpoint_round_trip(us, train) -> None:
    detector = IsolationForestDetector(n_estimators=30, random_state=2).fit(build_features(train))
    days = us.returns.index[TRAIN_DAYS : TRAIN_DAYS + 40]
    stream = bars(us, days)
    straight = live_state(detector, history=train)
    stopped = live_state(detector, history=train)
    for bar in stream[:15]:
        straight.update(bar)
        stopped.update(bar)
    resumed = live_state(
        detector, checkpoint=json.loads(json.dumps(stopped.to_dict(), allow_nan=False))
    )
    assert all(straight.update(b) == resumed.update(b) for b in stream[15:])


@pytest.mark.parametrize(
    "bar",
    [
        {"close": {"sp500": 1.0}},
        {"ret": {"sp500": 0.1, "dax": 0.2}},
        {"ret": [0.1]},
        {"ret": [0.1, "x"]},
        {"ret": [0.1, -150.0]},
        {"ret": [0.1, 0.2], "low": [-1.0, 2.0]},
        {"ret": [0.1, float("inf")]},
    ],
)
def test_bad_bars_are_refused(bar, us, train) -> None:
    detector = IsolationForestDetector(n_estimators=20, random_state=3).fit(build_features(train))
    state = live_state(detector, history=train)
    before = state.to_dict()
    with pytest.raises(ObservationRejected) as refused:
        state.update(bar)
    assert refused.value.reason == "invalid"
    assert state.to_dict() == before


def test_history_is_required(train) -> None:
    from riskops.errors import BadInputError

    detector = IsolationForestDetector(n_estimators=20, random_state=3).fit(build_features(train))
    with pytest.raises(BadInputError, match="MarketDataset"):
        live_state(detector)
