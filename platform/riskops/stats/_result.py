"""The common base of the statistics' frozen results: a JSON-ready ``to_dict``."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """NumPy scalars as Python numbers, tuples as lists, non-finite floats as ``None``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


class Result:
    """Mixin of the frozen result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-serialisable (non-finite numbers become ``None``)."""
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]
