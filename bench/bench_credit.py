"""Credit PD family on the bundled data: training cost, accuracy, and the scoring fast path.

1. ``CreditFamily.fit`` per model (split, cross-fitted calibration, fit, validation,
   SHAP artifacts, plots, reason codes) on the bundled ``credit_data`` (4,454
   applicants), seed 42, after the heavy libraries are imported (their import time is
   reported on its own line, it is paid once per process). The model fit alone is
   timed too, so the share of the SHAP and plot artifacts is visible.
2. One applicant, scored with PD, grade and four reason codes, two ways in the same
   run: the DataFrame path (a one-row frame through ``explain`` and ``reason_codes``)
   and ``score_records`` (a JSON-like dict straight to a float matrix). Median and p99
   of repeated calls, and their ratio.
3. A batch of 1,000 applicants through ``score_records``.

Run: ``.venv/bin/python bench/bench_credit.py`` (about a minute on two cores). The
machine's load average is recorded: other processes on the same cores inflate every
absolute figure, the ratios much less.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SEED = 42
SINGLE_CALLS = 300
BATCH = 1000


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _latency(call: Any, n: int) -> dict[str, float]:
    call()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 4),
        "p99_ms": round(_percentile(samples, 0.99), 4),
    }


def main() -> None:
    t0 = time.perf_counter()
    import lightgbm  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import shap  # noqa: F401

    from riskops.credit.family import CreditFamily
    from riskops.credit.models import MODEL_KINDS
    from riskops.data.credit import load_credit
    from riskops.families.base import TrainOptions

    dataset = load_credit()
    import_s = time.perf_counter() - t0

    family = CreditFamily()
    train, test, _ = family.split(dataset, 0.25, SEED)
    rows: list[dict[str, Any]] = []
    models: dict[str, Any] = {}
    for kind in family.models:
        with tempfile.TemporaryDirectory() as workdir:
            t0 = time.perf_counter()
            outcome = family.fit(dataset, TrainOptions(model=kind, seed=SEED), Path(workdir))
            total_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        MODEL_KINDS[kind](random_state=SEED).fit(train.X, train.y)
        model_fit_s = time.perf_counter() - t0
        models[kind] = outcome.estimator
        rows.append(
            {
                "model": kind,
                "auc": round(outcome.metrics["auc"], 4),
                "ks": round(outcome.metrics["ks"], 4),
                "ece": round(outcome.metrics["ece"], 4),
                "psi": round(outcome.metrics["psi"], 4),
                "grades_monotone": outcome.metrics["grades_monotone"],
                "family_fit_s": round(total_s, 2),
                "model_fit_s": round(model_fit_s, 2),
                "artifacts_s": round(total_s - model_fit_s, 2),
            }
        )

    X = test.X
    one_row = X.iloc[[0]]
    record = one_row.astype(object).where(one_row.notna(), None).to_dict("records")[0]
    batch = X.astype(object).where(X.notna(), None).to_dict("records")
    batch = (batch * (BATCH // len(batch) + 1))[:BATCH]
    scoring = []
    for kind, model in models.items():

        def frame_path(model: Any = model) -> Any:
            explanation = model.explain(one_row)
            grade = model.grade(explanation.pd)
            return explanation.pd, grade, model.reason_codes(one_row, k=4)

        def records_path(model: Any = model) -> Any:
            return model.score_records([record], k=4)

        frame_ms = _latency(frame_path, SINGLE_CALLS)
        records_ms = _latency(records_path, SINGLE_CALLS)
        t0 = time.perf_counter()
        model.score_records(batch, k=4)
        batch_s = time.perf_counter() - t0
        scoring.append(
            {
                "model": kind,
                "frame_median_ms": frame_ms["median_ms"],
                "frame_p99_ms": frame_ms["p99_ms"],
                "records_median_ms": records_ms["median_ms"],
                "records_p99_ms": records_ms["p99_ms"],
                "speedup_median": round(frame_ms["median_ms"] / records_ms["median_ms"], 1),
                "batch_1000_s": round(batch_s, 3),
            }
        )

    result = {
        "dataset": dataset.describe()["name"],
        "rows": len(dataset.frame),
        "seed": SEED,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "import_and_load_s": round(import_s, 2),
        "training": rows,
        "scoring": scoring,
    }
    _print(result)
    out = Path(__file__).parent / "results" / "bench_credit.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out}")


def _print(result: dict[str, Any]) -> None:
    print(
        f"credit_data ({result['rows']} rows), seed {result['seed']}, "
        f"{result['cpu_count']} cores, load {result['load_average_1m']}; "
        f"imports + data load {result['import_and_load_s']} s (once per process)\n"
    )
    header = ["model", "auc", "ks", "ece", "psi", "monotone", "family_fit_s", "model_s", "art_s"]
    print("".join(f"{h:>14}" for h in header))
    for r in result["training"]:
        values = [
            r["model"],
            r["auc"],
            r["ks"],
            r["ece"],
            r["psi"],
            r["grades_monotone"],
            r["family_fit_s"],
            r["model_fit_s"],
            r["artifacts_s"],
        ]
        print("".join(f"{v:>14}" for v in values))
    print("\none applicant, PD + grade + 4 reason codes (ms); batch of 1,000 via score_records")
    header = ["model", "frame_med", "frame_p99", "records_med", "records_p99", "x", "batch_s"]
    print("".join(f"{h:>14}" for h in header))
    for r in result["scoring"]:
        values = [
            r["model"],
            r["frame_median_ms"],
            r["frame_p99_ms"],
            r["records_median_ms"],
            r["records_p99_ms"],
            r["speedup_median"],
            r["batch_1000_s"],
        ]
        print("".join(f"{v:>14}" for v in values))


if __name__ == "__main__":
    main()
