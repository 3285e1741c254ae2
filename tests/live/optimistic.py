"""A VaR model made too optimistic on purpose: GARCH(1,1)-t whose VaR and ES are scaled by
0.7 (the issue's degraded champion; a module of its own so that the processes that load it
-- a Prefect flow run's -- can import it), and a GARCH(1,1) volatility model whose variance is
halved (a shadow challenger worse in QLIKE)."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskops.market.var import GarchTVaR
from riskops.market.volatility import GarchVolatility

SCALE = 0.7


class OptimisticVaR(GarchTVaR):
    """:class:`~riskops.market.var.GarchTVaR` with VaR and ES times :data:`SCALE`."""

    def _forecast_values(self, returns: Any, levels: Any) -> tuple[np.ndarray, np.ndarray]:
        var, es = super()._forecast_values(returns, levels)
        return SCALE * np.asarray(var), SCALE * np.asarray(es)


VARIANCE_SCALE = 0.5


class UnderstatedVolatility(GarchVolatility):
    """:class:`~riskops.market.volatility.GarchVolatility` whose variance forecasts are
    :data:`VARIANCE_SCALE` times its own (a volatility model that understates risk)."""

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        return VARIANCE_SCALE * np.asarray(super().forecast_variance(returns, horizon))
