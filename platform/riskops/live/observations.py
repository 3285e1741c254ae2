"""One observation: a series' bar at a time, from a message, a file or an HTTP body.

A message is a JSON object (or a mapping)::

    {"series": "sp500", "timestamp": "2018-12-31", "ret": -0.42}
    {"series": "sp500", "timestamp": "2018-12-31", "close": 2506.85, "high": ..., "low": ...,
     "volume": ...}

``ret`` is the percent return (``100 * pct_change``, the platform's convention); a bar that
gives only ``close`` gets its return from the series' previous close (the first close of a
series only anchors the returns). ``date`` or ``ts`` may name the timestamp. Anything else is
refused with the field, the rule and the value (:class:`Refused`), never guessed.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskops.live.kinds import MAX_MESSAGE_CHARS

__all__ = ["Observation", "Refused", "from_dataset", "parse"]

SERIES_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,99}$")
"""Series names: letters, digits and ``_.:+-``, at most 100 characters (they name streams)."""

OUTCOMES = (
    "accepted",
    "duplicate",
    "out_of_order",
    "conflict",
    "malformed",
    "invalid",
    "anchored",
    "warming_up",
    "stale",
    "broker_unavailable",
)
"""Every outcome an observation (or a read from a broker) can have; each is counted, and all
but ``accepted``, ``anchored`` and ``warming_up`` are dead-lettered with the reason."""

DEAD_LETTERED = frozenset(OUTCOMES) - {"accepted", "anchored", "warming_up"}


@dataclass(frozen=True)
class Observation:
    """A validated bar. ``ret`` is ``None`` when only a close was given (filled in from the
    series' previous close by the book)."""

    series: str
    ts: pd.Timestamp
    ret: float | None = None
    close: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    source: str = ""
    message_id: str = ""
    raw: str | None = None

    @functools.cached_property
    def key(self) -> str:
        """The bar's idempotency key within its series: the timestamp, ISO 8601."""
        return self.ts.isoformat()

    def bar(self) -> dict[str, float] | None:
        """High, low and volume when given (the anomaly features read them)."""
        extra = {
            k: v
            for k, v in (("high", self.high), ("low", self.low), ("volume", self.volume))
            if v is not None
        }
        return extra or None


@dataclass(frozen=True)
class Refused:
    """A message that is not an observation: ``reason`` (``malformed``) and what is wrong."""

    reason: str
    detail: str
    source: str = ""
    message_id: str = ""
    raw: str | None = None
    series: str | None = None
    ts: str | None = None


def _text(raw: Any) -> str:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw).decode("utf-8", errors="replace")[:MAX_MESSAGE_CHARS]
    if isinstance(raw, str):
        return raw[:MAX_MESSAGE_CHARS]
    try:
        return json.dumps(raw, default=str)[:MAX_MESSAGE_CHARS]
    except (TypeError, ValueError):
        return repr(raw)[:MAX_MESSAGE_CHARS]


def _number(body: Mapping[str, Any], name: str, positive: bool = False) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name}: must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    if positive and number <= 0:
        raise ValueError(f"{name}: must be positive, got {value!r}")
    if not positive and number < 0 and name == "volume":
        raise ValueError(f"volume: must be non-negative, got {value!r}")
    return number


def timestamp(value: Any) -> pd.Timestamp:
    """A bar's time: any date or date-time pandas reads; an aware one in UTC, as naive."""
    if value is None or isinstance(value, bool | int | float):
        raise ValueError(f"timestamp: must be a date or date-time text, got {value!r}")
    try:
        when = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"timestamp: not a date or date-time: {value!r}") from None
    if pd.isna(when):
        raise ValueError(f"timestamp: missing: {value!r}")
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return when


def parse(raw: Any, source: str = "", message_id: str = "") -> Observation | Refused:
    """An observation from a message (JSON text or bytes, or a mapping), or why it is none."""
    text = _text(raw)
    body: Any = raw
    if isinstance(raw, bytes | bytearray | str):
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return Refused("malformed", "not JSON", source, message_id, text)
    if not isinstance(body, Mapping):
        return Refused("malformed", "not a JSON object", source, message_id, text)
    series = body.get("series")
    stamp = next((body[k] for k in ("timestamp", "ts", "date") if k in body), None)
    try:
        if not isinstance(series, str) or not SERIES_NAME.match(series):
            raise ValueError(
                f"series: letters, digits and _.:+- (at most 100 characters), got {series!r}"
            )
        when = timestamp(stamp)
        ret = _number(body, "ret")
        close = _number(body, "close", positive=True)
        if ret is None and close is None:
            raise ValueError("ret or close: one of them is required")
        if ret is not None and not -100.0 < ret <= 1000.0:
            raise ValueError(f"ret: a percent return in (-100, 1000], got {ret!r}")
        high = _number(body, "high", positive=True)
        low = _number(body, "low", positive=True)
        volume = _number(body, "volume")
        if high is not None and low is not None and high < low:
            raise ValueError(f"high: below low ({high!r} < {low!r})")
    except ValueError as exc:
        shown = str(stamp) if stamp is not None else None
        name = series if isinstance(series, str) else None
        return Refused("malformed", str(exc), source, message_id, text, name, shown)
    return Observation(series, when, ret, close, high, low, volume, source, message_id, text)


def from_dataset(dataset: Any, source: str) -> Iterator[Observation]:
    """The bars of a :class:`~riskops.data.market.MarketDataset`, one series per asset, in
    time order (a price file's first day only anchors its returns: the loader drops it)."""
    frames = {"high": dataset.high, "low": dataset.low, "volume": dataset.volume}
    for asset in dataset.assets:
        returns = dataset.returns[asset].dropna()
        extra = {
            name: None if frame is None or asset not in frame else frame[asset]
            for name, frame in frames.items()
        }
        for when, value in returns.items():
            bar = {}
            for name, column in extra.items():
                found = None if column is None else column.get(when)
                bar[name] = None if found is None or pd.isna(found) else float(found)
            yield Observation(
                str(asset),
                pd.Timestamp(when),
                float(value),
                None,
                bar["high"],
                bar["low"],
                bar["volume"],
                source,
                f"{asset}@{pd.Timestamp(when).isoformat()}",
            )
