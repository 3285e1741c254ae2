"""What recording every credit decision costs the service: with and without the durable store.

One credit champion (LightGBM PD on the bundled 4,454 applicants, as ``bench_serving.py``
trains it) is served twice from one home, both servers started at once and taking turns
under the same load (round-robin, ``--rounds`` turns each, so that a change in the
machine's other load affects both alike):

* ``durable``: ``riskops serve`` as shipped: each decision (id, time, version, run, caller,
  PD, grade, reason codes, the input row and its SHA-256) is appended to the
  ``credit_decisions`` stream of the evidence store (SQLite in WAL mode, ``synchronous =
  FULL``: one ``fsync`` per commit) by the group-commit writer, and the answer is sent only
  after the commit of the batch holding it;
* ``inference_log``: the same service with the credit route's records sent to the inference
  log instead (``nostore_service.py``: what the service did before), off the request path
  and dropped under overload.

Load: ``wrk`` (``apt-get install -y wrk``; else a bounded httpx client) with a fixed body and
no id, so that each request gets a generated unique one: (a) one applicant per request at
``--connections`` (16) connections, the hot path of issue 30; (b) 100 applicants per request
at 4 connections, for decisions per second. Reported per server: requests and decisions per
second, p50/p90/p99 latency (median over turns), server CPU per request, and the ratio
durable / inference_log; the decisions written are counted in the store. The load generator
shares the two cores with the servers: rates are lower bounds, the ratios are the result.

    .venv/bin/python bench/bench_decisions.py [--home DIR] [--duration 20] [--rounds 4]

Writes ``bench/results/bench_decisions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as bs

RESULTS = Path(__file__).parent / "results" / "bench_decisions.json"
BENCH = Path(__file__).resolve().parent


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _decisions(home: Path) -> int:
    path = home / "evidence.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return int(
                db.execute("SELECT count(*) FROM riskops_evidence_credit_decisions").fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0


def _command(service: str, port: int) -> list[str]:
    from riskops.cli.serve import bentoml_command

    cmd = bentoml_command("127.0.0.1", port, workers=1)
    if service != "durable":
        cmd[cmd.index("services.service:RiskService")] = "nostore_service:RiskService"
        cmd[cmd.index("--working-dir") + 1] = str(BENCH)
    return cmd


def _phase(
    targets: list[bs.Target], connections: int, duration: float, rounds: int, home: Path
) -> dict[str, Any]:
    written: dict[str, int] = {t.name: 0 for t in targets}
    for target in targets:
        target.rounds.clear()
    for _ in range(rounds):
        for target in targets:
            before = _decisions(home)
            bs.run_round(target, connections, duration / rounds)
            written[target.name] += _decisions(home) - before
    out = {}
    for target in targets:
        rows = len(json.loads(target.body)["applicants"])
        summary = bs.summarise(target, {"rps": None, "p50_ms": None, "p99_ms": None})
        summary.pop("single_connection")
        summary["applicants_per_request"] = rows
        summary["decisions_per_second"] = summary["rps"] * rows
        summary["decisions_written"] = written[target.name]
        out[target.name] = summary
    durable, plain = out["durable"], out["inference_log"]
    out["ratio_durable_over_inference_log"] = {
        "rps": durable["rps"] / plain["rps"],
        "p50_ms": durable["p50_ms"] / plain["p50_ms"],
        "p99_ms": durable["p99_ms"] / plain["p99_ms"],
        "server_cpu_ms_per_request": durable["server_cpu_ms_per_request"]
        / plain["server_cpu_ms_per_request"],
    }
    out["p99_cost_ms"] = durable["p99_ms"] - plain["p99_ms"]
    out["p50_cost_ms"] = durable["p50_ms"] - plain["p50_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="reuse a home holding a credit champion")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per server and phase")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    load_before = _load()
    scratch = None
    if args.home is None:
        scratch = Path(tempfile.mkdtemp(prefix="bench-decisions-"))
        home = scratch / "home"
        home.mkdir()
        built = bs.build_home(home)
    else:
        home = args.home.resolve()
        os.environ.update(bs._environment(home))
        built = {"reused": str(home)}
    single = json.dumps({"applicants": [bs.applicant()]})
    hundred = json.dumps({"applicants": bs.batch(100)})
    results: dict[str, Any] = {}
    try:
        with ExitStack() as stack:
            targets = {}
            for name in ("durable", "inference_log"):
                port = bs._free_port()
                process = stack.enter_context(
                    bs.server(name, _command(name, port), home, port, "/readyz")
                )
                targets[name] = port, process.pid
            url = "http://127.0.0.1:{}/credit/score"
            # warm-up: the first requests load libraries and compile
            import httpx

            for port, _ in targets.values():
                for _ in range(20):
                    httpx.post(url.format(port), content=single, headers=bs.HEADERS, timeout=60)
            for phase, body, connections in (
                ("one_applicant", single, args.connections),
                ("hundred_applicants", hundred, 4),
            ):
                order = [
                    bs.Target(name, url.format(port), body, pid)
                    for name, (port, pid) in targets.items()
                ]
                results[phase] = _phase(order, connections, args.duration, args.rounds, home)
                results[phase]["connections"] = connections
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    payload = {
        "benchmark": "bench_decisions",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": _load(),
        },
        "load_generator": "wrk" if shutil.which("wrk") else "httpx",
        "duration_s_per_server_and_phase": args.duration,
        "rounds": args.rounds,
        "home": built,
        "store": "SQLite WAL, synchronous=FULL (one fsync per group commit)",
        **results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    for phase in ("one_applicant", "hundred_applicants"):
        part = results[phase]
        for name in ("durable", "inference_log"):
            r = part[name]
            print(
                f"{phase:<19} {name:<14} {r['rps']:8.1f} req/s {r['decisions_per_second']:9.1f} "
                f"decisions/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
                f"cpu {r['server_cpu_ms_per_request']:.2f} ms/req  written {r['decisions_written']}"
            )
        ratio = part["ratio_durable_over_inference_log"]
        print(
            f"{phase:<19} durable/log    rps x{ratio['rps']:.2f}  p99 +{part['p99_cost_ms']:.2f} ms"
        )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
