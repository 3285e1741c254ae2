"""The live routes, as plain Python: ``POST /market/observe`` and ``GET /market/live``.

The service (``services/service.py``) only wires them. ``POST /market/observe`` takes one or
many bars (the fields of a broker message, :mod:`riskops.live.observations`) and puts them
through the same :class:`~riskops.live.book.LiveBook` as ``riskops observe`` and ``riskops
stream``: idempotent per series and timestamp (a bar sent again is a ``duplicate`` outcome,
recorded once). A malformed bar refuses the whole request (400 naming the bar, the field and
the rule; nothing is recorded). ``GET /market/live`` answers every live champion's record
(:func:`riskops.live.record.live_desk`), recomputed only when a stream moved.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from riskops.live.book import LiveBook
from riskops.live.observations import Observation, parse
from riskops.serving.errors import ServingError

__all__ = ["LiveRoutes", "ObserveRequest"]

MAX_BARS = 5000


class ObserveRequest(BaseModel):
    """One or many bars: ``{"series", "timestamp", "ret" or "close"[, "high", "low",
    "volume"]}`` each."""

    observations: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BARS,
        description="Bars, oldest first per series.",
        examples=[[{"series": "sp500", "timestamp": "2019-01-02", "ret": 0.13}]],
    )


class LiveRoutes:
    """The live book of a service process and its answers (one writer at a time)."""

    def __init__(self, settings: Any, on_alarm: Any = None) -> None:
        self.settings = settings
        self._on_alarm = on_alarm
        self._book: LiveBook | None = None
        self._lock = threading.Lock()
        self._desk: tuple[Any, list[dict[str, Any]]] | None = None
        self._desk_lock = threading.Lock()
        self._store: Any = None

    def book(self) -> LiveBook:
        if self._book is None:
            self._book = LiveBook(self.settings, on_alarm=self._on_alarm)
        return self._book

    def forecasts(self, name: str, version: int) -> Callable[[str], dict[str, Any]]:
        """``series -> forecast`` of ``name`` v``version`` (:meth:`live_forecast`), what a
        served champion answers ``live_series`` requests with."""
        return functools.partial(self.live_forecast, name, version)

    def live_forecast(self, name: str, version: int, series: str) -> dict[str, Any]:
        """The last forecast the live state of ``name`` v``version`` issued for ``series``:
        the forecast's values, ``based_on`` (the last observation's time) and ``seq`` (live
        observations absorbed). 404 when the champion does not follow the series live."""
        from riskops.evidence.store import EvidenceStore
        from riskops.live import kinds

        if self._store is None:
            self._store = EvidenceStore(self.settings)
        store = self._store
        stream = kinds.live_stream(name, version, series)
        seq, _ = store.head(kinds.FORECASTS, stream)
        if seq == 0:
            raise ServingError(
                404,
                {
                    "error": "NotFollowed",
                    "message": f"{name} v{version} has no live state for series {series!r}: "
                    "feed it (riskops stream, riskops observe, POST /market/observe) or send "
                    "'returns'",
                    "model": name,
                },
            )
        row = store.rows(kinds.FORECASTS, stream, after_seq=seq - 1)[0]
        return {
            "forecast": kinds.loads(row["forecast"]),
            "based_on": row["based_on"],
            "seq": int(row["key"]),
            "stream": stream,
        }

    def observe(self, request: ObserveRequest, caller: str) -> dict[str, Any]:
        """Record the bars; their outcomes, the forecasts issued and any alarms."""
        items = []
        for i, body in enumerate(request.observations):
            found = parse(body, f"http:{caller}", f"{caller}:{i}")
            if not isinstance(found, Observation):
                raise ServingError(
                    400,
                    {
                        "error": "BadObservation",
                        "message": f"observations[{i}]: {found.detail}; nothing was recorded",
                        "index": i,
                    },
                )
            items.append(found)
        with self._lock:
            report = self.book().ingest(items)
        if not report.committed:
            raise ServingError(
                503,
                {
                    "error": "Busy",
                    "message": "another writer moved these series meanwhile; send them again",
                },
                {"Retry-After": "1"},
            )
        return {
            "counts": dict(report.counts),
            "outcomes": [o.to_dict() for o in report.outcomes],
            "forecasts": report.forecasts,
            "alarms": report.alarms,
        }

    def live(self) -> dict[str, Any]:
        """Every live champion's record; recomputed when a stream's head moved."""
        from riskops.live import kinds
        from riskops.live.record import live_desk

        store = self.book().store
        with self._desk_lock:
            heads = tuple(
                sorted((s, store.head(kinds.SCORES, s)[0]) for s in store.streams(kinds.SCORES))
            ) + tuple(
                sorted((s, store.head(kinds.ALARMS, s)[0]) for s in store.streams(kinds.ALARMS))
            )
            champions = self.book().champions()
            key = (heads, tuple(sorted((c.name, c.version) for c in champions)))
            if self._desk is None or self._desk[0] != key:
                self._desk = (key, live_desk(self.settings))
            return {"champions": self._desk[1]}
