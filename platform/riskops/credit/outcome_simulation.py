"""Seeded decisions and outcomes for measuring the outcome tests (size, power, speed).

Decisions get PDs from a Beta distribution and grades at the PD quantiles (a rating
scale fitted on a development sample of the same distribution); outcomes are drawn as
independent Bernoulli defaults with the decision's PD, times a multiplier per grade for
the alternatives (e.g. default rates doubled in the two worst grades). A default is
dated uniformly within the horizon; a non-default is observed a few days after the
horizon ends, so every decision made ``horizon`` months before ``as_of`` is matured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from riskops.credit.outcomes import horizon_end

__all__ = ["simulate_outcomes", "synthetic_decisions"]


def synthetic_decisions(
    n: int,
    *,
    seed: int = 0,
    n_grades: int = 8,
    start: Any = "2023-01-01",
    days: int = 365,
    model_name: str = "credit_pd",
    model_version: str = "1",
    pd_beta: tuple[float, float] = (1.2, 12.0),
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``n`` decisions spread over ``days`` days from ``start``, and development counts.

    Returns the decisions frame (``id, decided_at, model_name, model_version, pd,
    grade``; ids ``"A0000000"``...) and the grade counts of an independent development
    sample of the same size drawn from the same PD distribution (the PSI's and the
    Herfindahl test's reference).
    """
    rng = np.random.default_rng(seed)
    a, b = pd_beta
    development = np.clip(rng.beta(a, b, n), 0.0003, 0.9997)
    edges = np.quantile(development, np.linspace(0.0, 1.0, n_grades + 1)[1:-1])
    labels = np.array([f"G{g}" for g in range(1, n_grades + 1)], dtype=object)
    pd_ = np.clip(rng.beta(a, b, n), 0.0003, 0.9997)
    grade = labels[np.searchsorted(edges, pd_, side="right")]
    dev_grade = labels[np.searchsorted(edges, development, side="right")]
    seconds = rng.integers(0, days * 86_400, n)
    decided = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(seconds), unit="s")
    decisions = pd.DataFrame(
        {
            "id": np.char.add("A", np.char.zfill(np.arange(n).astype(str), 7)).astype(object),
            "decided_at": decided,
            "model_name": model_name,
            "model_version": model_version,
            "pd": pd_,
            "grade": grade,
        }
    )
    values, counts = np.unique(dev_grade, return_counts=True)
    return decisions, {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def simulate_outcomes(
    decisions: pd.DataFrame,
    *,
    seed: int = 0,
    horizon_months: int = 12,
    default_multiplier: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Independent Bernoulli defaults with probability ``pd * multiplier[grade]`` (capped at 1).

    Returns ``id, default, observed_at``: defaults dated uniformly within the horizon,
    non-defaults observed 5 days after it ends.
    """
    rng = np.random.default_rng(seed)
    p = decisions["pd"].to_numpy(dtype=float)
    if default_multiplier:
        factor = decisions["grade"].map(dict(default_multiplier)).fillna(1.0).to_numpy(float)
        p = np.minimum(p * factor, 1.0)
    default = rng.random(len(p)) < p
    decided = decisions["decided_at"]
    end = horizon_end(decided, horizon_months)
    span = (end - decided).to_numpy(dtype="timedelta64[ns]").astype(np.int64)
    default_time = decided + pd.to_timedelta((rng.random(len(p)) * span).astype(np.int64))
    observed = default_time.where(default, end + pd.Timedelta(days=5))
    return pd.DataFrame(
        {
            "id": decisions["id"].to_numpy(),
            "default": default.astype(np.int8),
            "observed_at": observed,
        }
    )
