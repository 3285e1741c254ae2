"""A market challenger's shadow window, read from the live forecast ledger (issue 30).

The live book follows a version in shadow beside the champion on the same observations, each
in its own streams (:mod:`riskops.live.kinds`: ``{model}/v{version}/{series}``). The window is
every day of every series on which both versions issued a forecast *and* the realised return
was scored against it (matured): one row, with both forecasts (:func:`read_shadow_window`).
The scores and forecast streams of both versions are sealed first and read up to those
heads, so that the promotion record pins exactly the evidence its gate judged; the family's
pure comparison (:attr:`~riskops.families.base.LiveTraits.shadow_backtest`) reduces the rows
to the facts its gate reads.

The window's live inputs are its matured returns: :func:`window_inputs` turns each series'
returns into the family's drift features (:meth:`~riskops.families.base.Family.features`, the
function that made the challenger's training reference and the promotion's recent window),
so that their data drift against the challenger's training data is measured like any recent
window's (:mod:`riskops.lifecycle.shadow`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from riskops.evidence.store import EvidenceStore
from riskops.families.base import ShadowPairs
from riskops.live import kinds
from riskops.live.record import live_frame, live_streams

__all__ = ["live_shadow_pairs", "read_shadow_window", "window_inputs"]

FORECAST_COLUMNS = ("var_", "es_", "variance")
"""The forecast columns of a live frame that a shadow window pairs (prefixes)."""


def _series(streams: list[str]) -> dict[str, str]:
    return {stream.split("/", 2)[2]: stream for stream in streams}


def read_shadow_window(
    store: EvidenceStore, name: str, champion: int, challenger: int
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """``(rows, seals)``: the matured days both versions forecast, one row per series and
    day (``series, day, ret`` and each forecast suffixed ``_champion``/``_challenger``),
    oldest first; the seals of the four streams read per series."""
    ours = _series(live_streams(store, name, challenger))
    theirs = _series(live_streams(store, name, champion))
    frames, seals = [], []
    for series in sorted(set(ours) & set(theirs)):
        paired = []
        for role, stream in (("champion", theirs[series]), ("challenger", ours[series])):
            score_seal = store.seal(kinds.SCORES, stream)
            seals += [score_seal, store.seal(kinds.FORECASTS, stream)]
            frame = live_frame(store, stream, through_seq=score_seal["seq"])
            keep = [c for c in frame.columns if c.startswith(FORECAST_COLUMNS)]
            if "benchmark_variance" in keep:
                keep.remove("benchmark_variance")
            paired.append(frame[["ret", *keep]].rename(columns={c: f"{c}_{role}" for c in keep}))
        both = paired[0].join(paired[1].drop(columns="ret"), how="inner").dropna()
        if both.empty:
            continue
        both = both.rename_axis("day").reset_index()
        both.insert(0, "series", series)
        frames.append(both)
    if not frames:
        return pd.DataFrame(columns=["series", "day", "ret"]), seals
    rows = pd.concat(frames, ignore_index=True)
    return rows.sort_values(["day", "series"], kind="stable").reset_index(drop=True), seals


def window_inputs(rows: pd.DataFrame, features: Callable[[Any], pd.DataFrame]) -> pd.DataFrame:
    """The live inputs of a shadow window as drift features: each series' matured returns,
    oldest first, as a market dataset of its own through the family's ``features`` (a market
    family's :meth:`~riskops.families.base.Family.features`). Rolling features warm up on the
    window's own first days, which then give no row (:data:`riskops.market.features.
    WARMUP_DAYS`): the window's days before them are what the model saw, nothing older is
    read. Empty when no series has a day past the warm-up."""
    from riskops.data.market import MarketDataset

    frames = []
    for series, part in rows.groupby("series", sort=True):
        returns = pd.DataFrame(
            {str(series): part["ret"].to_numpy(dtype=float)},
            index=pd.DatetimeIndex(pd.to_datetime(part["day"]), name="date"),
        ).sort_index(kind="stable")
        dataset = MarketDataset(
            name=f"shadow window of {series}", source="live forecast ledger", returns=returns
        )
        frames.append(features(dataset))
    found = [frame for frame in frames if len(frame)]
    return pd.concat(found) if found else pd.DataFrame()


def live_shadow_pairs(
    settings: Any,
    compare: Callable[[pd.DataFrame], dict[str, Any]],
    name: str,
    champion: int,
    challenger: int,
    features: Callable[[Any], pd.DataFrame] | None = None,
) -> ShadowPairs:
    """The shadow window of ``challenger`` beside ``champion`` from the live ledger, with the
    family's comparative backtest of its rows (``compare``) and, given the family's
    ``features``, the window's live inputs (:func:`window_inputs`)."""
    store = EvidenceStore(settings)
    rows, seals = read_shadow_window(store, name, champion, challenger)
    if rows.empty:
        followed = live_streams(store, name, challenger)
        reason = (
            f"the live path recorded no forecast of {name} v{challenger} in shadow"
            if not followed
            else f"no day was forecast by both v{champion} and v{challenger} and then observed"
        )
        return ShadowPairs(None, reason, seals=tuple(seals))
    comparison = compare(rows)
    window = comparison["window"]
    return ShadowPairs(
        rows.rename(columns={"day": "decided_at"}),
        comparison=comparison,
        seals=tuple(seals),
        window={
            "rows": window["rows"],
            "requests": window["rows"],
            "days": window["days"],
            "series": window["series"],
            "first": window["first"],
            "last": window["last"],
        },
        output=comparison.get("output"),
        inputs=None if features is None else window_inputs(rows, features),
    )
