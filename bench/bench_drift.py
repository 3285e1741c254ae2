"""Drift gate vs Evidently's full DataDriftPreset on 100k x 20 rows, side by side.

Scenarios cover no drift, drift below and above the share threshold, and drift in a
few columns only, with numeric and categorical columns. Reports both timings, their
ratio, and whether the decisions (dataset drift at share 0.5) agree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROWS, NUMERIC, CATEGORICAL = 100_000, 17, 3


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


def full_preset(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[float, bool]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset(drift_share=0.5)]).run(
        current_data=current, reference_data=reference
    )
    value = snapshot.dict()["metrics"][0]["value"]
    return float(value["share"]), float(value["share"]) >= 0.5


def main() -> None:
    from riskops.drift import data_drift

    data_drift(*frames(0, 0.0, 0))  # import Evidently once, outside the timings
    full_preset(*(f.head(2000) for f in frames(0, 0.0, 0)))
    scenarios = {
        "no drift": (0, 0.0),
        "4 of 20 columns shifted 0.5 sd": (4, 0.5),
        "9 of 20 shifted 0.3 sd": (9, 0.3),
        "12 of 20 shifted 0.3 sd": (12, 0.3),
        "17 of 20 shifted 1 sd": (17, 1.0),
    }
    rows = []
    for name, (cols, shift) in scenarios.items():
        reference, current = frames(cols, shift, seed=cols)
        t0 = time.perf_counter()
        gate = data_drift(reference, current, drift_share=0.5)
        t_gate = time.perf_counter() - t0
        t0 = time.perf_counter()
        share_full, drift_full = full_preset(reference, current)
        t_full = time.perf_counter() - t0
        rows.append(
            {
                "scenario": name,
                "gate_seconds": round(t_gate, 3),
                "full_seconds": round(t_full, 3),
                "speedup": round(t_full / t_gate, 1),
                "gate_share": gate.share_of_drifted_columns,
                "full_share": share_full,
                "gate_drift": gate.dataset_drift,
                "full_drift": drift_full,
                "same_decision": gate.dataset_drift == drift_full,
            }
        )
        print(
            f"{name:34s} gate {t_gate:6.2f}s  full {t_full:6.2f}s  x{t_full / t_gate:5.1f}  "
            f"share {gate.share_of_drifted_columns:.2f} vs {share_full:.2f}  "
            f"same decision: {gate.dataset_drift == drift_full}"
        )
    out = Path(__file__).parent / "results" / "bench_drift.json"
    out.parent.mkdir(exist_ok=True)
    payload = {"rows": ROWS, "columns": NUMERIC + CATEGORICAL, "scenarios": rows}
    out.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
