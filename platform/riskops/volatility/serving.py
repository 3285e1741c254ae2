"""The volatility route, ``POST /volatility/forecast``: daily variance and volatility over a
horizon. A variance that is not positive and finite is never returned (422 naming the
model)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, Field

from riskops.market.serving import MarketHistory, live_forecast, market_history
from riskops.serving.errors import ServingError, guarded, output_refused
from riskops.serving.payloads import ModelRef
from riskops.serving.route import Champion, Route, model_ref, require

MAX_HORIZON = 250
"""Longest volatility path, one trading year."""


class VolatilityRequest(MarketHistory):
    horizon: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=1, description="Trading days ahead."
    )


class VolatilityResponse(BaseModel):
    model: ModelRef
    as_of: str | None
    observations: int | None
    horizon: int
    variance: list[float] = Field(description="Daily variance for days 1..horizon, percent².")
    volatility: list[float] = Field(description="Daily volatility for days 1..horizon, percent.")


def prepare(estimator: Any) -> None:
    require(estimator, "forecast_variance")
    estimator.forecast_variance(None, horizon=1)


def forecast(
    champion: Champion, request: VolatilityRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Daily variance and volatility for each of the next ``horizon`` days."""
    if request.live_series is not None:
        return from_live_state(champion, request, request_id)
    history = market_history(request, champion.estimator)
    variance = guarded(
        history.supplied,
        lambda: champion.estimator.forecast_variance(history.returns, horizon=request.horizon),
    )
    variance = np.asarray(variance, dtype=float).reshape(-1)
    if len(variance) != request.horizon or not np.all(np.isfinite(variance) & (variance > 0)):
        if history.supplied:
            raise ServingError(
                422,
                {
                    "error": "UnprocessableHistory",
                    "message": "the model gave no positive finite variance for this history",
                },
            )
        raise output_refused(
            champion.name, champion.version, f"variances {variance[:5].tolist()!r}"
        )
    body = {
        "model": model_ref(champion),
        "as_of": history.as_of,
        "observations": history.observations,
        "horizon": request.horizon,
        "variance": variance.tolist(),
        "volatility": np.sqrt(variance).tolist(),
    }
    log = [
        {
            "request_id": request_id,
            "model_version": champion.version,
            **history.summary(),
            "horizon": request.horizon,
            "variance_1": float(variance[0]),
            "variance_h": float(variance[-1]),
        }
    ]
    return body, log


def from_live_state(
    champion: Champion, request: VolatilityRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next day's variance the live state issued after the series' last observation."""
    assert request.live_series is not None
    if request.horizon != 1:
        raise ServingError(
            422,
            {
                "error": "HorizonNotForecast",
                "message": "horizon: the live state forecasts the next day (1); send 'returns' "
                f"for a path of {request.horizon}",
            },
        )
    live = live_forecast(champion, request.live_series)
    variance = float(live["forecast"]["variance"])
    if not (np.isfinite(variance) and variance > 0):
        raise output_refused(champion.name, champion.version, f"variance {variance!r}")
    body = {
        "model": model_ref(champion),
        "as_of": live["based_on"],
        "observations": live["seq"],
        "horizon": 1,
        "variance": [variance],
        "volatility": [float(np.sqrt(variance))],
    }
    log = [
        {
            "request_id": request_id,
            "model_version": champion.version,
            "source": f"live:{request.live_series}",
            "n_returns": live["seq"],
            "last_return": None,
            "horizon": 1,
            "variance_1": variance,
            "variance_h": variance,
        }
    ]
    return body, log


ROUTE = Route(
    family="volatility",
    path="/volatility/forecast",
    api_name="volatility_forecast",
    request=VolatilityRequest,
    response=VolatilityResponse,
    prepare=prepare,
    handle=forecast,
    threads=2,
    summary="Daily variance and volatility for each of the next `horizon` days.",
)
