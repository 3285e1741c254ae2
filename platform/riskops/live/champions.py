"""The live champions: what the audit trail names champion, for every family with a live path.

A champion is followed live when its family implements
:meth:`~riskops.families.base.Family.online` (var, volatility, anomaly). It is loaded through
the :class:`~riskops.ledger.loader.VerifiedLoader` (identity and file hashes checked), and the
facts its live record needs are read from its verified evidence: the assets it was trained
on (``lineage.json``), the promotion backtest's exceptions (``forecasts.parquet``, which seed
the traffic light) and the anomaly detector's target alert rate.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskops.families.base import Family, LiveTraits

__all__ = [
    "LiveChampion",
    "backtest_hits",
    "follows_live",
    "live_champions",
    "live_facts",
    "live_shadows",
    "load_champion",
]

MIN_HISTORY_DAYS = 250
"""Returns a series needs before a champion forecasts it from its own observations."""


def follows_live(family: Family) -> bool:
    """Whether the family has a live path (overrides :meth:`Family.online`)."""
    return type(family).online is not Family.online


@dataclass
class LiveChampion:
    """One champion version followed live, loaded and verified."""

    name: str
    version: int
    family: Family
    identity: str
    estimator: Any
    assets: tuple[str, ...]
    source: dict[str, Any] | None = None
    backtest: pd.DataFrame | None = field(default=None, repr=False)
    target_alert_rate: float | None = None
    role: str = "champion"
    """``champion``, or ``shadow``: a version the trail put in shadow, followed beside the
    champion on the same observations (its own streams, the same days), raising no alarm
    (issue 30)."""

    @functools.cached_property
    def traits(self) -> LiveTraits:
        """How the live path follows this champion (its family's hook)."""
        return self.family.live_traits()

    @property
    def multi_asset(self) -> bool:
        """Whether one state reads a bar of several series at once (anomaly detectors)."""
        return self.traits.multi_asset

    def series_key(self, series: str) -> str:
        """The live stream's series part: the series, or the detector's assets joined."""
        return "+".join(self.assets) if self.multi_asset else series

    def backtest_hits(self, level: float) -> np.ndarray | None:
        """The promotion backtest's exceptions at ``level``, oldest first (VaR only)."""
        hits = backtest_hits(self.backtest) or {}
        return next((h for lv, h in hits.items() if abs(lv - level) < 1e-9), None)

    def history(self, series: str, before: pd.Timestamp) -> Any:
        """The champion's own training data before ``before`` for one of its assets (the
        state's starting point), or ``None`` when it has none to offer."""
        if series not in self.assets and not self.multi_asset:
            return None
        if self.multi_asset:
            return self._dataset_before(before)
        returns = getattr(self.estimator, "returns_", None)
        if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
            return None
        kept = returns[returns.index < before]
        return kept if len(kept) >= MIN_HISTORY_DAYS else None

    def _dataset_before(self, before: pd.Timestamp) -> Any:
        from riskops.data import DataSource, load

        if not self.source:
            return None
        source = dict(self.source)
        for name in ("path", "schema_path"):
            if source.get(name):
                from pathlib import Path

                source[name] = Path(source[name])
        if "protected" in source:
            source["protected"] = tuple(source["protected"])
        from riskops.data.market import MarketDataset

        loaded = load(DataSource(**source))
        if not isinstance(loaded, MarketDataset):
            return None
        dataset = loaded.select(list(self.assets))
        earlier = dataset.returns.index[dataset.returns.index < before]
        if len(earlier) < MIN_HISTORY_DAYS:
            return None
        return dataset.window(end=earlier[-1])


def live_champions(loader: Any, role: str = "champion") -> dict[str, tuple[int, str]]:
    """``name -> (version, family)`` of every champion the trail names whose family has a
    live path (cheap: a fold of the trail and one registry read per model); with ``role``
    ``"shadow"``, of every version in shadow instead."""
    from riskops.families import family_of_registered, get_family
    from riskops.ledger.state import fold_all

    found = {}
    for name, state in fold_all(loader.trail.records()).items():
        version = state.champion if role == "champion" else state.shadow
        if version is None:
            continue
        try:
            _, info = loader.registered(name, version, state)
            family = get_family(family_of_registered(name, info.tags.get("family")))
        except Exception:  # deleted, re-created, unknown family: nothing to follow
            continue
        if follows_live(family):
            found[name] = (version, family.name)
    return found


def live_shadows(loader: Any) -> dict[str, tuple[int, str]]:
    """``name -> (version, family)`` of every version in shadow whose family has a live
    path."""
    return live_champions(loader, role="shadow")


def load_champion(loader: Any, name: str, version: int, role: str = "champion") -> LiveChampion:
    """A champion version (or the version in shadow, ``role``) loaded and verified, with its
    live facts."""
    from riskops.families import family_of_registered, get_family
    from riskops.tracking import SPEC_FILE

    state = loader.state(name)
    record, info = loader.registered(name, version, state)
    family = get_family(family_of_registered(name, info.tags.get("family")))
    estimator = loader.load(name, version, state).estimator
    identity = f"{record.identity.run_id}:{record.identity.content}"
    lineage = loader.read_json(name, version, "lineage.json", state) or {}
    assets = tuple(str(a) for a in (lineage.get("dataset") or {}).get("assets") or ())
    spec = loader.read_json(name, version, SPEC_FILE, state) or {}
    source = spec.get("source") or lineage.get("source")
    champion = LiveChampion(
        name, version, family, identity, estimator, assets, source if source else None, role=role
    )
    if not champion.multi_asset:
        champion.assets = assets[:1]
    champion.backtest, champion.target_alert_rate = live_facts(loader, name, version, state)
    return champion


def live_facts(
    loader: Any, name: str, version: int, state: Any = None
) -> tuple[pd.DataFrame | None, float | None]:
    """What a version's live record is read against, as its family says
    (:class:`~riskops.families.base.LiveTraits`), from its verified evidence: the promotion
    backtest's forecasts (VaR: ``forecasts.parquet``) and a training metric (the anomaly
    detector's target alert rate)."""
    from riskops import tracking
    from riskops.families import family_of_registered, get_family

    _, info = loader.registered(name, version, state)
    traits = get_family(family_of_registered(name, info.tags.get("family"))).live_traits()
    backtest = None
    if traits.reference_evidence is not None:
        data = loader.read_evidence(name, version, traits.reference_evidence, state)
        backtest = None if data is None else pd.read_parquet(io.BytesIO(data))
    rate = None
    if traits.reference_metric is not None:
        metrics = tracking.run_facts(loader.settings, info.run_id)["metrics"]
        found = metrics.get(traits.reference_metric)
        rate = None if found is None else float(found)
    return backtest, rate


def backtest_hits(backtest: pd.DataFrame | None) -> dict[float, np.ndarray] | None:
    """Level -> the promotion backtest's exceptions, oldest first (``None`` without one)."""
    if backtest is None or "ret" not in backtest:
        return None
    out = {}
    ret = backtest["ret"].to_numpy(float)
    for column in backtest.columns:
        if str(column).startswith("var_"):
            level = float(str(column)[4:]) / 100.0
            out[level] = ret < -backtest[column].to_numpy(float)
    return out or None
