"""Cold starts of ``riskops serve`` on a trained home: does every champion load on the first
attempt, and is ``/readyz`` 200 as soon as the last one has loaded?

Issue 32, item 1: ``riskops serve`` failed 2-3 of the 4 champions on every cold start
(skops imported by the loading threads at once), and ``/readyz`` stayed 503 for 40-46 s
until the failed loads were retried. Here ``riskops serve`` is started ``--starts`` times (20)
on one home, each time a new process on a free port, and stopped once ready. Per start:

* time to ready: from the process's start to the first ``/readyz`` 200 (polled every 50 ms);
* first attempt: no ``/readyz`` answer ever reported a model ``failed`` (a load that failed
  shows ``failed`` for the 30 s until its retry), and the service's output (stdout and
  stderr: ``riskops.*`` records go there through BentoML's handlers) holds no ``cannot
  load`` line and no traceback, and names each champion's ``serving vN (was none)`` once;
* ready as soon as the last champion loaded: the first ``/readyz`` answer in which every
  champion has a version is the 200 (``last_load_to_ready_seconds``: from the first answer
  showing them all loaded to the first 200, 0 when they are the same answer);
* the load average when the start began.

    .venv/bin/python bench/bench_cold_starts.py --home DIR [--starts 20]

``--home``: a home with champions (``riskops demo``'s); it is copied, never written to.
Writes ``bench/results/cold_starts.json``; exits 1 when a start missed any of the above.
"""

from __future__ import annotations

import argparse
import json
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).parent / "results" / "cold_starts.json"
RISKOPS = str(Path(sys.executable).parent / "riskops")
FAILED_LOAD = re.compile(r"cannot load|failed to load", re.IGNORECASE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_"))}
    return env | {"RISKOPS_HOME": str(home)}


def _champions(home: Path) -> list[str]:
    done = subprocess.run(
        [RISKOPS, "models", "--json"],
        env=_environment(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(m["name"] for m in json.loads(done.stdout)["models"] if m["champion"])


def one_start(home: Path, folder: Path, index: int, timeout: float) -> dict[str, Any]:
    port = _free_port()
    output_path = folder / f"output-{index:02d}.txt"
    load = [round(x, 2) for x in os.getloadavg()]
    ready_at = all_loaded_at = None
    failed_seen: set[str] = set()
    served: dict[str, Any] = {}
    with output_path.open("wb") as output_file:
        started = time.time()
        process = subprocess.Popen(
            [RISKOPS, "serve", "--port", str(port)],
            env=_environment(home),
            cwd=folder,
            stdout=output_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with httpx.Client(timeout=5) as client:
                while time.time() - started < timeout and process.poll() is None:
                    try:
                        answer = client.get(f"http://127.0.0.1:{port}/readyz")
                    except httpx.HTTPError:
                        answer = None
                    if answer is not None:
                        seen = time.time()
                        models = answer.json().get("models", {})
                        failed_seen |= {n for n, m in models.items() if m.get("state") == "failed"}
                        loaded = bool(models) and all(
                            m.get("version") is not None for m in models.values()
                        )
                        if loaded and all_loaded_at is None:
                            all_loaded_at = seen
                        if answer.status_code == 200:
                            ready_at, served = seen, models
                            break
                    time.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
    output = output_path.read_text(errors="replace")
    loads = re.findall(r"(\S+): serving v\d+ \(was none\)", output)
    return {
        "start": index,
        "load_avg_at_start": load,
        "seconds_to_ready": None if ready_at is None else round(ready_at - started, 3),
        "models_served": sorted(n for n, m in served.items() if m.get("version") is not None),
        "last_load_to_ready_seconds": None
        if ready_at is None or all_loaded_at is None
        else round(ready_at - all_loaded_at, 3),
        "failed_states_seen": sorted(failed_seen),
        "failed_load_lines": [line for line in output.splitlines() if FAILED_LOAD.search(line)][:5],
        "loads_logged": sorted(loads),
        "traceback_in_output": "Traceback" in output,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a home with champions")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--slack", type=float, default=0.0, help="s from all loaded to 200")
    parser.add_argument("--timeout", type=float, default=300.0, help="s per start")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskops-cold-starts-") as tmp:
        folder = Path(tmp)
        home = folder / "home"
        shutil.copytree(args.home, home, symlinks=True)
        champions = _champions(home)
        load_before = [round(x, 2) for x in os.getloadavg()]
        starts = []
        for index in range(1, args.starts + 1):
            result = one_start(home, folder, index, args.timeout)
            result["every_champion_served"] = result["models_served"] == champions
            result["first_attempt"] = (
                result["seconds_to_ready"] is not None
                and not result["failed_states_seen"]
                and not result["failed_load_lines"]
                and not result["traceback_in_output"]
                and result["every_champion_served"]
                and result["loads_logged"] == champions
            )
            lag = result["last_load_to_ready_seconds"]
            result["ready_as_soon_as_loaded"] = lag is not None and lag <= args.slack
            starts.append(result)
            print(
                f"start {index:2d}: ready in {result['seconds_to_ready']} s, "
                f"{lag} s after the last load, first attempt: {result['first_attempt']}",
                flush=True,
            )
    times = [s["seconds_to_ready"] for s in starts if s["seconds_to_ready"] is not None]
    ok = all(s["first_attempt"] and s["ready_as_soon_as_loaded"] for s in starts)
    result = {
        "benchmark": "bench_cold_starts",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "champions": champions,
        "starts": len(starts),
        "all_first_attempt": all(s["first_attempt"] for s in starts),
        "all_ready_as_soon_as_loaded": all(s["ready_as_soon_as_loaded"] for s in starts),
        "retries": sum(bool(s["failed_load_lines"] or s["failed_states_seen"]) for s in starts),
        "tracebacks": sum(s["traceback_in_output"] for s in starts),
        "slack_seconds": args.slack,
        "seconds_to_ready": {
            "min": min(times) if times else None,
            "median": statistics.median(times) if times else None,
            "max": max(times) if times else None,
        },
        "last_load_to_ready_seconds_max": max(
            (
                s["last_load_to_ready_seconds"]
                for s in starts
                if s["last_load_to_ready_seconds"] is not None
            ),
            default=None,
        ),
        "per_start": starts,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_start"}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
