"""A data scientist's own volatility model: RiskMetrics EWMA (J.P. Morgan, 1996).

It honours the volatility family's public protocol (``riskops.market.any_model``):
``fit(returns) -> self``, ``forecast_variance(returns=None, horizon=1)`` and
``variance_path(returns=None)``, with daily percent returns and variances in percent².
Nothing in it knows about RiskOps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from sklearn.base import BaseEstimator


class EWMAVolatility(BaseEstimator):
    """sigma²(t+1) = lam * sigma²(t) + (1 - lam) * r(t)², started at the sample variance."""

    def __init__(self, lam: float = 0.94) -> None:
        self.lam = lam

    def fit(self, returns: pd.Series) -> EWMAVolatility:
        series = pd.Series(returns, dtype=float).dropna()
        self.returns_ = series
        self.initial_variance_ = float(series.var())
        return self

    def variance_path(self, returns: Any = None) -> pd.Series:
        """Row t: the variance forecast for day t + 1 from the returns up to t."""
        series = self.returns_ if returns is None else pd.Series(returns, dtype=float)
        x = series.to_numpy(dtype=float) ** 2
        path, _ = lfilter(
            [1.0 - self.lam], [1.0, -self.lam], x, zi=[self.lam * self.initial_variance_]
        )
        return pd.Series(path, index=series.index, name="variance")

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        """EWMA has no mean reversion: every day ahead gets the next day's variance."""
        return np.full(int(horizon), float(self.variance_path(returns).iloc[-1]))
