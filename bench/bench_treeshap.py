"""Exact Tree SHAP of the anomaly forest: compiled (riskops.treeshap) vs SHAP's C.

In process, on the bundled ensemble champion's specification (``make_detector("ensemble")``
fitted on ``us_indices``) and ``--rows`` rows sampled from its features (default 10,000):

1. the isolation-forest member's SHAP values: ours on every row (all CPUs, and one
   thread), SHAP's ``TreeExplainer.shap_values`` on ``--shap-rows`` of them (default 1,000;
   its cost per row is constant), per row and as a ratio, with the largest difference
   between the two on the rows both explained;
2. the whole ensemble request in one pass (``score_and_explain``: three members' scores,
   the forest's SHAP values, the LOF's neighbour search, the autoencoder, top-3 drivers),
   and its parts;
3. the service's path for that request without HTTP: the JSON body parsed and validated,
   ``riskops.anomaly.serving.score`` (features, one pass, answer and inference-log
   rows), the answer encoded;
4. the credit champion's specification (``LightGBMPD``, 300 trees, fitted on the bundled
   ``credit_data``): SHAP values of 1,000 applicants and of one, ours against LightGBM's
   own ``pred_contrib`` (both on one thread), and ``score_records`` (PD, grade and 4
   reason codes) for 1,000 applicants, as the service runs it.

    .venv/bin/python bench/bench_treeshap.py [--rows 10000] [--shap-rows 1000]

Prints a table and writes ``bench/results/bench_treeshap.json``. Wall and CPU seconds are
recorded with the machine's load average: on a shared machine, wall times are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "bench_treeshap.json"


def _timed(compute: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    value = compute()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def _service_path(ensemble: Any, sample: Any) -> dict[str, Any]:
    """The service's work for one request without HTTP: parse and validate the JSON body,
    score and explain (``riskops.anomaly.serving.score``), encode the answer."""
    import sys

    sys.path.insert(0, str(ROOT))
    from riskops.anomaly import serving as anomaly_route
    from riskops.serving.route import Champion

    state = anomaly_route.prepare(ensemble)
    champion = Champion(
        "market_anomaly", 1, "run", "anomaly", "EnsembleDetector", ensemble, state, time.time()
    )
    body = json.dumps({"rows": sample.to_dict("records")}).encode()
    request, parse_wall, parse_cpu = _timed(
        lambda: anomaly_route.AnomalyRequest.model_validate_json(body)
    )
    (answer, _), score_wall, score_cpu = _timed(
        lambda: anomaly_route.score(champion, request, "bench")
    )
    _, encode_wall, encode_cpu = _timed(lambda: json.dumps(answer))
    return {
        "rows": len(sample),
        "body_bytes": len(body),
        "parse_seconds": round(parse_wall, 3),
        "score_anomaly_seconds": round(score_wall, 3),
        "encode_seconds": round(encode_wall, 3),
        "total_seconds": round(parse_wall + score_wall + encode_wall, 3),
        "total_cpu_seconds": round(parse_cpu + score_cpu + encode_cpu, 3),
    }


def _median_seconds(compute: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        compute()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _credit() -> dict[str, Any]:
    """LightGBM PD model: compiled Tree SHAP against LightGBM's pred_contrib, one thread."""
    from riskops.credit.models import LightGBMPD
    from riskops.data.credit import load_credit
    from riskops.treeshap import PathDependentTreeShap

    data = load_credit()
    X, y = data.frame[data.features], data.y
    model = LightGBMPD().fit(X, y)
    records = X.sample(1000, replace=True, random_state=0).to_dict("records")
    Z = model.encoder_.transform_records(records)
    ours = PathDependentTreeShap.from_lightgbm(model.booster_)
    booster = model.booster_
    reference = booster.predict(Z, pred_contrib=True, num_threads=1)
    out: dict[str, Any] = {
        "trees": booster.num_trees(),
        "max_abs_difference": float(np.abs(ours.shap_values(Z) - reference[:, :-1]).max()),
    }
    for rows, repeats in ((1000, 11), (1, 301)):
        mine = _median_seconds(lambda r=rows: ours.shap_values(Z[:r], n_threads=1), repeats)
        theirs = _median_seconds(
            lambda r=rows: booster.predict(Z[:r], pred_contrib=True, num_threads=1), repeats
        )
        out[f"shap_{rows}_rows"] = {
            "ours_ms": round(1000 * mine, 3),
            "lightgbm_pred_contrib_ms": round(1000 * theirs, 3),
            "ratio": round(theirs / mine, 1),
        }
    model.score_records(records[:10])  # warm-up: the explainer's tables
    out["score_records_1000_ms"] = round(
        1000 * _median_seconds(lambda: model.score_records(records, k=4), 11), 1
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--shap-rows", type=int, default=1_000)
    args = parser.parse_args()
    # numba's compiled kernels are cached under the home: a scratch one, not the checkout.
    scratch = tempfile.mkdtemp(prefix="riskops-bench-treeshap-")
    os.environ.setdefault("RISKOPS_HOME", scratch)

    import shap

    from riskops.anomaly.family import make_detector
    from riskops.anomaly.features import build_features
    from riskops.data.market import load_market
    from riskops.treeshap import PathDependentTreeShap

    result: dict[str, Any] = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count()}
    features = build_features(load_market(bundled="us_indices"))
    ensemble = make_detector("ensemble", 0.01, 42).fit(features)
    sample = features.sample(args.rows, replace=True, random_state=0).reset_index(drop=True)
    Z = sample.to_numpy(dtype=float)
    forest = ensemble.members_["isolation_forest"].forest_

    ours, build_wall, _ = _timed(lambda: PathDependentTreeShap.from_model(forest))
    theirs = shap.TreeExplainer(forest)
    ours.shap_values(Z[:10])  # load the compiled kernel
    phi, wall, cpu = _timed(lambda: ours.shap_values(Z))
    _, wall_one, _ = _timed(lambda: ours.shap_values(Z, n_threads=1))
    n_shap = min(args.shap_rows, len(Z))
    reference, shap_wall, shap_cpu = _timed(lambda: theirs.shap_values(Z[:n_shap]))
    per_row = {
        "ours_ms_per_row": 1000 * wall / len(Z),
        "ours_one_thread_ms_per_row": 1000 * wall_one / len(Z),
        "ours_cpu_ms_per_row": 1000 * cpu / len(Z),
        "shap_ms_per_row": 1000 * shap_wall / n_shap,
        "shap_cpu_ms_per_row": 1000 * shap_cpu / n_shap,
    }
    result["forest_shap"] = {
        "trees": len(forest.estimators_),
        "rows": len(Z),
        "shap_rows": n_shap,
        "ours_seconds": round(wall, 3),
        "ours_one_thread_seconds": round(wall_one, 3),
        "build_seconds": round(build_wall, 2),
        **{key: round(value, 4) for key, value in per_row.items()},
        "shap_seconds_for_these_rows_extrapolated": round(
            per_row["shap_ms_per_row"] * len(Z) / 1000, 2
        ),
        "ratio_shap_over_ours_wall": round(
            per_row["shap_ms_per_row"] / per_row["ours_ms_per_row"], 1
        ),
        "ratio_shap_over_ours_one_thread_wall": round(
            per_row["shap_ms_per_row"] / per_row["ours_one_thread_ms_per_row"], 1
        ),
        "ratio_shap_over_ours_cpu": round(
            per_row["shap_cpu_ms_per_row"] / per_row["ours_cpu_ms_per_row"], 1
        ),
        "max_abs_difference": float(np.abs(phi[:n_shap] - reference).max()),
    }
    print("forest SHAP:", result["forest_shap"], flush=True)

    ensemble.score_and_explain(sample.head(10), 3)  # warm-up: explainer cache
    parts: dict[str, Any] = {}
    for name, member in ensemble.members_.items():
        _, w, c = _timed(lambda m=member: m._score_and_shares(Z))
        parts[name] = {"seconds": round(w, 3), "cpu_seconds": round(c, 3)}
    _, w, c = _timed(lambda: ensemble.score_and_explain(sample, 3))
    result["ensemble_request"] = {
        "rows": len(Z),
        "score_and_explain_seconds": round(w, 3),
        "score_and_explain_cpu_seconds": round(c, 3),
        "members_score_and_shares": parts,
    }
    print("ensemble, one pass:", result["ensemble_request"], flush=True)
    result["service_path"] = _service_path(ensemble, sample)
    print("ensemble, the service's path:", result["service_path"], flush=True)
    result["credit"] = _credit()
    print("credit:", result["credit"], flush=True)
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
