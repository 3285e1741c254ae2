"""The live tables of the evidence store, and how their streams are named.

=====================  ===================================  ================================
kind                   stream                               key
=====================  ===================================  ================================
``live_observations``  the series (``sp500``)               the bar's timestamp (ISO 8601)
``live_forecasts``     ``{model}/v{version}/{series}``      the state's sequence number
``live_scores``        the same                             the observation's sequence
``live_states``        the same                             the state's sequence number
``live_alarms``        the registered model                 ``v{version}/{series}/{seq}/...``
``live_dead_letters``  the source (``redis:riskops:obs``)   message id and reason
=====================  ===================================  ================================

Observations are idempotent per series and timestamp: the same bar sent twice is a
duplicate (counted, written once); another bar under a timestamp already recorded is a
conflict (refused, dead-lettered). A champion's streams are per *version*: a promotion
starts a new live record, so "since promotion" is one stream. Payloads are plain columns
and canonical JSON text, so that each row's digest is stable across databases.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa

from riskops.evidence.store import EvidenceKind, strict_canonical_encoder

__all__ = [
    "ALARMS",
    "DEAD_LETTERS",
    "FORECASTS",
    "OBSERVATIONS",
    "SCORES",
    "STATES",
    "dumps",
    "live_stream",
    "loads",
]

OBSERVATIONS = EvidenceKind(
    "live_observations",
    (
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("ret", sa.Float, nullable=True),
        sa.Column("close", sa.Float, nullable=True),
        sa.Column("bar", sa.Text, nullable=True),
    ),
)
"""A series' bar: the percent return (``None`` for the first close of a series), the close
when given, and the rest of the bar (high, low, volume) as JSON."""

FORECASTS = EvidenceKind(
    "live_forecasts",
    (
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(200), nullable=False),
        sa.Column("series", sa.String(200), nullable=False),
        sa.Column("based_on", sa.String(40), nullable=True),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("forecast", sa.Text, nullable=False),
    ),
)
"""What a state issued after absorbing observation ``key`` (horizon 1: for the next one;
anomaly scores are horizon 0, of the observation itself), with the champion's identity
(training run and model manifest digest)."""

SCORES = EvidenceKind(
    "live_scores",
    (
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("ret", sa.Float, nullable=True),
        sa.Column("forecast_seq", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
    ),
)
"""Observation ``key`` scored against the forecast issued for it (``forecast_seq``):
exceptions per level, the variance loss, the alert, the detectors' statistics."""

STATES = EvidenceKind(
    "live_states",
    (
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=True),
        sa.Column("state", sa.Text, nullable=False),
    ),
)
"""A checkpoint of the state ``key`` (the state's sequence number), whose last observation
was ``ts``: the online state, its benchmark's, the detectors' (plain JSON, restored by
:func:`riskops.market.online.restore_state`). Written every
:data:`riskops.live.book.CHECKPOINT_EVERY` bars, not at each: a restore re-applies the bars
the stream scored after it."""

ALARMS = EvidenceKind(
    "live_alarms",
    (
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("series", sa.String(200), nullable=False),
        sa.Column("day_seq", sa.Integer, nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("detector", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    ),
)
"""An alarm of a detector on a champion's live exceptions (committed with the score that
raised it; its audit record and event follow)."""

DEAD_LETTERS = EvidenceKind(
    "live_dead_letters",
    (
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("series", sa.String(200), nullable=True),
        sa.Column("ts", sa.String(40), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
    ),
)
"""A message that was not absorbed, with the reason (malformed, duplicate, out_of_order,
conflict, broker_unavailable...) and the message itself (truncated)."""

MAX_MESSAGE_CHARS = 4000


def live_stream(model: str, version: int, series: str) -> str:
    """The stream of one champion version's live record on one series."""
    return f"{model}/v{int(version)}/{series}"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_STRICT = strict_canonical_encoder()


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, non-finite numbers as null).

    Byte for byte ``json.dumps(value, sort_keys=True, separators=(",", ":"))`` of the
    value with non-finite numbers as null and numpy scalars as numbers (the property
    tests check it): rows hash this text, so it must never change.
    """
    try:
        # Most payloads are plain already: one pass of the C encoder, built once.
        return "".join(_STRICT(value, 0))
    except (TypeError, ValueError, RecursionError):
        return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
