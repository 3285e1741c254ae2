"""Size and power of the VaR promotion gates, the policy's whole gate set at once.

Each trial draws one evaluation window of 1,000 days (the VaR family's default) of
exceedances at 95% and 99%, from one uniform per day so that a 99% exception is also a
95% one, as for any real model. The gates see the last 250 days and the whole window,
at both levels, exactly as for a trained model: the metrics come from
:func:`riskops.var.family.coverage_backtests` (the family's own code), and the
decision from :func:`riskops.gates.evaluate` with the ``market_var`` policy of
``policies.yaml`` (or ``--policy``), the data-drift record showing no drift.

Scenarios (independent days in all):

* ``calibrated`` -- a correct model: exceptions with probability 1% and 5%. The share
  of trials refused is the gate set's **size** (target <= 5%).
* ``claims99_covers98`` -- the issue's alternative: the 99% VaR is the 98% quantile (2%
  exceptions), the 95% VaR is right. The share refused is the **power** (target >= 0.8).
* ``understated_vol`` -- the same 99% error from a volatility understated by 12%
  under normal returns, so the 95% VaR covers only 92.7%: reported as ``power_vol``.

Run: ``.venv/bin/python bench/bench_var_gates.py --trials 2000 --seed 0 --json``
(about a minute). Standard errors are binomial, ``sqrt(r (1 - r) / N)``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from riskops import gates
from riskops.policy import load_policies
from riskops.settings import Settings
from riskops.var.family import coverage_backtests, coverage_evidence

DAYS = 1000
NO_DRIFT = {"share_of_drifted_columns": 0.0, "drifted_columns": []}


def _understated_vol_95() -> float:
    """Exception rate of the 95% VaR of a normal model whose 99% VaR covers only 98%."""
    scale = stats.norm.ppf(0.98) / stats.norm.ppf(0.99)
    return float(stats.norm.sf(stats.norm.ppf(0.95) * scale))


SCENARIOS = {
    "calibrated": (0.01, 0.05),
    "claims99_covers98": (0.02, 0.05),
    "understated_vol": (0.02, _understated_vol_95()),
}


def refusals(p99: float, p95: float, trials: int, rng: np.random.Generator, policy: Any) -> dict:
    """Share of ``trials`` windows the gate set refuses, and which gates refused."""
    refused = 0
    by_gate: Counter[str] = Counter()
    for _ in range(trials):
        u = rng.random(DAYS)
        hits = {0.95: u < p95, 0.99: u < p99}
        metrics, results = coverage_backtests(hits)
        evidence = {
            "metrics": metrics,
            "evidence": coverage_evidence(results),
            "data_drift": NO_DRIFT,
            "champion": None,
        }
        report = gates.evaluate("market_var", None, evidence, policy)
        if not report.passed:
            refused += 1
            by_gate.update(r.gate for r in report.failures)
    rate = refused / trials
    return {
        "p_exception_99": p99,
        "p_exception_95": round(p95, 5),
        "refused": rate,
        "se": math.sqrt(rate * (1 - rate) / trials),
        "by_gate": {g: c / trials for g, c in sorted(by_gate.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", type=Path, default=None, help="default: policies.yaml")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    path = args.policy or Settings().policy_file
    policy = load_policies(path).for_model("market_var", "var")
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    scenarios = {
        name: refusals(p99, p95, args.trials, rng, policy) for name, (p99, p95) in SCENARIOS.items()
    }
    out = {
        "trials": args.trials,
        "seed": args.seed,
        "days": DAYS,
        "policy": str(path),
        "gates": [c.metric for c in policy.backtests],
        "size": scenarios["calibrated"]["refused"],
        "size_se": scenarios["calibrated"]["se"],
        "power": scenarios["claims99_covers98"]["refused"],
        "power_se": scenarios["claims99_covers98"]["se"],
        "power_vol": scenarios["understated_vol"]["refused"],
        "scenarios": scenarios,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(out))
        return
    print(f"gate set of {path} ({len(out['gates'])} backtests), {args.trials} trials:")
    print(f"  size  {out['size']:.4f} +- {out['size_se']:.4f}  (target <= 0.05)")
    print(f"  power {out['power']:.4f} +- {out['power_se']:.4f}  (target >= 0.8)")
    print(f"  power, understated volatility {out['power_vol']:.4f}")
    for name, res in scenarios.items():
        print(f"  {name}: " + ", ".join(f"{g} {r:.4f}" for g, r in res["by_gate"].items()))


if __name__ == "__main__":
    main()
