"""Start-up time of `riskops --help`, against a bare `python -c pass` in the same run."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 7


def timed(argv: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    python = timed([sys.executable, "-c", "pass"])
    cli = timed([str(Path(sys.executable).parent / "riskops"), "--help"])
    mlflow = timed([sys.executable, "-c", "import mlflow"])
    result = {
        "python_s": round(python, 3),
        "riskops_help_s": round(cli, 3),
        "import_mlflow_s": round(mlflow, 3),
        "runs": RUNS,
    }
    print(json.dumps(result))
    out = Path(__file__).parent / "results" / "bench_cli_start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
