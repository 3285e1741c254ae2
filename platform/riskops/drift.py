"""Drift measurement with Evidently's current API (``evidently.Report``), sized for a gate.

Evidently's full ``DataDriftPreset`` took 11-13 s on 100k x 20 rows here. The gate needs
only the per-column drift tests, so it runs one ``ValueDrift``-type metric per column, with
Evidently's own per-column test (drift detected or not), on seeded samples of at most
``max_rows`` rows per side; the share of drifted columns is what the preset's
``DriftedColumnsCount`` reports. Above 1,000 rows Evidently picks the same tests as on the
full data (normed Wasserstein for numbers, Jensen-Shannon for categories), whose
statistics a few thousand rows estimate well: ``bench/bench_drift.py`` checks that the
decisions agree with the full preset.

The gate's metric is ``riskops.drift_metric.GateValueDrift``: Evidently's ``ValueDrift``
calculation and test without the two plotly figures per column that Evidently draws on
every run (most of the gate's time). ``plots=True`` runs Evidently's own ``ValueDrift``
instead; the monitor does, since its runs go to the Evidently workspace, whose dashboard
panels select ``ValueDrift``. The run's ``Snapshot`` is kept on the result (not in
``to_dict``): its HTML, or a run in a workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DriftResult:
    share_of_drifted_columns: float
    dataset_drift: bool
    drift_share_threshold: float
    drifted_columns: list[str]
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_reference: int = 0
    n_current: int = 0
    sampled_rows: int = 0
    snapshot: Any = field(default=None, repr=False, compare=False)
    """Evidently's ``Snapshot`` of the run: its HTML, or a run in a workspace."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "snapshot"}


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    drift_share: float = 0.5,
    max_rows: int = 5000,
    seed: int = 0,
    stattest: str | None = None,
    threshold: float | None = None,
    html_path: Path | None = None,
    plots: bool = False,
) -> DriftResult:
    """Evidently's per-column drift tests on seeded samples of both frames.

    ``plots`` adds Evidently's per-column figures to the snapshot (``ValueDrift``); the
    decisions, scores and tests are the same either way.
    """
    from evidently import Report
    from evidently.metrics import ValueDrift

    from riskops.drift_metric import GateValueDrift

    metric = ValueDrift if plots else GateValueDrift

    columns = [c for c in reference.columns if c in current.columns]
    ref = _sample(reference[columns], max_rows, seed)
    cur = _sample(current[columns], max_rows, seed + 1)
    report = Report(
        [metric(column=c, method=stattest, threshold=threshold) for c in columns],
        include_tests=True,
    )
    snapshot = report.run(current_data=cur, reference_data=ref)
    result = snapshot.dict()
    # Each metric carries Evidently's own test (FAIL = drift detected) and, once run,
    # the method and threshold it resolved for the column's type and size.
    detected = {
        t["metric_config"]["params"]["column"]: str(t["status"]).endswith("FAIL")
        for t in result["tests"]
    }
    per_column = {
        m["config"]["column"]: {
            "stattest": m["config"]["method"],
            "threshold": float(m["config"]["threshold"]),
            "score": float(m["value"]),
            "drifted": detected[m["config"]["column"]],
        }
        for m in result["metrics"]
    }
    if html_path is not None:
        snapshot.save_html(str(html_path))
    share = sum(c["drifted"] for c in per_column.values()) / len(per_column) if per_column else 0.0
    return DriftResult(
        share_of_drifted_columns=float(share),
        # Evidently's rule for dataset drift (DriftedColumnsCount's test): share >= threshold.
        dataset_drift=float(share) >= drift_share,
        drift_share_threshold=drift_share,
        drifted_columns=sorted(n for n, c in per_column.items() if c["drifted"]),
        columns=per_column,
        n_reference=len(reference),
        n_current=len(current),
        sampled_rows=max(len(ref), len(cur)),
        snapshot=snapshot,
    )


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index with decile bins of ``expected``.

    ``eps`` floors empty bins so that the logarithm stays finite.
    """
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    expected, actual = expected[np.isfinite(expected)], actual[np.isfinite(actual)]
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(actual, expected[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.maximum(e, eps), np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def category_psi(expected: pd.Series, actual: pd.Series, eps: float = 1e-4) -> float:
    """PSI of two samples of a categorical output (rating grades): the shares of each
    category either sample holds, a share below ``eps`` raised to it."""
    e = expected.value_counts(normalize=True)
    a = actual.value_counts(normalize=True)
    categories = e.index.union(a.index)
    e_share = np.maximum(e.reindex(categories, fill_value=0.0).to_numpy(dtype=float), eps)
    a_share = np.maximum(a.reindex(categories, fill_value=0.0).to_numpy(dtype=float), eps)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def prediction_drift(challenger: pd.Series, champion: pd.Series) -> dict[str, Any]:
    """How far the challenger's outputs move from the champion's on the same rows."""
    both = pd.concat([challenger.rename("challenger"), champion.rename("champion")], axis=1)
    both = both.replace([np.inf, -np.inf], np.nan).dropna()
    corr = float(both.corr(method="spearman").to_numpy()[0, 1]) if len(both) > 2 else float("nan")
    return {
        "psi": psi(both["champion"].to_numpy(), both["challenger"].to_numpy()),
        "spearman": float(corr),
        "n": len(both),
        "mean_challenger": float(both["challenger"].mean()),
        "mean_champion": float(both["champion"].mean()),
    }


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    return frame.sample(max_rows, random_state=seed).reset_index(drop=True)


def measure_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame | None,
    window: dict[str, Any],
    policy: Any,
    html_path: Path,
) -> dict[str, Any]:
    """The ``data_drift`` evidence: Evidently's tests, or ``"evaluated": false`` with why."""
    rule = policy.data_drift
    if current is None:
        return {
            "evaluated": False,
            "reason": window["reason"],
            "share_of_drifted_columns": None,
            "drifted_columns": [],
            "window": {k: v for k, v in window.items() if k != "reason"},
        }
    columns = [c for c in reference.columns if c in current.columns]
    empty = [c for c in columns if current[c].isna().all() or reference[c].isna().all()]
    usable = [c for c in columns if c not in empty]
    result: dict[str, Any]
    if not usable:
        share, result = 1.0, {"drifted_columns": [], "columns": {}}
    else:
        measured = data_drift(
            reference[usable],
            current[usable],
            drift_share=rule.max_drift_share,
            max_rows=rule.max_rows,
            stattest=rule.stattest,
            threshold=rule.threshold,
            html_path=html_path,
        ).to_dict()
        result = measured
        share = float(measured["share_of_drifted_columns"])
    if empty:
        # A feature that arrives without any value is the strongest drift there is.
        drifted = sorted({*result["drifted_columns"], *empty})
        share = len(drifted) / len(columns)
        result = {
            **result,
            "drifted_columns": drifted,
            "columns_without_values": empty,
            "dataset_drift": share >= rule.max_drift_share,
        }
    return {**result, "share_of_drifted_columns": share, "evaluated": True, "window": window}
