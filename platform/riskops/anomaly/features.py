"""Daily market-state features for anomaly detection: one causal vector per trading day.

Every feature at day ``t`` uses only data up to and including ``t`` (rolling windows
end at ``t``; "surprise" features divide by statistics that end at ``t - 1``), so a
score for day ``t`` could have been computed at that day's close.

Features are averaged over the dataset's assets (an equal-weighted view of the
market), so that column names do not depend on asset names and a model fitted on one
set of indices can score another set with the same kinds of data. They are in
percent or in logs of ratios, hence comparable across indices whose price levels
differ by orders of magnitude.

=================  ==========================================================  ===========
Column             Definition (per asset, then the mean over assets)            Needs
=================  ==========================================================  ===========
``ret``            percent return ``r_t``                                       close
``abs_ret``        ``|r_t|``                                                    close
``ret_z``          ``r_t / sigma_66(t-1)``, the return in units of the          close
                   daily realised volatility of the 66 days before ``t``
``log_vol_5``      log annualised realised volatility over 5 days,              close
                   ``log(sqrt(252 * mean(r^2)))``
``log_vol_22``     same over 22 days (one month)                                close
``log_vol_66``     same over 66 days (one quarter)                              close
``vol_ratio``      ``log_vol_5 - log_vol_66``: how far this week departs        close
                   from the quarter's volatility regime
``range``          ``100 * log(high_t / low_t)``, the intraday range, percent   high, low
``volume_change``  ``log(volume_t / mean(volume_{t-22..t-1}))``                 volume
``dispersion``     cross-sectional standard deviation of ``r_t`` over assets     >= 2 assets
``corr_change``    mean pairwise 22-day correlation minus mean pairwise         >= 2 assets
                   66-day correlation (a sudden rise in co-movement)
=================  ==========================================================  ===========

Columns whose inputs are missing are left out, so a user file with only a date and a
close gets the seven close-based features. Zero volumes (a data gap, not a quiet
day) are treated as missing. The first 66 returns are warm-up and yield no row.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Index, Series

from riskops.data.market import MarketDataset
from riskops.data.validation import validate_frame
from riskops.errors import DataValidationError, Violation

__all__ = [
    "CLOSE_FEATURES",
    "VOL_WINDOWS",
    "WARMUP_DAYS",
    "AnomalyFeatures",
    "build_features",
]

VOL_WINDOWS = (5, 22, 66)
"""Realised-volatility windows: a week, a month and a quarter of trading days."""
VOLUME_WINDOW = 22
CORR_WINDOWS = (22, 66)
TRADING_DAYS = 252
WARMUP_DAYS = max(VOL_WINDOWS)
"""Returns consumed before the first feature row (``ret_z`` needs 66 earlier returns)."""

CLOSE_FEATURES = (
    "ret",
    "abs_ret",
    "ret_z",
    "log_vol_5",
    "log_vol_22",
    "log_vol_66",
    "vol_ratio",
)
RANGE_FEATURES = ("range",)
VOLUME_FEATURES = ("volume_change",)
CROSS_ASSET_FEATURES = ("dispersion", "corr_change")
ALL_FEATURES = CLOSE_FEATURES + RANGE_FEATURES + VOLUME_FEATURES + CROSS_ASSET_FEATURES


def _finite(series: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(series.to_numpy(dtype=float)), index=series.index)


class AnomalyFeatures(pa.DataFrameModel):
    """Model input of the anomaly detectors: one row per trading day, no missing values.

    Only the close-based columns are required; the others exist when the data has
    high/low prices, volumes or several assets.
    """

    date: Index[pa.DateTime] = pa.Field(unique=True, check_name=False)
    ret: Series[float] = pa.Field(gt=-100, le=1000)
    abs_ret: Series[float] = pa.Field(ge=0)
    ret_z: Series[float] = pa.Field()
    log_vol_5: Series[float] = pa.Field()
    log_vol_22: Series[float] = pa.Field()
    log_vol_66: Series[float] = pa.Field()
    vol_ratio: Series[float] = pa.Field()
    range: Series[float] | None = pa.Field(ge=0)
    volume_change: Series[float] | None = pa.Field()
    dispersion: Series[float] | None = pa.Field(ge=0)
    corr_change: Series[float] | None = pa.Field(ge=-2, le=2)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="feature values must be finite")
    @classmethod
    def all_finite(cls, df: pd.DataFrame) -> pd.DataFrame:
        return df.apply(_finite)


def build_features(dataset: MarketDataset) -> pd.DataFrame:
    """One feature vector per trading day from a market dataset.

    Parameters
    ----------
    dataset
        Any :class:`~riskops.data.market.MarketDataset`; high/low, volume and extra
        assets add features when present.

    Returns
    -------
    pandas.DataFrame
        ``DatetimeIndex`` named ``date``, one column per feature (see the module
        docstring), validated by :class:`AnomalyFeatures`; warm-up days and days
        with any missing input are dropped.

    Raises
    ------
    DataValidationError
        When fewer than ``WARMUP_DAYS + 2`` days are available.
    """
    returns = dataset.returns.astype(float)
    if len(returns) < WARMUP_DAYS + 2:
        raise DataValidationError(
            dataset.name,
            [
                Violation(
                    "rows",
                    f"anomaly features need at least {WARMUP_DAYS + 2} days",
                    (len(returns),),
                )
            ],
        )
    columns: dict[str, pd.Series] = {}
    columns["ret"] = returns.mean(axis=1)
    columns["abs_ret"] = returns.abs().mean(axis=1)
    squared = returns**2
    daily_sigma_66 = squared.rolling(66, min_periods=66).mean() ** 0.5
    # The surprise is measured against the volatility known before the day, so that a
    # shock cannot dampen its own z-score.
    columns["ret_z"] = (returns / daily_sigma_66.shift(1).where(lambda s: s > 0)).mean(axis=1)
    log_vol = {}
    for window in VOL_WINDOWS:
        variance = squared.rolling(window, min_periods=window).mean()
        # A zero-variance window (a stale price) has no log volatility: it is missing data.
        vol = np.sqrt(TRADING_DAYS * variance.where(variance > 0))
        log_vol[window] = np.log(vol)
        columns[f"log_vol_{window}"] = log_vol[window].mean(axis=1)
    columns["vol_ratio"] = (log_vol[5] - log_vol[66]).mean(axis=1)

    if dataset.high is not None and dataset.low is not None:
        high = dataset.high.reindex(returns.index).astype(float)
        low = dataset.low.reindex(returns.index).astype(float)
        columns["range"] = (100 * np.log(high / low)).mean(axis=1)

    if dataset.volume is not None:
        volume = dataset.volume.reindex(returns.index).astype(float)
        volume = volume.where(volume > 0)
        baseline = volume.shift(1).rolling(VOLUME_WINDOW, min_periods=VOLUME_WINDOW // 2).mean()
        columns["volume_change"] = np.log(volume / baseline).mean(axis=1)

    if returns.shape[1] >= 2:
        columns["dispersion"] = returns.std(axis=1, ddof=0)
        columns["corr_change"] = _mean_pairwise_corr(returns, CORR_WINDOWS[0]) - (
            _mean_pairwise_corr(returns, CORR_WINDOWS[1])
        )

    frame = pd.DataFrame(columns, index=returns.index).iloc[WARMUP_DAYS:]
    frame = frame.replace([np.inf, -np.inf], np.nan)
    # An optional input that is missing throughout (e.g. a volume column of zeros)
    # removes its feature rather than every row.
    frame = frame.drop(
        columns=[c for c in frame if c not in CLOSE_FEATURES and frame[c].isna().all()]
    )
    frame = frame.dropna(how="any")
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    if frame.empty:
        raise DataValidationError(
            dataset.name, [Violation("rows", "no day has every anomaly feature defined")]
        )
    return validate_frame(AnomalyFeatures.to_schema(), frame, f"{dataset.name} features")


def _mean_pairwise_corr(returns: pd.DataFrame, window: int) -> pd.Series:
    pairs = [
        returns[a].rolling(window, min_periods=window).corr(returns[b])
        for a, b in combinations(returns.columns, 2)
    ]
    return pd.concat(pairs, axis=1).mean(axis=1)
