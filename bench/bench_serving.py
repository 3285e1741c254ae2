"""Credit scoring over HTTP: our BentoML service against ``mlflow models serve`` and a floor.

One credit champion (LightGBM PD, default hyperparameters, the bundled 4,454 applicants)
is trained and promoted through the lifecycle into a fresh ``RISKOPS_HOME`` (or ``--home``
reuses one), then three servers are started one after the other on it and driven with the
same single-applicant ``POST`` at ``--connections`` (16) connections:

* ``riskops``: ``riskops serve`` (this repository's BentoML service): schema-derived
  validation, PD, grade and 4 reason codes, metrics, inference log; with ``--workers`` 1
  and 2 worker processes;
* ``riskops_shadow``: the same, on a copy of the home where a second version (the same
  training run registered again: a shadow exactly as costly as the champion) is in shadow
  (``riskops shadow``), so that every request is also handed to the shadow process
  (``services/shadow.py``). Its ``/models`` counters (requests, scored, dropped) are reported,
  and ``shadow_over_no_shadow`` compares the champion's throughput and p99 with and
  without it;
* ``mlflow``: ``mlflow models serve -m models:/credit_pd@champion --env-manager local``,
  the same registered model through MLflow's generic pyfunc (``predict_proba`` on a
  one-row DataFrame), probabilities only, no reason codes; with ``-w`` 1 (its default, as
  users start it) and 2 workers, so that ours is compared both with MLflow as started and
  at equal worker counts. (``OMP_NUM_THREADS=1`` made no difference to it: 172 vs 176 req/s
  in one run.)
* ``floor``: a bare Starlette app (uvicorn, as many workers as ours) doing only the
  model's ndarray work: encode the record, the model's contributions (compiled Tree SHAP),
  calibrate, pick the top 4 contributions -- what is left if validation, BentoML,
  metrics and logging cost nothing (``OMP_NUM_THREADS=1`` too);
* ``bento_floor``: the same work behind a typed ``@bentoml.api`` configured like ours --
  what is left if only our own features (validation, grades, reason values, metrics,
  inference log, auth) cost nothing. It splits the gap between the floor and our service
  into BentoML's share and ours. Both floors are in ``serving_floors.py``.

All servers run at once and take turns under load: the ``--duration`` (15 s) of each is
split into ``--rounds`` (3) turns, round-robin, so that a change in the machine's other
load between turns affects every server alike; rates are totals over the turns, latency
percentiles the median over turns.

Load comes from ``wrk -t1`` (``--wrk-threads``) with a Lua script for the POST body when it
is installed (``apt-get install -y wrk``), else from a bounded asyncio httpx client (slower: it caps
what can be measured). Either way the load generator runs on the same machine and
shares its cores with the servers, so absolute rates are lower bounds; the ratios
between servers, measured the same way in one run, are the result. The CPU the server
processes used per request (from ``/proc``) is reported as well, which a busy machine
disturbs less than the rates. Also measured: single-connection latency (the service time
without queueing) and a 1,000-applicant batch on our service.

    .venv/bin/python bench/bench_serving.py [--home DIR] [--duration 15] [--connections 16]

Prints a table and writes ``bench/results/bench_serving.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL = "credit_pd"


# ============================================================================ helpers
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_")}
    env.update(
        RISKOPS_HOME=str(home),
        MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
        BENTOML_HOME=str(home / "bentoml"),
        BENTOML_DO_NOT_TRACK="true",
        DO_NOT_TRACK="1",
        MLFLOW_ENABLE_TELEMETRY="false",
        GIT_PYTHON_REFRESH="quiet",
        # mlflow models serve execs `uvicorn` from the PATH.
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def build_home(home: Path) -> dict[str, Any]:
    """Train and promote one credit champion into ``home`` through the lifecycle."""
    os.environ.update(_environment(home))
    from riskops.lifecycle import Lifecycle
    from riskops.settings import Settings

    life = Lifecycle(Settings())
    started = time.perf_counter()
    trained = life.train("credit")
    if life.promote(MODEL, trained.version).refused:
        life.promote(MODEL, trained.version, force=True, reason="serving benchmark")
    return {"version": trained.version, "train_seconds": time.perf_counter() - started}


def shadow_home(home: Path, shadow: Path) -> dict[str, Any]:
    """A copy of ``home`` (relocated by :func:`riskops.home.locate`) whose champion's training
    run is registered again and put in shadow: the shadow does exactly the champion's work."""
    shutil.copytree(home, shadow, symlinks=True)
    for stale in ("metrics", "tmp"):
        shutil.rmtree(shadow / stale, ignore_errors=True)
    code = f"""
from riskops.lifecycle import Lifecycle
from riskops.settings import Settings
life = Lifecycle(Settings())
info = life.registry.version_for_alias({MODEL!r}, "champion")
version = life.register_version(info.run_id, {MODEL!r}, dict(info.tags))
life.shadow({MODEL!r}, version, reason="serving benchmark")
print(version)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_environment(shadow),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {"version": int(done.stdout.split()[-1])}


def shadow_counters(url: str) -> dict[str, Any]:
    """The shadow's counters from ``GET /models`` of the server at ``url``."""
    import httpx

    models = httpx.get(url.rsplit("/", 2)[0] + "/models", timeout=30).json()["models"]
    return next(m["shadow"] for m in models if m["name"] == MODEL and m.get("shadow"))


def applicant() -> dict[str, Any]:
    """One real applicant without missing values, with JSON-native types (MLflow's schema
    was inferred with integer columns and refuses floats there)."""
    from riskops.data.credit import load_credit

    row = load_credit().X.dropna().iloc[0]
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def batch(n: int) -> list[dict[str, Any]]:
    import pandas as pd

    from riskops.data.credit import load_credit

    rows = load_credit().X.sample(n, random_state=0, replace=n > 4454)
    return [
        {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


@contextlib.contextmanager
def server(
    name: str,
    command: list[str],
    home: Path,
    port: int,
    ready: str,
    env: dict[str, str] | None = None,
) -> Iterator[Any]:
    env = dict(env or {})
    if "HOME_" in env:  # this server runs on a home of its own
        home = Path(env.pop("HOME_"))
    log = home / f"bench-{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            env={**_environment(home), **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
    try:
        import httpx

        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _process_tree(pid: int) -> list[int]:
    out = [pid]
    for child in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = child.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) in out:
                out.append(int(child.parent.name))
    return out


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# ============================================================================ load
WRK_THREADS = [1]
"""wrk's threads (``--wrk-threads``): one, as the issue's ``wrk -t1 -c16 -d10s`` measured."""


def _wrk(url: str, body: str, connections: int, duration: float, headers: dict[str, str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\n')
        script.write(f"wrk.body = {json.dumps(body)}\n")
        for key, value in headers.items():
            script.write(f'wrk.headers["{key}"] = "{value}"\n')
    threads = max(1, min(WRK_THREADS[0], connections))
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    os.unlink(script.name)
    text = result.stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        if not match:
            return math.nan
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms("50"),
        "p90_ms": ms("90"),
        "p99_ms": ms("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def _httpx_load(
    url: str, body: str, connections: int, duration: float, headers: dict[str, str]
) -> dict:
    import asyncio

    import httpx

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        failures = 0
        stop = time.perf_counter() + duration
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker() -> None:
                nonlocal failures
                while time.perf_counter() < stop:
                    started = time.perf_counter()
                    response = await client.post(url, content=body, headers=headers)
                    latencies.append(time.perf_counter() - started)
                    failures += response.status_code != 200

            await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies, failures

    latencies, failures = asyncio.run(run())
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    return {
        "requests": len(ordered),
        "rps": len(ordered) / duration,
        "p50_ms": pct(0.5),
        "p90_ms": pct(0.9),
        "p99_ms": pct(0.99),
        "non_2xx": failures,
        "socket_errors": "",
    }


@dataclass
class Target:
    """A running server under test."""

    name: str
    url: str
    body: str
    pid: int
    rounds: list[dict[str, Any]] = field(default_factory=list)


def _load() -> Any:
    return _wrk if shutil.which("wrk") else _httpx_load


HEADERS = {"Content-Type": "application/json"}


def run_round(target: Target, connections: int, duration: float) -> None:
    """One load run against ``target``, with the CPU its processes used."""
    tree = _process_tree(target.pid)
    cpu_before = _cpu_seconds(tree)
    out = _load()(target.url, target.body, connections, duration, HEADERS)
    out["server_cpu_s"] = _cpu_seconds(tree) - cpu_before
    out["seconds"] = duration
    target.rounds.append(out)


def summarise(target: Target, single: dict[str, Any]) -> dict[str, Any]:
    rounds = target.rounds
    requests = sum(r["requests"] for r in rounds)
    return {
        "requests": requests,
        "rps": requests / sum(r["seconds"] for r in rounds),
        "rps_per_round": [round(r["rps"], 1) for r in rounds],
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p90_ms": statistics.median(r["p90_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "p99_ms_worst_round": max(r["p99_ms"] for r in rounds),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "server_cpu_ms_per_request": sum(r["server_cpu_s"] for r in rounds)
        * 1e3
        / max(requests, 1),
        "single_connection": {k: single[k] for k in ("rps", "p50_ms", "p99_ms")},
    }


def batch_latency(url: str, applicants: list[dict[str, Any]], repeats: int) -> dict:
    import httpx

    times = []
    with httpx.Client(timeout=120) as client:
        client.post(url, json={"applicants": applicants})  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.post(url, json={"applicants": applicants})
            times.append(time.perf_counter() - started)
            response.raise_for_status()
    return {
        "rows": len(applicants),
        "repeats": repeats,
        "p50_ms": statistics.median(times) * 1e3,
        "max_ms": max(times) * 1e3,
    }


# ============================================================================ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="reuse a RISKOPS_HOME with a credit champion")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per server")
    parser.add_argument("--rounds", type=int, default=3, help="turns the duration is split into")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-repeats", type=int, default=10)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--out-name", default="bench_serving.json", help="results file name in --out"
    )
    parser.add_argument(
        "--no-shadow", action="store_true", help="skip the server with a version in shadow"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    WRK_THREADS[0] = args.wrk_threads
    load_at_start = os.getloadavg()

    scratch = None
    if args.home is None:
        scratch = Path(tempfile.mkdtemp(prefix="bench-serving-"))
        home = scratch / "home"
        home.mkdir()
        champion = build_home(home)
    else:
        home = args.home.resolve()
        champion = {"version": None, "train_seconds": None}
    os.environ.update(_environment(home))
    from riskops.registry import Registry
    from riskops.settings import Settings

    info = Registry(Settings()).version_for_alias(MODEL, "champion")
    if info is None:
        raise SystemExit(f"{home} has no {MODEL} champion")
    champion |= {"version": info.version, "model_kind": info.tags.get("model_kind")}

    body = json.dumps({"applicants": [applicant()]})
    mlflow_body = json.dumps({"dataframe_records": [applicant()]})
    single_thread = {"OMP_NUM_THREADS": "1"}
    plans: list[tuple[str, list[str], str, str, str, dict[str, str]]] = []
    shadow = None
    if not args.no_shadow:
        shadow_at = Path(tempfile.mkdtemp(prefix="bench-serving-shadow-")) / "home"
        champion["shadow"] = shadow_home(home, shadow_at)
        shadow = shadow_at
    for workers in args.workers:
        riskops = [str(BIN / "riskops"), "serve", "--port", "{port}", "--workers", str(workers)]
        plans.append((f"riskops_w{workers}", riskops, "/readyz", "/credit/score", body, {}))
        if shadow is not None:
            name = f"riskops_shadow_w{workers}"
            plans.append((name, riskops, "/readyz", "/credit/score", body, {"HOME_": str(shadow)}))
    mlflow = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        f"models:/{MODEL}@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        "{port}",
    ]
    for workers in args.workers:
        command = [*mlflow, "-w", str(workers)]
        plans.append((f"mlflow_w{workers}", command, "/ping", "/invocations", mlflow_body, {}))
    for workers in args.workers:
        bento_floor = [
            str(BIN / "bentoml"),
            "serve",
            "serving_floors:BentoFloor",
            "--working-dir",
            str(ROOT / "bench"),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--arg",
            f"workers={workers}",
        ]
        name = f"bento_floor_w{workers}"
        plans.append((name, bento_floor, "/readyz", "/credit/score", body, single_thread))
    for workers in args.workers:
        floor = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(ROOT / "bench"),
            "--factory",
            "serving_floors:starlette_floor",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        plans.append((f"floor_w{workers}", floor, "/", "/credit/score", body, single_thread))

    results: dict[str, Any] = {}
    try:
        with contextlib.ExitStack() as stack:
            # All servers run side by side and take turns under load, round after round, so
            # that a change in the machine's other load hits all of them alike.
            targets = []
            for name, template, ready, route, payload, env in plans:
                port = _free_port()
                command = [part.replace("{port}", str(port)) for part in template]
                process = stack.enter_context(server(name, command, home, port, ready, env))
                targets.append(
                    Target(name, f"http://127.0.0.1:{port}{route}", payload, process.pid)
                )
                print(f"started {name}", flush=True)
            for target in targets:  # warm-up
                _load()(target.url, target.body, args.connections, 3.0, HEADERS)
            for _ in range(args.rounds):
                for target in targets:
                    run_round(target, args.connections, args.duration / args.rounds)
            for target in targets:
                single = _load()(target.url, target.body, 1, 5.0, HEADERS)
                results[target.name] = summarise(target, single)
                if target.name.startswith("riskops_shadow"):
                    results[target.name]["shadow"] = shadow_counters(target.url)
                if target.name.startswith("riskops"):
                    results[target.name]["batch_1000"] = batch_latency(
                        target.url, batch(1000), args.batch_repeats
                    )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if shadow is not None:
            shutil.rmtree(shadow.parent, ignore_errors=True)

    plain = [k for k in results if k.startswith("riskops") and "shadow" not in k]
    best = max(plain, key=lambda k: results[k]["rps"])
    floor = max((k for k in results if k.startswith("floor")), key=lambda k: results[k]["rps"])
    bento_floor = max(
        (k for k in results if k.startswith("bento_floor")), key=lambda k: results[k]["rps"]
    )
    summary = {
        "ours": best,
        # MLflow as users start it: its default is one worker.
        "ours_over_mlflow": results[best]["rps"] / results["mlflow_w1"]["rps"],
        "ours_over_mlflow_same_workers": {
            w: results[f"riskops_w{w}"]["rps"] / results[f"mlflow_w{w}"]["rps"]
            for w in args.workers
        },
        "ours_over_floor": results[best]["rps"] / results[floor]["rps"],
        "bento_floor_over_floor": results[bento_floor]["rps"] / results[floor]["rps"],
        "ours_over_bento_floor": results[best]["rps"] / results[bento_floor]["rps"],
        "ours_p99_ms": results[best]["p99_ms"],
        "ours_single_connection_p99_ms": results[best]["single_connection"]["p99_ms"],
        "ours_batch_1000_p50_ms": results[best]["batch_1000"]["p50_ms"],
        "cpu_per_request_ours_over_floor": results[best]["server_cpu_ms_per_request"]
        / results[floor]["server_cpu_ms_per_request"],
    }
    if shadow is not None:
        summary["shadow_over_no_shadow"] = {
            w: {
                "rps": results[f"riskops_shadow_w{w}"]["rps"] / results[f"riskops_w{w}"]["rps"],
                "p99_ms": results[f"riskops_shadow_w{w}"]["p99_ms"]
                / results[f"riskops_w{w}"]["p99_ms"],
                "shadow": results[f"riskops_shadow_w{w}"]["shadow"],
            }
            for w in args.workers
        }
    report = {
        "benchmark": "credit scoring over HTTP, single applicant, POST",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_generator": f"wrk -t{args.wrk_threads} (Lua POST script)"
        if shutil.which("wrk")
        else "asyncio httpx",
        "note": "the load generator shares the machine's cores with the server under test; "
        "the machine's 2 cores are shared with other agents' work (see load averages)",
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "champion": champion,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
            "python": platform.python_version(),
        },
        "results": results,
        "summary": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / args.out_name).write_text(json.dumps(report, indent=2))

    print(
        f"{'server':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'1-conn p99':>12}{'CPU ms/req':>12}"
    )
    for name, row in results.items():
        print(
            f"{name:<16}{row['rps']:>9.0f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['single_connection']['p99_ms']:>12.1f}{row['server_cpu_ms_per_request']:>12.2f}"
        )
    same_workers = "   ".join(
        f"ours / mlflow, {w} worker(s) each: {ratio:.1f}x"
        for w, ratio in summary["ours_over_mlflow_same_workers"].items()
    )
    print(f"ours ({best}) / mlflow (default, 1 worker): {summary['ours_over_mlflow']:.1f}x")
    print(same_workers)
    print(
        f"ours / floor: {summary['ours_over_floor']:.2f}x   "
        f"BentoML floor / floor: {summary['bento_floor_over_floor']:.2f}x   "
        f"ours / BentoML floor: {summary['ours_over_bento_floor']:.2f}x   "
        f"1,000-applicant batch: {summary['ours_batch_1000_p50_ms']:.0f} ms (median)"
    )
    for w, row in summary.get("shadow_over_no_shadow", {}).items():
        print(
            f"with a shadow / without, {w} worker(s): throughput {row['rps']:.2f}x, "
            f"p99 {row['p99_ms']:.2f}x; shadow handed {row['shadow']['requests']}, scored "
            f"{row['shadow']['scored']}, dropped {row['shadow']['dropped']}"
        )


if __name__ == "__main__":
    main()
