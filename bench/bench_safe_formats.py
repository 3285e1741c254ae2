"""What storing the market models with skops costs, against cloudpickle, side by side.

The demo's VaR and volatility champions (the families' default kinds, ``fhs`` and
``garch``) and the other arch-based kinds are fitted on the bundled S&P 500 (as the demo
trains them); for each: file size and load time of the same estimator as skops (RiskOps's
allow-list), as cloudpickle of the same plain state, and as the cloudpickle of the live
objects (pandas, arch's result) that was stored before; and the time of ``choose_format``
at training (dump, type check, load, predict the 250-day input example twice). Loading
happens at swap, promotion and CLI load only, never on the request path.

    .venv/bin/python bench/bench_safe_formats.py   # writes bench/results/bench_safe_formats.json
"""

from __future__ import annotations

import json
import os
import pickle
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

RUNS = 15


def timed(fn: Callable[[], Any], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    import cloudpickle
    import skops.io as sio

    from riskops.data.market import load_market
    from riskops.families import trusted_types
    from riskops.market.features import input_example
    from riskops.market.var import make_var_model
    from riskops.serialization import SKOPS, choose_format
    from riskops.volatility.family import make_volatility_model

    returns = load_market(bundled="sp500").series()
    example = input_example(returns)
    kinds = [("var", "fhs"), ("var", "garch_t"), ("volatility", "garch"), ("volatility", "gjr")]
    rows = []
    for family, kind in kinds:
        make = make_var_model if family == "var" else make_volatility_model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = make(kind).fit(returns)
        as_skops = sio.dumps(estimator)
        as_pickle = cloudpickle.dumps(estimator)
        # Before this change the pickle held the live objects: pandas Series and arch's
        # result (its model, data and covariance); the fitted __dict__ is exactly that.
        before = cloudpickle.dumps(dict(vars(estimator)))
        before_s = timed(lambda d=before: pickle.loads(d))
        skops_s = timed(lambda d=as_skops: sio.loads(d, trusted=list(trusted_types())))
        pickle_s = timed(lambda d=as_pickle: pickle.loads(d))
        fmt = choose_format(estimator, example, "predict", trusted_types())
        choose_s = timed(
            lambda e=estimator: choose_format(e, example, "predict", trusted_types()), 5
        )
        rows.append(
            {
                "model": f"market_{family}:{kind}",
                "format_chosen": fmt,
                "skops_bytes": len(as_skops),
                "cloudpickle_bytes": len(as_pickle),
                "skops_load_ms": round(skops_s * 1e3, 2),
                "cloudpickle_load_ms": round(pickle_s * 1e3, 2),
                "skops_over_cloudpickle_load": round(skops_s / pickle_s, 2),
                "cloudpickle_before_bytes": len(before),
                "cloudpickle_before_load_ms": round(before_s * 1e3, 2),
                "choose_format_ms": round(choose_s * 1e3, 1),
            }
        )
        assert fmt == SKOPS, rows[-1]
    result = {"n_returns": int(returns.size), "load_average": os.getloadavg(), "models": rows}
    out = Path(__file__).parent / "results" / "bench_safe_formats.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
