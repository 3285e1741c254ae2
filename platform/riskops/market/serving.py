"""What the market families' routes share: where a forecast's return history comes from.

A VaR or volatility request conditions on the returns in its body, on a bundled series, or
on the model's own training history (:func:`market_history`) -- or, with ``live_series``,
asks for the forecast the champion's live state issued after that series' last observation
(:func:`live_forecast`; the series is fed by ``riskops stream``/``observe``), with no
history sent at all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from riskops.data.market import BUNDLED_MARKET
from riskops.errors import DataValidationError
from riskops.serving.errors import unprocessable
from riskops.serving.payloads import MAX_ROWS, Routed, above, below

PercentReturn = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-100, le=1000, description="Daily return in percent, > -100."),
    above(-100),
]
Level = Annotated[
    float,
    Field(ge=0.5, le=1, description="VaR confidence level in [0.5, 1), e.g. 0.99."),
    below(1),
]
if TYPE_CHECKING:  # a Literal built at run time is opaque to the type checker
    BundledSeries = str
else:
    BundledSeries = Literal[tuple(BUNDLED_MARKET)]


class MarketHistory(Routed):
    """Where the return history comes from: the body, a bundled series, or the model's own."""

    returns: Annotated[list[PercentReturn], Field(min_length=2, max_length=MAX_ROWS)] | None = (
        Field(default=None, description="Daily percent returns, oldest first.")
    )
    series: BundledSeries | None = Field(
        default=None,
        description="A bundled dataset whose history to condition on.",
        examples=["sp500"],
    )
    asset: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="Asset of a multi-asset bundled dataset; default: its first."
    )
    live_series: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None,
        description="A series the live champion follows: the forecast its live state issued "
        "after the series' last observation (no history sent), e.g. 'sp500'.",
        # No `examples`: the request's example is composed from its fields' examples, and
        # `series` and `live_series` together are refused (one source of history only).
    )

    @model_validator(mode="after")
    def _one_source(self) -> MarketHistory:
        given = [n for n in ("returns", "series", "live_series") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of 'returns', 'series' or 'live_series', not {given}")
        if self.asset is not None and self.series is None:
            raise ValueError("'asset' selects a column of a bundled 'series'")
        return self


@functools.cache
def bundled_market(name: str) -> Any:
    """A bundled market dataset, loaded once per process (the data never changes)."""
    from riskops.data.market import load_market

    return load_market(bundled=name)


@dataclass(frozen=True)
class History:
    returns: pd.Series | None
    """``None``: the model's own training history."""
    as_of: str | None
    source: str
    observations: int | None

    @property
    def supplied(self) -> bool:
        return self.source == "request"

    def summary(self) -> dict[str, Any]:
        """What the inference log records of the history a forecast conditioned on."""
        last = None if self.returns is None else float(self.returns.iloc[-1])
        return {"source": self.source, "n_returns": self.observations, "last_return": last}


def market_history(request: MarketHistory, estimator: Any) -> History:
    """The return history a market request conditions on."""
    if request.returns is None and request.series is None:
        own = getattr(estimator, "returns_", None)
        as_of = None
        if isinstance(own, pd.Series) and isinstance(own.index, pd.DatetimeIndex) and len(own):
            as_of = str(own.index[-1].date())
        return History(None, as_of, "model", None if own is None else len(own))
    if request.returns is not None:
        returns = pd.Series(request.returns, name="ret", dtype=float)
        return History(returns, None, "request", len(returns))
    dataset = bundled_market(str(request.series))
    try:
        series = dataset.series(request.asset)
    except DataValidationError as exc:
        raise unprocessable(exc) from None
    return History(series, str(series.index[-1].date()), f"series:{request.series}", len(series))


def live_forecast(champion: Any, series: str) -> dict[str, Any]:
    """The last forecast the champion's live state issued for ``series``: the forecast's
    values, ``based_on`` (the last observation's time) and ``seq`` (live observations
    absorbed), from the lookup the service gave the champion
    (:attr:`~riskops.serving.route.Champion.live`). 404 when it follows no live series."""
    from riskops.serving.errors import ServingError

    if champion.live is None:
        raise ServingError(
            404,
            {
                "error": "NotFollowed",
                "message": f"{champion.name} v{champion.version} is served without live "
                "states here: send 'returns'",
                "model": champion.name,
            },
        )
    found: dict[str, Any] = champion.live(series)
    return found
