"""What each route does with its champion: validate, predict, assemble the response, log.

Plain Python without BentoML, so that it runs (and is tested) outside a server. Every
handler takes the :class:`~services.champions.Champion` the request read once, and returns
``(body, log_records)``; problems are raised as :class:`ServingError` with the HTTP status the
service answers.

Status codes
------------
``400``
    The body does not have the right shape for the champion (pydantic ``detail``).
``422``
    The body is well formed but the model cannot use it (``violations``): a history too
    short for the model, a price window without the columns the detector needs...
``503``
    The model has no champion yet (see :func:`unavailable`).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
from pydantic import TypeAdapter, ValidationError

from riskops.errors import BadInputError, DataValidationError, Violation
from riskops.families import registered_name
from riskops.reasons import load_reason_texts, with_texts
from riskops.registry import VersionInfo
from services import payloads
from services.champions import Champion

INLINE_ROWS = 64
"""Credit batches up to this size are scored on the event loop; larger ones in a thread."""
_CHUNK = 500
"""Rows per parallel chunk of a large credit batch."""

# Estimators raise these on degenerate numbers (a flat history, a singular matrix, an output
# their own schema refuses): on data the caller sent, that is the caller's problem (422),
# not the server's.
_NUMERIC_FAILURES: tuple[type[BaseException], ...] = (
    ValueError,
    ArithmeticError,
    np.linalg.LinAlgError,
    pandera.errors.SchemaError,
    pandera.errors.SchemaErrors,
)


class ServingError(Exception):
    """A request the service answers with ``status`` and a JSON ``body`` (never a 5xx bug)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid(exc: ValidationError, prefix: tuple[Any, ...]) -> ServingError:
    return ServingError(
        400,
        {
            "error": f"{exc.error_count()} validation error(s)",
            "detail": payloads.validation_detail(exc, prefix),
        },
    )


def unprocessable(exc: Exception) -> ServingError:
    if isinstance(exc, DataValidationError):
        return ServingError(422, exc.to_dict())
    return ServingError(422, {"error": type(exc).__name__, "message": str(exc)})


def unavailable(name: str, family: str) -> ServingError:
    return ServingError(
        503,
        {
            "error": "ModelUnavailable",
            "message": (
                f"no champion for {name} yet: train and promote one "
                f"(riskops train {family} && riskops promote {name}); this service picks "
                "it up without a restart"
            ),
            "model": name,
        },
        {"Retry-After": "30"},
    )


def unknown_model(name: str, family: str, directory: Any) -> ServingError:
    """404 for a model name the service does not hold for this route's family."""
    other = directory.family_of(name)
    served = directory.names(family)
    if other is not None:
        message = f"{name} is a {other} model; send it to {ROUTE_PATHS.get(other, other)}"
    else:
        message = (
            f"no registered {family} model named {name} has a champion; promote one "
            f"(riskops promote {name}) and this service picks it up without a restart"
        )
    return ServingError(
        404, {"error": "UnknownModel", "message": message, "model": name, "models": served}
    )


@functools.lru_cache(maxsize=64)
def _reason_texts(name: str, version: int) -> dict[str, str]:
    """A champion's reason texts, read once per version (a new champion rereads the file)."""
    from riskops.settings import Settings

    return load_reason_texts(name, Settings().home)


def _model_ref(champion: Champion) -> dict[str, Any]:
    return {"name": champion.name, "version": champion.version}


@functools.cache
def _pool() -> ThreadPoolExecutor:
    # LightGBM releases the GIL while predicting, so chunks of one batch run in parallel.
    return ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))


@functools.cache
def bundled_market(name: str) -> Any:
    """A bundled market dataset, loaded once per process (the data never changes)."""
    from riskops.data.market import load_market

    return load_market(bundled=name)


def _require(estimator: Any, *attributes: str) -> None:
    missing = [a for a in attributes if not hasattr(estimator, a)]
    if missing:
        raise TypeError(f"{type(estimator).__name__} cannot be served: it lacks {missing}")


@dataclass(frozen=True)
class RowState:
    """What a champion that scores feature rows (credit, anomaly) is served with: its
    features, the request validator derived from its schema and that schema for ``/models``."""

    features: tuple[str, ...]
    validator: TypeAdapter[Any]
    row_schema: dict[str, Any]


# =========================================================================== credit
def prepare_credit(estimator: Any, info: VersionInfo) -> RowState:
    _require(estimator, "score_records", "input_schema_")
    validator, row_schema = payloads.applicant_validator(estimator.input_schema_)
    # Warm-up (lazy imports, the explainer): the model's own example applicants when it keeps
    # some, else one with every feature missing, which the built-in models always accept.
    estimator.score_records(getattr(estimator, "example_records_", None) or [{}], k=1)
    return RowState(tuple(estimator.input_schema_), validator, row_schema)


def score_credit(
    champion: Champion, applicants: list[dict[str, Any]], reasons: int, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PD, grade and reason codes per applicant (the hot path: no DataFrame, no registry)."""
    state: RowState = champion.state
    try:
        records = state.validator.validate_python(applicants)
    except ValidationError as exc:
        raise invalid(exc, ("applicants",)) from None
    estimator = champion.estimator
    try:
        if len(records) <= _CHUNK:
            results = estimator.score_records(records, k=reasons)
        else:
            chunks = [records[i : i + _CHUNK] for i in range(0, len(records), _CHUNK)]
            scored = _pool().map(lambda part: estimator.score_records(part, k=reasons), chunks)
            results = [row for part in scored for row in part]
    except (DataValidationError, BadInputError) as exc:
        raise unprocessable(exc) from None
    texts = _reason_texts(champion.name, champion.version)
    results = [{**r, "reasons": with_texts(r["reasons"], texts)} for r in results]
    version = champion.version
    log = [
        {
            "request_id": request_id,
            "model_version": version,
            **{f: record.get(f) for f in state.features},
            "pd": result["pd"],
            "grade": result["grade"],
            "top_reason": result["reasons"][0]["feature"] if result["reasons"] else None,
        }
        for record, result in zip(records, results, strict=True)
    ]
    return {"model": _model_ref(champion), "results": results}, log


# =========================================================================== market history
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


def market_history(request: payloads._MarketHistory, estimator: Any) -> History:
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
    if request.series is not None:
        dataset = bundled_market(request.series)
        try:
            series = dataset.series(request.asset)
        except DataValidationError as exc:
            raise unprocessable(exc) from None
        as_of = str(series.index[-1].date())
        return History(series, as_of, f"series:{request.series}", len(series))
    raise AssertionError("unreachable: the first branch handles neither returns nor series")


def _guarded(
    history_supplied: bool, compute: Callable[[], Any], what: str = "forecast from this history"
) -> Any:
    try:
        return compute()
    except (DataValidationError, BadInputError) as exc:
        raise unprocessable(exc) from None
    except _NUMERIC_FAILURES as exc:
        if not history_supplied:
            raise
        raise ServingError(
            422,
            {
                "error": "UnprocessableHistory" if what.startswith("forecast") else "Unprocessable",
                "message": f"the model cannot {what}: {_in_our_words(exc)}",
            },
        ) from None


def _in_our_words(exc: BaseException) -> str:
    """What went wrong, without a library's internals (pandera's reports name its checks,
    dtypes and failure-case tables, which mean nothing to a caller)."""
    if isinstance(exc, pandera.errors.SchemaErrors | pandera.errors.SchemaError):
        rows: list[Any] = []
        cases = getattr(exc, "failure_cases", None)
        if isinstance(cases, pd.DataFrame) and "index" in cases:
            labels = cases["index"].dropna()
            rows = sorted({int(i) for i in labels if isinstance(i, int | np.integer)})
        where = f" (rows {rows[:10]}{'...' if len(rows) > 10 else ''})" if rows else ""
        return (
            f"its output is not finite or out of range{where}; the values sent are far "
            "outside the range of the data it was trained on"
        )
    return str(exc)


def _summary(history: History) -> dict[str, Any]:
    last = None if history.returns is None else float(history.returns.iloc[-1])
    return {"source": history.source, "n_returns": history.observations, "last_return": last}


# =========================================================================== VaR
def prepare_var(estimator: Any, info: VersionInfo) -> None:
    _require(estimator, "forecast")
    estimator.forecast(None, levels=(0.99,))


def forecast_var(
    champion: Champion, request: payloads.VaRRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Next-day VaR and ES at each requested level."""
    history = market_history(request, champion.estimator)
    levels = tuple(dict.fromkeys(request.levels))  # duplicates would only repeat rows
    frame = _guarded(
        history.supplied, lambda: champion.estimator.forecast(history.returns, levels=levels)
    )
    forecasts = [
        {"level": float(level), "var": float(row["var"]), "es": float(row["es"])}
        for level, row in frame.iterrows()
    ]
    body = {
        "model": _model_ref(champion),
        "as_of": history.as_of,
        "observations": history.observations,
        "forecasts": forecasts,
    }
    summary = _summary(history)
    log = [
        {"request_id": request_id, "model_version": champion.version, **summary, **f}
        for f in forecasts
    ]
    return body, log


# =========================================================================== volatility
def prepare_volatility(estimator: Any, info: VersionInfo) -> None:
    _require(estimator, "forecast_variance")
    estimator.forecast_variance(None, horizon=1)


def forecast_volatility(
    champion: Champion, request: payloads.VolatilityRequest, request_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Daily variance and volatility for each of the next ``horizon`` days."""
    history = market_history(request, champion.estimator)
    variance = _guarded(
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
        raise RuntimeError(f"{champion.name} v{champion.version} returned {variance!r}")
    body = {
        "model": _model_ref(champion),
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
            **_summary(history),
            "horizon": request.horizon,
            "variance_1": float(variance[0]),
            "variance_h": float(variance[-1]),
        }
    ]
    return body, log


# =========================================================================== anomaly
def prepare_anomaly(estimator: Any, info: VersionInfo) -> RowState:
    _require(estimator, "score_samples", "decision_threshold_", "explain", "feature_names_in_")
    features = tuple(str(f) for f in estimator.feature_names_in_)
    validator, row_schema = payloads.feature_row_validator(list(features))
    estimator.explain(pd.DataFrame(np.zeros((1, len(features))), columns=list(features)), 1)
    return RowState(features, validator, row_schema)


def _price_dataset(bars: list[payloads.PriceBar]) -> Any:
    """A market dataset from price bars (one index, or several when bars name their
    ``asset``), each index validated like a user's file."""
    from riskops.data.market import MarketDataset
    from riskops.data.schemas import MarketSeries
    from riskops.data.validation import validate_frame

    long = pd.DataFrame([bar.model_dump() for bar in bars])
    long["date"] = pd.to_datetime(long["date"])
    long["asset"] = long["asset"].fillna("prices")
    frames = {}
    for asset, group in long.groupby("asset", sort=False):
        frame = group.drop(columns="asset").dropna(axis=1, how="all")
        frame = validate_frame(MarketSeries.to_schema(), frame.reset_index(drop=True), str(asset))
        frames[str(asset)] = frame.set_index("date")

    def column(name: str) -> pd.DataFrame | None:
        if not all(name in f for f in frames.values()):
            return None
        wide = pd.concat({a: f[name] for a, f in frames.items()}, axis=1).sort_index()
        return wide.dropna() if len(frames) > 1 else wide

    close = column("close")
    assert close is not None
    returns = (100 * close.pct_change(fill_method=None)).iloc[1:]
    returns.index.name = "date"
    return MarketDataset(
        name="prices",
        source="request",
        returns=returns,
        close=close,
        high=column("high"),
        low=column("low"),
        volume=column("volume"),
    )


def _feature_frame(state: RowState, request: payloads.AnomalyRequest) -> pd.DataFrame:
    from riskops.anomaly.features import WARMUP_DAYS, build_features

    if request.rows is not None:
        try:
            rows = state.validator.validate_python(request.rows)
        except ValidationError as exc:
            raise invalid(exc, ("rows",)) from None
        return pd.DataFrame(rows, columns=list(state.features))
    try:
        if request.prices is not None:
            dataset = _price_dataset(request.prices)
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


def score_anomaly(
    champion: Champion, request: payloads.AnomalyRequest, request_id: str
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
        scores, explained = _guarded(
            supplied, lambda: estimator.score_and_explain(X, int(request.top_k)), what
        )
    else:
        scores = _guarded(supplied, lambda: score_frame(estimator, X), what)
        explained = _guarded(
            supplied, lambda: _explain_in_slices(estimator, X, request.top_k), what
        )
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
    for i, (date, score, pct, alert) in enumerate(
        zip(dates, scores["score"], scores["percentile"], scores["alert"], strict=True)
    ):
        drivers = [
            {"feature": str(features[j]), "share": float(shares[j]), "value": _finite(values[j])}
            for j in range(i * k, (i + 1) * k)
        ]
        results.append(
            {
                "date": date,
                "score": float(score),
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
                "score": float(score),
                "percentile": float(pct),
                "alert": int(alert),
                "top_driver": drivers[0]["feature"] if drivers else None,
            }
        )
    body = {
        "model": _model_ref(champion),
        "threshold": float(estimator.decision_threshold_),
        "results": results,
    }
    return body, log


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# =========================================================================== registry of routes
@dataclass(frozen=True)
class Route:
    family: str
    model: str
    prepare: Callable[[Any, VersionInfo], Any]


ROUTES = {
    family: Route(family, registered_name(family), prepare)
    for family, prepare in (
        ("credit", prepare_credit),
        ("var", prepare_var),
        ("volatility", prepare_volatility),
        ("anomaly", prepare_anomaly),
    )
}
"""Family -> registered model served and how a loaded version is prepared."""

ROUTE_PATHS = {
    "credit": "/credit/score",
    "var": "/var/forecast",
    "volatility": "/volatility/forecast",
    "anomaly": "/anomaly/score",
}
"""Family -> the route that serves its models."""
