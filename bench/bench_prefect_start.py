"""Prefect start-up cost: a trivial flow with a cold (new) and a warm PREFECT_HOME, against
the same process importing Prefect only, in one run. Telemetry is off throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = (
    "from prefect import flow, task\n"
    "@task\ndef one() -> int:\n    return 1\n"
    "@flow\ndef noop() -> int:\n    return one()\n"
    "assert noop() == 1\n"
)


def timed(code: str, home: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "prefect"
        import_only = timed("import prefect", home)
        cold = timed(FLOW, home)
        warm = timed(FLOW, home)
    result = {
        "import_prefect_s": round(import_only, 2),
        "first_flow_cold_home_s": round(cold, 2),
        "first_flow_warm_home_s": round(warm, 2),
        "server_start_share_cold": round((cold - import_only) / cold, 2),
    }
    print(json.dumps(result))
    out = Path(__file__).parent / "results" / "bench_prefect_start.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
