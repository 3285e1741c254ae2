"""Large batches: what they cost, and what they cost everyone else while they run.

1. In process, per anomaly detector (the four of the family, fitted on ``us_indices``):
   scores plus top-3 drivers for ``--anomaly-rows`` rows (default 10,000) in one pass
   (``score_and_explain``, what the service runs).
2. Over HTTP, on ``riskops serve`` with a credit champion (LightGBM) and an anomaly
   champion (``--anomaly-model``, default the ensemble, the family's default) trained and
   promoted into a fresh ``RISKOPS_HOME`` (or ``--home`` reuses one):

   * a batch of 1,000 applicants with 4 reason codes (median of 10);
   * the largest allowed anomaly request (``max_rows`` feature rows, 10,000, or
     ``--anomaly-request-rows``), sent by ``curl`` three times with nothing else running
     (median; BentoML's 120 s request timeout applies);
   * while that request runs once more, single-applicant credit requests from 4
     connections: p50/p99 latency and timeouts (5 s), against the same requests on the
     idle service.

    .venv/bin/python bench/bench_large_batches.py [--home DIR] [--anomaly-rows 10000]

Prints a table and writes ``bench/results/bench_large_batches.json``. The machine's load
is recorded with the figures: on a shared machine, they are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serving import _environment, _free_port, applicant, batch, server

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "bench_large_batches.json"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(rows: int) -> dict[str, Any]:
    """Score + drivers per detector, in this process, as the service computes them."""
    from riskops.anomaly.family import AnomalyFamily, make_detector
    from riskops.anomaly.features import build_features
    from riskops.data.market import load_market

    features = build_features(load_market(bundled="us_indices"))
    sample = features.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    out: dict[str, Any] = {}
    for model in AnomalyFamily.models:
        detector = make_detector(model, 0.01, 42).fit(features)
        detector.score_and_explain(sample.head(20), 3)  # warm-up (the explainer's tables)
        started = time.perf_counter()
        detector.score_and_explain(sample, 3)
        elapsed = time.perf_counter() - started
        out[model] = {
            "rows": rows,
            "score_and_drivers_seconds": round(elapsed, 3),
            "ms_per_row": round(1000 * elapsed / rows, 3),
            "seconds_for_10000_rows": round(10_000 * elapsed / rows, 2),
        }
        print(f"{model:>16}: {out[model]}", flush=True)
    return out


def build_home(home: Path, anomaly_model: str) -> dict[str, Any]:
    os.environ.update(_environment(home))
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    life = Lifecycle(Settings())
    versions = {}
    for family, options in (
        ("credit", TrainOptions()),
        ("anomaly", TrainOptions(model=anomaly_model)),
    ):
        trained = life.train(family, options=options)
        if life.promote(trained.name, trained.version).refused:
            life.promote(trained.name, trained.version, force=True, reason="batch benchmark")
        versions[trained.name] = trained.version
    return versions


def over_http(home: Path, anomaly_rows: int | None, port: int | None = None) -> dict[str, Any]:
    import httpx

    port = port or _free_port()
    command = [str(BIN / "riskops"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    one = {"applicants": [applicant()]}
    thousand = {"applicants": batch(1000), "reasons": 4}
    out: dict[str, Any] = {}
    with server("riskops", command, home, port, "/readyz"), httpx.Client(timeout=300) as client:
        models = {m["name"]: m for m in client.get(f"{url}/models").json()["models"]}
        names = list(models["market_anomaly"]["request_schema"]["properties"])
        max_rows = int(models["market_anomaly"]["max_rows"])
        from riskops.anomaly.features import build_features
        from riskops.data.market import load_market

        features = build_features(load_market(bundled="us_indices"))[names]
        n_rows = min(anomaly_rows or max_rows, max_rows)
        rows = features.sample(n_rows, replace=True, random_state=1).to_dict("records")
        anomaly_body = json.dumps({"rows": rows}).encode()
        out["anomaly_body_bytes"] = len(anomaly_body)

        timings = []
        for _ in range(10):
            started = time.perf_counter()
            answer = client.post(f"{url}/credit/score", json=thousand)
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
        out["credit_1000_ms_median"] = round(1000 * statistics.median(timings), 1)
        print("credit, 1,000 applicants:", out["credit_1000_ms_median"], "ms", flush=True)

        def credit_latencies(stop: threading.Event, sink: list[float], errors: list[str]) -> None:
            with httpx.Client(timeout=5) as own:
                while not stop.is_set():
                    started = time.perf_counter()
                    try:
                        answer = own.post(f"{url}/credit/score", json=one)
                        if answer.status_code != 200:
                            errors.append(str(answer.status_code))
                    except httpx.HTTPError as exc:
                        errors.append(type(exc).__name__)
                    sink.append(time.perf_counter() - started)

        def drive(seconds: float | None, during: Any = None) -> dict[str, Any]:
            stop = threading.Event()
            sinks: list[list[float]] = [[] for _ in range(4)]
            errors: list[str] = []
            threads = [
                threading.Thread(target=credit_latencies, args=(stop, s, errors)) for s in sinks
            ]
            for t in threads:
                t.start()
            extra = during() if during is not None else time.sleep(seconds or 0)
            stop.set()
            for t in threads:
                t.join()
            latencies = [v for s in sinks for v in s]
            return {
                "requests": len(latencies),
                "p50_ms": round(1000 * _percentile(latencies, 0.5), 1),
                "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
                "max_ms": round(1000 * max(latencies), 1) if latencies else None,
                "errors": len(errors),
                "during": extra,
            }

        body_file = home / "bench-anomaly-body.json"
        body_file.write_bytes(anomaly_body)

        def large_anomaly() -> dict[str, Any]:
            # curl in its own process: an HTTP client sharing this process's GIL with the
            # credit threads would time its own waits, not the service.
            done = subprocess.run(
                [
                    "curl",
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %{time_total}",
                    "-H",
                    "content-type: application/json",
                    "--data-binary",
                    f"@{body_file}",
                    "--max-time",
                    "600",
                    f"{url}/anomaly/score",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            status, seconds = done.stdout.split()
            return {"rows": len(rows), "status": int(status), "seconds": round(float(seconds), 2)}

        alone = [large_anomaly() for _ in range(3)]
        out["anomaly_largest_request_alone"] = {
            "rows": len(rows),
            "statuses": sorted({a["status"] for a in alone}),
            "seconds_median": statistics.median(a["seconds"] for a in alone),
            "seconds": [a["seconds"] for a in alone],
        }
        print("anomaly, largest request alone:", out["anomaly_largest_request_alone"], flush=True)
        out["credit_single_idle"] = drive(5.0)
        print("credit, single, idle:", out["credit_single_idle"], flush=True)
        out["credit_single_during_largest_anomaly"] = drive(None, large_anomaly)
        out["anomaly_largest_request"] = out["credit_single_during_largest_anomaly"].pop("during")
        out["credit_single_idle"].pop("during")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--anomaly-rows", type=int, default=10_000)
    parser.add_argument("--anomaly-model", default="ensemble")
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument(
        "--anomaly-request-rows",
        type=int,
        help="rows of the large anomaly request (default: max_rows of GET /models)",
    )
    parser.add_argument("--port", type=int, help="port of the server (default: a free one)")
    args = parser.parse_args()
    result: dict[str, Any] = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="riskops-bench-batches-") as scratch:
        # State of the in-process part (numba's compiled kernels) stays out of the checkout.
        os.environ.setdefault("RISKOPS_HOME", str(Path(scratch) / "in-process"))
        if not args.skip_in_process:
            result["in_process"] = in_process(args.anomaly_rows)
        home = args.home or Path(scratch) / "home"
        if not (home / "mlflow.db").exists():
            home.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            result["champions"] = build_home(home, args.anomaly_model)
            result["train_seconds"] = round(time.perf_counter() - started, 1)
        result["http"] = over_http(home, args.anomaly_request_rows, args.port)
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
