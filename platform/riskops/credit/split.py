"""Which applicants a model trained on, remembered by fingerprint, so that no model is ever
scored on its own training rows.

A row's *fingerprint* is a 64-bit hash of its feature values only, over a given list of
columns (a model's own features): never the label, never the row's position. Each credit
version stores the fingerprints of its training and held-out rows with its run
(:data:`FINGERPRINTS_FILE`). A challenger's split then follows the champion's memory:

* a row the champion trained on stays on the training side,
* a row the champion held out stays held out,
* a row the champion never saw goes by its own hash (of the ``--id-col`` value when one is
  declared, else of its feature values), so a retrain on the same or a grown dataset keeps
  every applicant on the same side.

Adding a constant column, flipping a label (a late default) or shuffling the rows changes
none of these fingerprints, so none of them moves a champion's training row into the
comparison window. And whatever the split, :func:`exclude_known` drops from the
comparison window every row whose fingerprint over the champion's columns is in the
champion's training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FINGERPRINTS_FILE",
    "SplitMemory",
    "exclude_known",
    "fingerprints",
    "unit_interval",
]

FINGERPRINTS_FILE = "split_fingerprints.json"
SIGNIFICANT_DIGITS = 12


def fingerprints(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One uint64 per row: a hash of the values of ``columns``, in that order.

    Numbers are hashed to 12 significant digits and everything else as text, so that the
    same applicant read from a CSV as ``int`` or as ``float`` (a column that gained a
    missing value), or written and read again, keeps its fingerprint. Missing values hash
    alike whatever their spelling.
    """
    canonical = pd.DataFrame(index=range(len(frame)))
    for name in columns:
        column = frame[name].reset_index(drop=True)
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            mantissa, exponent = _significant(column.to_numpy(dtype=float, na_value=np.nan))
            canonical[f"{name}\x00m"] = mantissa
            canonical[f"{name}\x00e"] = exponent
        else:
            canonical[name] = (
                column.astype(object)
                .where(column.notna(), None)
                .map(lambda v: None if v is None else str(v))
            )
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy(dtype=np.uint64)


def _significant(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each number to ``SIGNIFICANT_DIGITS`` digits, as (integer mantissa, decimal exponent).

    A CSV written and read again by another tool can move a float by one unit in the last
    place; rounding to 12 significant digits keeps the fingerprint (a one-ulp change
    crosses a rounding boundary with probability about 1e-4).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.abs(values)
        exponent = np.where(magnitude > 0, np.floor(np.log10(magnitude)), 0.0)
        scale = np.power(10.0, SIGNIFICANT_DIGITS - 1 - exponent)
        mantissa = np.round(values * scale)
    exponent = np.where(np.isfinite(values), exponent, np.nan)
    return mantissa, exponent


def unit_interval(hashes: np.ndarray) -> np.ndarray:
    """Hashes mapped to [0, 1): a row is held out when its value is below the test share."""
    return np.asarray(hashes, dtype=np.uint64) / float(2**64)


@dataclass(frozen=True)
class SplitMemory:
    """A version's training and held-out fingerprints over its own feature columns."""

    columns: tuple[str, ...]
    train: frozenset[int] = field(default_factory=frozenset)
    held_out: frozenset[int] = field(default_factory=frozenset)
    version: int | None = None

    @classmethod
    def of(cls, train: pd.DataFrame, held_out: pd.DataFrame, columns: Sequence[str]) -> SplitMemory:
        cols = tuple(map(str, columns))
        return cls(
            cols,
            frozenset(int(h) for h in fingerprints(train, cols)),
            frozenset(int(h) for h in fingerprints(held_out, cols)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "train": sorted(self.train),
            "held_out": sorted(self.held_out),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], version: int | None = None) -> SplitMemory:
        return cls(
            tuple(map(str, data["columns"])),
            frozenset(int(h) for h in data.get("train", ())),
            frozenset(int(h) for h in data.get("held_out", ())),
            version,
        )

    def covers(self, frame: pd.DataFrame) -> bool:
        """Whether ``frame`` has every column this memory was computed over."""
        return all(c in frame.columns for c in self.columns)

    def sides(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of the rows of ``frame`` this version trained on / held out."""
        if not self.covers(frame):
            none = np.zeros(len(frame), dtype=bool)
            return none, none.copy()
        keys = fingerprints(frame, self.columns)
        trained = np.fromiter((int(k) in self.train for k in keys), bool, len(keys))
        held = np.fromiter((int(k) in self.held_out for k in keys), bool, len(keys))
        return trained, held & ~trained


def exclude_known(frame: pd.DataFrame, memory: SplitMemory) -> tuple[np.ndarray, int]:
    """Rows of ``frame`` that ``memory``'s model never trained on, and how many were dropped."""
    trained, _ = memory.sides(frame)
    return ~trained, int(trained.sum())
