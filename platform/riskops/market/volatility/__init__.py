"""Volatility models with one interface: ``fit(returns)``, ``forecast_variance``, ``predict``.

:class:`GarchVolatility` wraps arch's ARCH-family models, composed as arch composes
them (a mean model, a volatility process and an innovation distribution), and gives
exactly arch's estimates. :class:`HARVolatility` is a HAR-style machine-learning model
(LightGBM or linear) on lagged realised-variance features.

All returns and variances are in percent (``100 * pct_change``) and percent squared,
following arch's convention. ``predict`` takes a frame with a ``ret`` column and
returns, for each row ``t``, the variance forecast for day ``t + 1`` made with the
information up to ``t``: its last value is the forecast for the next, unseen day.

The models live in :mod:`~riskops.market.volatility.garch` and
:mod:`~riskops.market.volatility.har`, the realised-variance proxies they learn from in
:mod:`~riskops.market.volatility.proxies`, the schemas of returns and variances in
:mod:`~riskops.market.volatility.returns`; every public name is importable from here, and
the models keep this package as their module (the path stored models name).
"""

from __future__ import annotations

from riskops.market.volatility.garch import GarchVolatility
from riskops.market.volatility.har import (
    HARVolatility,
    har_features,
)
from riskops.market.volatility.proxies import (
    parkinson_variance,
    realised_proxy,
)
from riskops.market.volatility.returns import (
    ReturnsFrame,
    VarianceForecast,
    as_returns,
)

__all__ = [
    "GarchVolatility",
    "HARVolatility",
    "ReturnsFrame",
    "VarianceForecast",
    "as_returns",
    "har_features",
    "parkinson_variance",
    "realised_proxy",
]
