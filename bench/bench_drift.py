"""Drift gate vs Evidently's full DataDriftPreset on 100k x 20 rows, side by side.

Scenarios cover no drift, drift below and above the share threshold, and drift in a
few columns only, with numeric and categorical columns. In each scenario, in one process:

* ``gate``: ``riskops.drift.data_drift`` as the lifecycle runs it (the policy's default
  5,000-row seeded sample a side; RiskOps's ``GateValueDrift``, i.e. Evidently's
  ``ValueDrift`` calculation and test without its two plotly figures per column);
* ``value_drift``: the same call with ``plots=True``, Evidently's own ``ValueDrift`` with its
  figures on the same sample (the gate before ``GateValueDrift``; what the monitor runs);
* ``gate_all_rows``: the gate on all 100k rows a side (``max_rows`` = rows), what the gate
  would cost without its sample;
* ``full``: Evidently's ``DataDriftPreset`` on all rows.

Each is timed in wall seconds (``time.perf_counter``) and CPU seconds of this process
(``time.process_time``, which a loaded machine disturbs less); the load average is recorded
before each scenario. Checks per scenario: the gate's dataset-drift decision, drifted
columns and stattests equal the full preset's; the gate equals ``ValueDrift`` on the same
rows exactly (scores, tests); the gate on all rows has the preset's scores exactly; and
how far the sampled scores are from the all-rows scores.

    .venv/bin/python bench/bench_drift.py    # writes bench/results/bench_drift.json
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROWS, NUMERIC, CATEGORICAL = 100_000, 17, 3
DRIFT_SHARE = 0.5


def frames(shifted_columns: int, shift: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def make(offset: np.ndarray, cat_p: list[float]) -> pd.DataFrame:
        data = {f"x{i}": rng.normal(offset[i], 1.0, ROWS) for i in range(NUMERIC)}
        for j in range(CATEGORICAL):
            data[f"c{j}"] = rng.choice(["a", "b", "c", "d"], ROWS, p=cat_p)
        return pd.DataFrame(data)

    reference = make(np.zeros(NUMERIC), [0.4, 0.3, 0.2, 0.1])
    offset = np.zeros(NUMERIC)
    offset[:shifted_columns] = shift
    current = make(offset, [0.4, 0.3, 0.2, 0.1])
    return reference, current


def full_preset(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """Evidently's DataDriftPreset: share, decision and each column's stattest/score/test."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset(drift_share=DRIFT_SHARE)], include_tests=True).run(
        current_data=current, reference_data=reference
    )
    result = snapshot.dict()
    share_metric, *per_column = result["metrics"]
    drifted = {
        t["metric_config"]["params"]["column"]
        for t in result["tests"]
        if "column" in t["metric_config"]["params"] and str(t["status"]).endswith("FAIL")
    }
    share = float(share_metric["value"]["share"])
    return {
        "share": share,
        "dataset_drift": share >= DRIFT_SHARE,
        "drifted_columns": sorted(drifted),
        "columns": {
            m["config"]["column"]: {"stattest": m["config"]["method"], "score": float(m["value"])}
            for m in per_column
        },
    }


def timed(run: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """``run(*args, **kwargs)`` with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = run(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"load average: {load_average()}"


def main() -> None:
    from riskops.drift import data_drift

    # Import Evidently and warm every path once, outside the timings.
    small = [f.head(2000) for f in frames(0, 0.0, 0)]
    data_drift(*small)
    data_drift(*small, plots=True)
    full_preset(*small)
    scenarios = {
        "no drift": (0, 0.0),
        "4 of 20 columns shifted 0.5 sd": (4, 0.5),
        "9 of 20 shifted 0.3 sd": (9, 0.3),
        "12 of 20 shifted 0.3 sd": (12, 0.3),
        "17 of 20 shifted 1 sd": (17, 1.0),
    }
    started = {"utc": datetime.now(UTC).isoformat(timespec="seconds"), "uptime": uptime()}
    print(started["uptime"])
    print(
        f"{'scenario':32s} {'gate':>12s} {'ValueDrift':>12s} {'gate, all':>12s} {'full':>13s}"
        f" {'full/gate':>10s}  same decision/columns"
    )
    print(f"{'':32s}" + " wall/cpu s" * 2 + "  wall/cpu s   wall/cpu s")
    rows = []
    for name, (cols, shift) in scenarios.items():
        reference, current = frames(cols, shift, seed=cols)
        load = load_average()
        both = (reference, current)
        gate, gate_wall, gate_cpu = timed(data_drift, *both, drift_share=DRIFT_SHARE)
        plotted, vd_wall, vd_cpu = timed(data_drift, *both, drift_share=DRIFT_SHARE, plots=True)
        every, all_wall, all_cpu = timed(data_drift, *both, drift_share=DRIFT_SHARE, max_rows=ROWS)
        full, full_wall, full_cpu = timed(full_preset, *both)
        same_decision = gate.dataset_drift == full["dataset_drift"]
        same_columns = gate.drifted_columns == full["drifted_columns"]
        same_stattests = {c: v["stattest"] for c, v in gate.columns.items()} == {
            c: v["stattest"] for c, v in full["columns"].items()
        }
        rows.append(
            {
                "scenario": name,
                "load_average_before": load,
                "gate_seconds": round(gate_wall, 3),
                "gate_cpu_seconds": round(gate_cpu, 3),
                "value_drift_seconds": round(vd_wall, 3),
                "value_drift_cpu_seconds": round(vd_cpu, 3),
                "gate_all_rows_seconds": round(all_wall, 3),
                "gate_all_rows_cpu_seconds": round(all_cpu, 3),
                "full_seconds": round(full_wall, 3),
                "full_cpu_seconds": round(full_cpu, 3),
                "full_over_gate": round(full_wall / gate_wall, 1),
                "full_over_gate_cpu": round(full_cpu / gate_cpu, 1),
                "value_drift_over_gate_cpu": round(vd_cpu / gate_cpu, 1),
                "sampled_rows": gate.sampled_rows,
                "gate_share": gate.share_of_drifted_columns,
                "full_share": full["share"],
                "gate_drift": gate.dataset_drift,
                "full_drift": full["dataset_drift"],
                "gate_drifted_columns": gate.drifted_columns,
                "full_drifted_columns": full["drifted_columns"],
                "same_decision": same_decision,
                "same_drifted_columns": same_columns,
                "same_stattests": same_stattests,
                "gate_identical_to_value_drift_same_rows": gate.columns == plotted.columns,
                "gate_all_rows_scores_identical_to_full": all(
                    every.columns[c]["score"] == v["score"] for c, v in full["columns"].items()
                ),
                "max_abs_score_difference_sample_vs_all_rows": round(
                    max(
                        abs(gate.columns[c]["score"] - v["score"])
                        for c, v in full["columns"].items()
                    ),
                    4,
                ),
            }
        )
        print(
            f"{name:32s} {gate_wall:5.2f}/{gate_cpu:5.2f} {vd_wall:5.2f}/{vd_cpu:5.2f}"
            f" {all_wall:5.2f}/{all_cpu:5.2f} {full_wall:6.2f}/{full_cpu:5.2f}"
            f" {full_wall / gate_wall:5.1f}x/{full_cpu / gate_cpu:4.1f}x"
            f"  {same_decision}/{same_columns}  (load {load[0]:.1f})",
            flush=True,
        )
    finished = {"utc": datetime.now(UTC).isoformat(timespec="seconds"), "uptime": uptime()}
    print(finished["uptime"])
    out = Path(__file__).parent / "results" / "bench_drift.json"
    out.parent.mkdir(exist_ok=True)
    payload = {
        "rows": ROWS,
        "columns": NUMERIC + CATEGORICAL,
        "drift_share": DRIFT_SHARE,
        "cpus": os.cpu_count(),
        "started": started,
        "finished": finished,
        "scenarios": rows,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
