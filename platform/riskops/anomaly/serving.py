"""The anomaly route, ``POST /anomaly/score``: score, percentile, alert flag and drivers per
day, for feature rows, a window of price bars, or the last days of a bundled series."""

from __future__ import annotations

import datetime
import itertools
import math
import time
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.market.serving import BundledSeries, bundled_market
from riskops.serving.errors import guarded, invalid, unprocessable
from riskops.serving.payloads import (
    MAX_ROWS,
    Body,
    Finite,
    ModelRef,
    Positive,
    Routed,
    feature_row_validator,
)
from riskops.serving.route import Champion, OutputMetric, Route, RowState, model_ref, require

FIRST_DAY = datetime.date(1900, 1, 1)
LAST_DAY = datetime.date(2199, 12, 31)
"""Price dates must lie in [FIRST_DAY, LAST_DAY]: pandas holds dates from 1677 to 2262 only,
and no market series lies outside this range."""


def _trading_day(value: datetime.date) -> datetime.date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be a date between {FIRST_DAY} and {LAST_DAY}")
    return value


class PriceBar(Body):
    date: Annotated[datetime.date, AfterValidator(_trading_day)] = Field(
        description=f"Trading day, YYYY-MM-DD, between {FIRST_DAY} and {LAST_DAY}."
    )
    close: Positive
    high: Positive | None = None
    low: Positive | None = None
    volume: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    asset: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description=(
            "For a champion trained on several indices (cross-asset features): which index "
            "this bar belongs to; send every index's bars, each index oldest first."
        ),
    )


class AnomalyRequest(Routed):
    rows: Annotated[list[dict[str, Finite]], Field(min_length=1, max_length=MAX_ROWS)] | None = (
        Field(default=None, description="Feature rows as {feature: value}; GET /models lists them.")
    )
    prices: Annotated[list[PriceBar], Field(min_length=2, max_length=MAX_ROWS)] | None = Field(
        default=None,
        description=(
            "A recent daily window of one index, oldest first; features need 66 days of "
            "warm-up, so every day after the 67th is scored."
        ),
    )
    series: BundledSeries | None = Field(
        default=None,
        description=(
            "Score the last `days` of a bundled dataset; `us_indices` has every feature "
            "the anomaly models use."
        ),
        examples=["us_indices"],
    )
    days: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=1, description="With `series`: how many of its last days to score.", examples=[5]
    )
    top_k: Annotated[int, Field(ge=1, le=20)] = Field(
        default=3, description="Drivers reported per row."
    )

    @model_validator(mode="after")
    def _one_source(self) -> AnomalyRequest:
        given = [k for k in ("rows", "prices", "series") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'rows', 'prices' or 'series' (got {given})")
        return self

    @field_validator("prices")
    @classmethod
    def _increasing_dates(cls, prices: list[PriceBar] | None) -> list[PriceBar] | None:
        if prices is not None:
            if len({bar.asset is None for bar in prices}) > 1:
                raise ValueError("give 'asset' on every bar or on none")
            by_asset: dict[str | None, list[datetime.date]] = {}
            for bar in prices:
                by_asset.setdefault(bar.asset, []).append(bar.date)
            for dates in by_asset.values():
                if any(b <= a for a, b in itertools.pairwise(dates)):
                    raise ValueError("dates must be strictly increasing, oldest first")
        return prices


class Driver(BaseModel):
    feature: str
    share: float = Field(description="Share of what pushed the row toward anomaly (sums to 1).")
    value: float | None


class AnomalyResult(BaseModel):
    date: str | None
    score: float = Field(description="Higher is more anomalous.")
    percentile: float = Field(description="Share of training days scoring below this one.")
    alert: bool
    drivers: list[Driver]


class AnomalyResponse(BaseModel):
    model: ModelRef
    threshold: float
    results: list[AnomalyResult]


def prepare(estimator: Any) -> RowState:
    require(estimator, "score_samples", "decision_threshold_", "explain", "feature_names_in_")
    features = tuple(str(f) for f in estimator.feature_names_in_)
    validator, row_schema = feature_row_validator(list(features))
    estimator.explain(pd.DataFrame(np.zeros((1, len(features))), columns=list(features)), 1)
    return RowState(features, validator, row_schema)


def _feature_frame(state: RowState, request: AnomalyRequest) -> pd.DataFrame:
    from riskops.anomaly.features import WARMUP_DAYS, build_features
    from riskops.data.market import from_price_bars

    if request.rows is not None:
        try:
            rows = state.validator.validate_python(request.rows)
        except ValidationError as exc:
            raise invalid(exc, ("rows",)) from None
        return pd.DataFrame(rows, columns=list(state.features))
    try:
        if request.prices is not None:
            dataset = from_price_bars(pd.DataFrame([bar.model_dump() for bar in request.prices]))
        else:
            full = bundled_market(str(request.series))
            index = full.returns.index
            start = index[max(0, len(index) - int(request.days) - WARMUP_DAYS - 1)]
            dataset = full.window(start=start)
        features = build_features(dataset)
    except (DataValidationError, BadInputError) as exc:
        raise unprocessable(exc) from None
    missing = [f for f in state.features if f not in features.columns]
    if missing:
        raise unprocessable(
            DataValidationError(
                "anomaly input",
                [
                    Violation(
                        f,
                        "the champion needs this feature; send high/low prices, "
                        "volumes or several indices (bars with 'asset') as its training "
                        "data had",
                    )
                    for f in missing
                ],
            )
        )
    features = features[list(state.features)]
    return features.tail(int(request.days)) if request.series is not None else features


EXPLAIN_SLICE = 16
"""Rows of the first explanation call of a batch, for estimators without the built-in
detectors' one-pass ``score_and_explain``. SHAP's tree code holds the GIL for a whole
call (about 1.5 ms per row for a 200-tree forest on a quiet core), so one call over a
10,000-row batch would stop the event loop, and every other request of the worker, for
seconds. Slices are then sized to take about ``EXPLAIN_SLICE_SECONDS`` each, so that other
threads run between them, while detectors that are cheap per row (the autoencoder, LOF)
quickly grow to large slices and keep their vectorised speed."""
EXPLAIN_SLICE_SECONDS = 0.015
_MAX_SLICE = 4096


def _explain_in_slices(estimator: Any, X: pd.DataFrame, top_k: int) -> pd.DataFrame:
    if len(X) <= EXPLAIN_SLICE:
        return estimator.explain(X, int(top_k))
    parts = []
    start, size = 0, EXPLAIN_SLICE
    while start < len(X):
        began = time.perf_counter()
        parts.append(estimator.explain(X.iloc[start : start + size], int(top_k)))
        elapsed = time.perf_counter() - began
        start += size
        target = size * EXPLAIN_SLICE_SECONDS / max(elapsed, 1e-6)
        size = int(min(max(target, EXPLAIN_SLICE), 2 * size, _MAX_SLICE))
    return pd.concat(parts)


def score(
    champion: Champion, request: AnomalyRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Anomaly score, percentile, alert flag and top drivers per scored day."""
    from riskops.anomaly.models import score_frame

    state: RowState = champion.state
    X = _feature_frame(state, request)
    estimator = champion.estimator
    supplied = request.series is None
    what = "score these rows"
    if hasattr(estimator, "score_and_explain"):
        # The built-in detectors score and explain in one pass whose heavy steps release
        # the GIL (compiled Tree SHAP, scikit-learn's threaded neighbour search, BLAS), so
        # the event loop keeps running without slicing the batch.
        scores, explained = guarded(
            supplied, lambda: estimator.score_and_explain(X, int(request.top_k)), what
        )
    else:
        scores = guarded(supplied, lambda: score_frame(estimator, X), what)
        explained = guarded(supplied, lambda: _explain_in_slices(estimator, X, request.top_k), what)
    k = int(explained.shape[0] // max(len(X), 1))
    features = explained["feature"].to_numpy()
    shares = explained["share"].to_numpy(dtype=float)
    values = explained["value"].to_numpy(dtype=float)
    dates = (
        [str(d.date()) for d in X.index]
        if isinstance(X.index, pd.DatetimeIndex)
        else [None] * len(X)
    )
    results = []
    log = []
    rows = X.to_numpy(dtype=float)
    for i, (date, value, pct, alert) in enumerate(
        zip(dates, scores["score"], scores["percentile"], scores["alert"], strict=True)
    ):
        drivers = [
            {"feature": str(features[j]), "share": float(shares[j]), "value": _finite(values[j])}
            for j in range(i * k, (i + 1) * k)
        ]
        results.append(
            {
                "date": date,
                "score": float(value),
                "percentile": float(pct),
                "alert": bool(alert),
                "drivers": drivers,
            }
        )
        log.append(
            {
                "request_id": request_id,
                "model_version": champion.version,
                "date": date,
                **dict(zip(state.features, rows[i].tolist(), strict=True)),
                "score": float(value),
                "percentile": float(pct),
                "alert": int(alert),
                "top_driver": drivers[0]["feature"] if drivers else None,
            }
        )
    body = {
        "model": model_ref(champion),
        "threshold": float(estimator.decision_threshold_),
        "results": results,
    }
    return body, log


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


ROUTE = Route(
    family="anomaly",
    path="/anomaly/score",
    api_name="anomaly_score",
    request=AnomalyRequest,
    response=AnomalyResponse,
    prepare=prepare,
    handle=score,
    # One large batch at a time per worker, so that it cannot take the cores credit needs.
    threads=1,
    outputs=(
        OutputMetric(
            "riskops_anomaly_alerts_total",
            "Scored days flagged as anomalous.",
            "alert",
            kind="counter",
        ),
    ),
    summary="Anomaly score, alert flag and top drivers for feature rows or a price window.",
)
