"""Per-asset universe models: sequential vs Dask (local cluster, 2 workers), side by side.

The universe is the six bundled real indices (S&P 500 and NASDAQ 1999-2018; DAX, SMI, CAC,
FTSE 1991-1998) plus 50 simulated GARCH(1,1)-t series of 2,000 days: 56 assets, each
getting a GARCH(1,1)-t volatility model (arch), an FHS VaR/ES model and a rolling
backtest (``riskops.universe.fit_asset``). Two workloads: ``light`` (the flow's default,
250 days refitted every 25) and ``heavy`` (500 days refitted every day). For each, in one
run:

* ``sequential`` -- ``fit_universe`` in this process (imports warmed up first),
* ``dask warm`` -- ``client.map(fit_asset, ...)`` on an already running local cluster of
  2 single-threaded worker processes whose imports were warmed up: the compute scaling,
* ``prefect+dask`` -- the whole ``universe_flow`` (Prefect, ``DaskTaskRunner``, a fresh
  local cluster of 2 workers, universe loading, one task per asset) against a
  throwaway Prefect API: what a user pays end to end.

Every variant must give the same per-asset results (timings aside); the script checks it.
Usage: ``python bench/bench_dask.py [--n-simulated 50] [--workers 2]``; writes
``bench/results/bench_dask.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _strip(results: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results]


def _load() -> tuple[float, float, float]:
    return os.getloadavg()


WORKLOADS = {
    # The flow's default: a 250-day backtest refitted every 25 days (~0.1 s per asset).
    "light": {"backtest_days": 250, "refit_every": 25},
    # A regulatory-style backtest: 500 days, refitted every day (warm-started).
    "heavy": {"backtest_days": 500, "refit_every": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-simulated", type=int, default=50)
    parser.add_argument("--n-days", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from distributed import Client, LocalCluster
    from prefect.testing.utilities import prefect_test_harness

    from riskops.universe import UniverseSpec, fit_asset, fit_universe, universe_dataset

    real = ["us_indices", "eustocks"]
    load_before = _load()
    # Warm the imports (arch, SciPy, pandera...) so the sequential time is compute only.
    warm = universe_dataset(1, real=(), n_days=600, seed=99)
    fit_asset(warm.series("sim_000"), "sim_000", UniverseSpec(backtest_days=50))

    started = time.perf_counter()
    dataset = universe_dataset(args.n_simulated, real=real, n_days=args.n_days, seed=args.seed)
    load_seconds = time.perf_counter() - started
    assets = dataset.assets
    specs = {name: UniverseSpec(**kw) for name, kw in WORKLOADS.items()}

    sequential: dict[str, list[dict]] = {}
    seconds: dict[str, dict[str, float]] = {name: {} for name in specs}
    for name, spec in specs.items():
        began = time.perf_counter()
        sequential[name] = fit_universe(dataset, spec)
        seconds[name]["sequential_fit"] = time.perf_counter() - began
        seconds[name]["sequential_total"] = seconds[name]["sequential_fit"] + load_seconds
        print(f"{name}: sequential fit {seconds[name]['sequential_fit']:.1f} s", flush=True)

    identical: dict[str, dict[str, bool]] = {name: {} for name in specs}
    cluster_started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        cluster_up = time.perf_counter() - cluster_started
        client.gather(
            client.map(
                fit_asset,
                [warm.series("sim_000")] * args.workers,
                [f"warm{i}" for i in range(args.workers)],
                spec=UniverseSpec(backtest_days=50),
                pure=False,
            )
        )
        warmed = time.perf_counter() - cluster_started
        print(f"dask cluster up {cluster_up:.1f} s, imports warmed {warmed:.1f} s", flush=True)
        for name, spec in specs.items():
            began = time.perf_counter()
            futures = client.map(
                fit_asset,
                [dataset.returns[a] for a in assets],
                assets,
                spec=spec,
                on_error="record",
                pure=False,
            )
            results = client.gather(futures)
            seconds[name]["dask_warm_fit"] = time.perf_counter() - began
            identical[name]["dask_warm"] = _strip(results) == _strip(sequential[name])
            print(f"{name}: dask warm fit {seconds[name]['dask_warm_fit']:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as home:
        os.environ["RISKOPS_HOME"] = home
        with prefect_test_harness(server_startup_timeout=180):
            from pipelines.universe import universe_flow

            for name in specs:
                began = time.perf_counter()
                out = universe_flow(
                    n_simulated=args.n_simulated,
                    workers=args.workers,
                    real=real,
                    n_days=args.n_days,
                    seed=args.seed,
                    track=False,
                    **WORKLOADS[name],
                )
                seconds[name]["prefect_dask_flow_total"] = time.perf_counter() - began
                identical[name]["prefect_dask_flow"] = _strip(out["results"]) == _strip(
                    sequential[name]
                )
                print(
                    f"{name}: prefect flow on dask "
                    f"{seconds[name]['prefect_dask_flow_total']:.1f} s",
                    flush=True,
                )

    workloads = {}
    for name, spec in specs.items():
        s = seconds[name]
        per_asset = sorted(r["seconds"] for r in sequential[name])
        workloads[name] = {
            "spec": spec.to_dict(),
            "failed": [r["asset"] for r in sequential[name] if not r["ok"]],
            "seconds": {k: round(v, 2) for k, v in s.items()}
            | {
                "per_asset_median": round(per_asset[len(per_asset) // 2], 3),
                "per_asset_max": round(per_asset[-1], 3),
            },
            "ratios": {
                "sequential_fit / dask_warm_fit": round(
                    s["sequential_fit"] / s["dask_warm_fit"], 2
                ),
                "sequential_total / prefect_dask_flow_total": round(
                    s["sequential_total"] / s["prefect_dask_flow_total"], 2
                ),
            },
            "identical_results": identical[name],
        }
    result = {
        "benchmark": "bench_dask",
        "universe": {
            "assets": len(assets),
            "real": len(assets) - args.n_simulated,
            "simulated": args.n_simulated,
            "simulated_days": args.n_days,
            "load_seconds": round(load_seconds, 2),
        },
        "machine": {
            "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in _load()],
            "note": "shared 2-core machine; other jobs were running (see load averages)",
        },
        "workers": args.workers,
        "dask_cluster_seconds": {
            "start": round(cluster_up, 2),
            "start_and_worker_imports": round(warmed, 2),
        },
        "workloads": workloads,
    }
    print(
        f"\n{len(assets)} assets ({len(assets) - args.n_simulated} real), "
        f"{os.cpu_count()} cores, load {load_before[0]:.1f} -> {_load()[0]:.1f}, "
        f"{args.workers} dask workers"
    )
    header = ["sequential", "dask warm", "prefect+dask", "seq/dask", "seq/flow"]
    print(f"{'workload (seconds)':<20}" + "".join(f"{h:>14}" for h in header))
    for name, w in workloads.items():
        s, r = w["seconds"], w["ratios"]
        cells = [
            s["sequential_total"],
            s["dask_warm_fit"],
            s["prefect_dask_flow_total"],
            r["sequential_fit / dask_warm_fit"],
            r["sequential_total / prefect_dask_flow_total"],
        ]
        print(f"{name:<20}" + "".join(f"{c:>14.2f}" for c in cells))
    print(f"identical results: { {n: w['identical_results'] for n, w in workloads.items()} }")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_dask.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    if not all(all(w["identical_results"].values()) for w in workloads.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
