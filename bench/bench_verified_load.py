"""What verification costs when a champion is loaded, side by side in one run.

* ``Registry.load_version`` (download, SHA-256 of every file against the audited manifest,
  then deserialise the verified copy) against a plain ``mlflow.sklearn.load_model`` of the
  same version;
* loading the same estimator from ``skops`` (with RiskOps's allow-list) against cloudpickle.

Needs a ``credit_pd`` champion under ``RISKOPS_HOME`` (e.g. after ``make demo``). Paid at
swap, promotion and CLI load only; never on the request path.

    RISKOPS_HOME=... .venv/bin/python bench/bench_verified_load.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL = "credit_pd"
RUNS = 7


def timed(fn: Callable[[], Any], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    import pickle

    import cloudpickle
    import mlflow.sklearn
    import skops.io as sio

    from riskops.families import trusted_types
    from riskops.registry import CHAMPION, Registry
    from riskops.settings import Settings
    from riskops.tracking import configure

    settings = Settings()
    configure(settings)
    registry = Registry(settings)
    champion = registry.version_for_alias(MODEL, CHAMPION)
    if champion is None:
        raise SystemExit(f"no {MODEL} champion under {settings.home}; run `make demo` first")
    version = champion.version
    loaded = registry.load_version(MODEL, version)  # warm caches and imports
    uri = f"models:/{MODEL}/{version}"
    plain = timed(lambda: mlflow.sklearn.load_model(uri))
    verified = timed(lambda: registry.load_version(MODEL, version))
    as_skops = sio.dumps(loaded.estimator)
    as_pickle = cloudpickle.dumps(loaded.estimator)
    skops_s = timed(lambda: sio.loads(as_skops, trusted=list(trusted_types())), 15)
    pickle_s = timed(lambda: pickle.loads(as_pickle), 15)
    result = {
        "model": f"{MODEL} v{version}",
        "plain_mlflow_load_ms": round(plain * 1e3, 1),
        "verified_load_ms": round(verified * 1e3, 1),
        "verified_over_plain": round(verified / plain, 2),
        "files_hashed": len(loaded.manifest),
        "skops_bytes": len(as_skops),
        "cloudpickle_bytes": len(as_pickle),
        "skops_load_ms": round(skops_s * 1e3, 1),
        "cloudpickle_load_ms": round(pickle_s * 1e3, 1),
        "skops_over_cloudpickle": round(skops_s / pickle_s, 2),
    }
    out = Path(__file__).parent / "results" / "bench_verified_load.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
