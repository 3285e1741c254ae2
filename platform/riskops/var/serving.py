"""The VaR route, ``POST /var/forecast``: next-day VaR and ES (percent) at each level.

A non-finite VaR or ES, or an ES below its VaR, is never returned: the request is answered
422 naming the model (the promotion smoke test refuses such a model first).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, Field

from riskops.market.serving import Level, MarketHistory, live_forecast, market_history
from riskops.serving.errors import guarded, output_refused
from riskops.serving.payloads import ModelRef
from riskops.serving.route import Champion, Route, model_ref, require


class VaRRequest(MarketHistory):
    levels: Annotated[list[Level], Field(min_length=1, max_length=10)] = Field(
        default=[0.95, 0.99], description="Confidence levels."
    )


class VaRLevel(BaseModel):
    level: float
    var: float = Field(description="Value-at-Risk, a positive loss in percent.")
    es: float = Field(description="Expected Shortfall, a positive loss in percent.")


class VaRResponse(BaseModel):
    model: ModelRef
    as_of: str | None = Field(description="Date of the last return conditioned on, when known.")
    observations: int | None
    forecasts: list[VaRLevel]


def prepare(estimator: Any) -> None:
    require(estimator, "forecast")
    estimator.forecast(None, levels=(0.99,))


def from_live_state(
    champion: Champion, request: VaRRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The VaR and ES the live state issued after the series' last observation."""
    from riskops.market.rolling import level_tag
    from riskops.serving.errors import ServingError

    assert request.live_series is not None
    live = live_forecast(champion, request.live_series)
    values = live["forecast"]
    forecasts = []
    for level in dict.fromkeys(request.levels):
        tag = level_tag(float(level))
        if tag not in (values.get("var") or {}):
            raise ServingError(
                422,
                {
                    "error": "LevelNotForecast",
                    "message": f"levels: the live state forecasts {values.get('levels')}, not "
                    f"{level}; send 'returns' for another level",
                },
            )
        forecasts.append(
            {"level": float(level), "var": values["var"][tag], "es": values["es"][tag]}
        )
    body = {
        "model": model_ref(champion),
        "as_of": live["based_on"],
        "observations": live["seq"],
        "forecasts": forecasts,
    }
    log = [
        {
            "request_id": request_id,
            "model_version": champion.version,
            "source": f"live:{request.live_series}",
            "n_returns": live["seq"],
            "last_return": None,
            **f,
        }
        for f in forecasts
    ]
    return body, log


def forecast(
    champion: Champion, request: VaRRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Next-day VaR and ES at each requested level."""
    if request.live_series is not None:
        return from_live_state(champion, request, request_id)
    history = market_history(request, champion.estimator)
    levels = tuple(dict.fromkeys(request.levels))  # duplicates would only repeat rows
    frame = guarded(
        history.supplied, lambda: champion.estimator.forecast(history.returns, levels=levels)
    )
    forecasts = [
        {"level": float(level), "var": float(row["var"]), "es": float(row["es"])}
        for level, row in frame.iterrows()
    ]
    for f in forecasts:
        coherent = f["es"] >= f["var"] - 1e-9 * max(1.0, abs(f["var"]))
        if not (math.isfinite(f["var"]) and math.isfinite(f["es"]) and coherent):
            raise output_refused(
                champion.name,
                champion.version,
                f"VaR {f['var']!r} and ES {f['es']!r} at level {f['level']}",
            )
    body = {
        "model": model_ref(champion),
        "as_of": history.as_of,
        "observations": history.observations,
        "forecasts": forecasts,
    }
    summary = history.summary()
    log = [
        {"request_id": request_id, "model_version": champion.version, **summary, **f}
        for f in forecasts
    ]
    return body, log


ROUTE = Route(
    family="var",
    path="/var/forecast",
    api_name="var_forecast",
    request=VaRRequest,
    response=VaRResponse,
    prepare=prepare,
    handle=forecast,
    threads=2,
    summary="Next-day Value-at-Risk and Expected Shortfall (percent) at each level.",
)
