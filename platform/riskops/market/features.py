"""Daily features of a return series that the VaR and volatility families share.

They describe what a market-risk model sees (returns and recent realised volatility)
and are what data-drift checks compare between training data and a recent window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskops.data.market import MarketDataset

WARMUP_DAYS = 21
"""Days that only warm the 22-day window up and get no row."""
RECENT_DAYS = 250
"""The most recent window drift checks compare against: one trading year."""


def risk_features(dataset: MarketDataset) -> pd.DataFrame:
    """Daily returns, absolute returns and 5- and 22-day realised volatility (percent).

    Row ``t`` uses days up to ``t`` only.
    """
    ret = dataset.series().astype(float)
    squared = ret**2
    frame = pd.DataFrame(
        {
            "ret": ret,
            "abs_ret": ret.abs(),
            "rv_5": np.sqrt(squared.rolling(5).mean()),
            "rv_22": np.sqrt(squared.rolling(WARMUP_DAYS + 1).mean()),
        }
    )
    return frame.iloc[WARMUP_DAYS:]


def recent_window(dataset: MarketDataset) -> MarketDataset:
    """The last ``RECENT_DAYS`` trading days plus the warm-up the features need, so that
    ``risk_features(recent_window(d))`` has one row for each of those days."""
    index = dataset.series().index
    start = index[max(0, len(index) - RECENT_DAYS - WARMUP_DAYS)]
    return dataset.window(start=start)


def input_example(returns: pd.Series) -> pd.DataFrame:
    """The last ``RECENT_DAYS`` returns as the one-column frame (``ret``) a market model is
    logged with as its input example."""
    return returns.iloc[-RECENT_DAYS:].rename("ret").to_frame().reset_index(drop=True)
