"""Features: causal, correct on hand-checked values, degrade gracefully with less data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskops.anomaly.family import AnomalyFamily
from riskops.anomaly.features import (
    CLOSE_FEATURES,
    WARMUP_DAYS,
    AnomalyFeatures,
    build_features,
)
from riskops.data.market import MarketDataset, load_market
from riskops.errors import DataValidationError

ALL_US = [*CLOSE_FEATURES, "range", "volume_change", "dispersion", "corr_change"]


@pytest.fixture(scope="module")
def us() -> MarketDataset:
    return load_market(bundled="us_indices").window("2007-06-01", "2009-06-30")


@pytest.fixture(scope="module")
def us_features(us: MarketDataset) -> pd.DataFrame:
    return build_features(us)


def test_us_indices_give_every_feature_and_one_row_per_day(us, us_features) -> None:
    assert list(us_features.columns) == ALL_US
    assert us_features.index.equals(us.returns.index[WARMUP_DAYS:])
    assert not us_features.isna().any().any()


def test_hand_checked_values_on_lehman_day(us: MarketDataset, us_features) -> None:
    # Given the day Lehman Brothers filed for bankruptcy
    day = pd.Timestamp("2008-09-15")
    r = us.returns.loc[:day]
    row = us_features.loc[day]
    # Then each feature matches its definition computed by hand
    assert row["ret"] == pytest.approx(r.iloc[-1].mean())
    assert row["abs_ret"] == pytest.approx(r.iloc[-1].abs().mean())
    sigma_before = np.sqrt((r.iloc[-67:-1] ** 2).mean())
    assert row["ret_z"] == pytest.approx((r.iloc[-1] / sigma_before).mean())
    vol_22 = np.log(np.sqrt(252 * (r.iloc[-22:] ** 2).mean()))
    assert row["log_vol_22"] == pytest.approx(vol_22.mean())
    assert row["range"] == pytest.approx((100 * np.log(us.high.loc[day] / us.low.loc[day])).mean())
    volume = us.volume.loc[:day]
    change = np.log(volume.iloc[-1] / volume.iloc[-23:-1].mean())
    assert row["volume_change"] == pytest.approx(change.mean())
    # two assets: the population standard deviation is half their difference
    assert row["dispersion"] == pytest.approx(abs(r.iloc[-1, 0] - r.iloc[-1, 1]) / 2)
    corr_22 = r.iloc[-22:].corr().iloc[0, 1]
    corr_66 = r.iloc[-66:].corr().iloc[0, 1]
    assert row["corr_change"] == pytest.approx(corr_22 - corr_66)
    # and S&P 500 fell 4.7% that day (as reported), NASDAQ 3.6%
    assert row["ret"] == pytest.approx((-4.71 - 3.60) / 2, abs=0.01)


def test_features_are_causal(us: MarketDataset, us_features: pd.DataFrame) -> None:
    # Given the same history with everything after a cut-off day scrambled
    cut = pd.Timestamp("2008-06-30")
    later = us.returns.index > cut
    factors = np.random.default_rng(0).uniform(0.5, 1.5, (int(later.sum()), 2))

    def scramble(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.loc[later] = out.loc[later].to_numpy() * factors
        return out

    # (the same factors for high and low keep high >= low)
    future_changed = replace(
        us,
        returns=scramble(us.returns),
        high=scramble(us.high),
        low=scramble(us.low),
        volume=scramble(us.volume),
    )
    # When features are rebuilt
    rebuilt = build_features(future_changed)
    # Then no feature on or before the cut-off moved
    pd.testing.assert_frame_equal(rebuilt.loc[:cut], us_features.loc[:cut])
    assert not np.allclose(rebuilt.loc[cut:].iloc[1:, 0], us_features.loc[cut:].iloc[1:, 0])


def test_close_only_csv_gives_close_features(tmp_path: Path) -> None:
    # Given the NASDAQ written to a CSV with only a date and a close
    nasdaq = load_market(bundled="nasdaq").window("2010-01-01", "2011-12-31")
    path = tmp_path / "nasdaq.csv"
    nasdaq.close.rename(columns={"nasdaq": "Close"}).rename_axis("Date").to_csv(path)
    dataset = load_market(path, date_col="Date", price_col="Close")
    # When features are built
    features = build_features(dataset)
    # Then only the close-based features exist, and they equal those of the full data
    # (the file's first close yields no return, so its features start one day later)
    assert list(features.columns) == list(CLOSE_FEATURES)
    full = build_features(nasdaq)[list(CLOSE_FEATURES)]
    assert features.index.equals(full.index[1:])
    pd.testing.assert_frame_equal(features, full.loc[features.index], check_freq=False)


def test_eustocks_gets_cross_asset_but_no_range_or_volume() -> None:
    features = build_features(load_market(bundled="eustocks"))
    assert list(features.columns) == [*CLOSE_FEATURES, "dispersion", "corr_change"]
    assert len(features) == 1859 - WARMUP_DAYS


def test_zero_volumes_are_missing_not_quiet_days(us: MarketDataset) -> None:
    # Given a volume column that is all zeros (a feed without volumes)
    silent = replace(us, volume=us.volume * 0.0)
    # Then the volume feature is dropped rather than every row
    features = build_features(silent)
    assert "volume_change" not in features
    assert len(features) == len(us.returns) - WARMUP_DAYS


def test_recent_window_features_are_the_last_250_days(us: MarketDataset, us_features) -> None:
    recent = build_features(AnomalyFamily().recent_window(us))
    assert len(recent) == 250
    pd.testing.assert_frame_equal(recent, us_features.iloc[-250:], check_freq=False)


def test_too_short_history_is_rejected(us: MarketDataset) -> None:
    short = us.window(us.returns.index[0], us.returns.index[WARMUP_DAYS])
    with pytest.raises(DataValidationError, match="at least"):
        build_features(short)


def test_schema_rejects_unknown_columns_and_non_finite_values(us_features) -> None:
    with pytest.raises(Exception, match="extra"):
        AnomalyFeatures.validate(us_features.assign(extra=1.0))
    broken = us_features.copy()
    broken.iloc[3, 2] = np.inf
    with pytest.raises(Exception, match="finite"):
        AnomalyFeatures.validate(broken)
