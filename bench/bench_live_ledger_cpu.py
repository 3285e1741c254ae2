"""CPU per observation of the live ledger path, this checkout against another, side by side.

``LiveBook.ingest`` (checks, score, online update, one transaction appending observations,
forecasts, scores and state checkpoints to SQLite, WAL, synchronous FULL) over a universe
of GARCH(1,1)-t VaR states, one message per series per batch, timed in a child process
per round and per source tree, the rounds alternating so that both see the same load::

    git -C /work/main worktree add /tmp/baseline main      # or: git archive main platform
    uv run --frozen python bench/bench_live_ledger_cpu.py --baseline /tmp/baseline/platform

The child imports ``riskops`` from the tree it is given (``PYTHONPATH``) and builds the
universe with this checkout's ``bench_live`` helpers. CPU time (``process_time``) is the
figure: the machine is shared, and wall time mostly measures the other processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = """
import argparse, json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {bench!r})
import bench_live as bl
import riskops
from riskops.live.observations import Observation
args = argparse.Namespace(series={series}, history_days=500, train_days=1500, days={days})
model, names, history, everything = bl._universe(args, {days})
live = everything.iloc[:{days}]
with tempfile.TemporaryDirectory(prefix="riskops-bench-ledger-") as tmp:
    book = bl._book(Path(tmp) / "home", model, history)
    batches = [
        [Observation(s, ts, float(live.at[ts, s]), source="bench", message_id=f"{{s}}@{{d}}")
         for s in names]
        for d, ts in enumerate(live.index)
    ]
    book.ingest(batches[0])  # builds the states from their history
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches[1:]:
        book.ingest(batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
n = len(names) * (len(batches) - 1)
print(json.dumps({{"riskops": riskops.__file__, "observations": n,
                  "cpu_us_per_observation": 1e6 * cpu / n, "obs_per_second": n / wall}}))
"""


def _round(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    code = CHILD.format(bench=str(HERE), series=args.series, days=args.days)
    env = os.environ | {"PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another tree's platform/")
    parser.add_argument("--label", default="main", help="what the baseline is")
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    trees = {args.label: args.baseline.resolve(), "this": (HERE.parent / "platform").resolve()}
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for i in range(args.rounds):
        for name, tree in trees.items():
            found = _round(tree, args)
            rounds[name].append(found)
            print(
                f"  round {i + 1} {name}: {found['cpu_us_per_observation']:.0f} us CPU/obs, "
                f"{found['obs_per_second']:,.0f} obs/s"
            )
    summary = {
        name: {
            "cpu_us_per_observation_median": round(
                statistics.median(r["cpu_us_per_observation"] for r in found), 1
            ),
            "cpu_us_per_observation": [round(r["cpu_us_per_observation"], 1) for r in found],
            "obs_per_second": [round(r["obs_per_second"], 1) for r in found],
            "riskops": found[0]["riskops"],
        }
        for name, found in rounds.items()
    }
    ratio = (
        summary[args.label]["cpu_us_per_observation_median"]
        / summary["this"]["cpu_us_per_observation_median"]
    )
    result = {
        "benchmark": "CPU per observation of LiveBook.ingest (the live ledger path), this "
        "checkout against a baseline tree, alternating rounds in child processes",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine (2 cores, other agents' jobs): CPU time, not wall time, "
            "is the comparable figure",
        },
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "series": args.series,
        "batches": args.days - 1,
        "results": summary,
        "ratio_cpu_baseline_to_this": round(ratio, 2),
    }
    print(f"  CPU per observation: {args.label} / this = {ratio:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_live_ledger_cpu.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
