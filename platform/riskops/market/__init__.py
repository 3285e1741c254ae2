"""Market risk: volatility models, VaR/ES models, rolling backtests, stress tests, portfolios.

Public names are resolved lazily so that ``import riskops.market`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # volatility
    "GarchVolatility": "riskops.market.volatility",
    "HARVolatility": "riskops.market.volatility",
    # value-at-risk
    "HistoricalVaR": "riskops.market.var",
    "FilteredHistoricalVaR": "riskops.market.var",
    "GarchTVaR": "riskops.market.var",
    "QuantileVaR": "riskops.market.var",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'riskops.market' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
