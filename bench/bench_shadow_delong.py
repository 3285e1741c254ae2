"""Size and power of the shadow window's paired DeLong gate at the sample sizes it sees.

The gate (``credit_pd``'s ``rules: outcomes: shadow_comparison`` in ``policies.yaml``;
:func:`riskops.credit.shadow.shadow_delong_gate`) refuses a challenger when DeLong's paired
test finds its AUC below the champion's, one-sided at ``alpha`` (0.05), on at least
``min_pairs`` matured pairs with ``min_defaults`` defaults and as many non-defaults.

Each trial draws ``n`` applicants with a latent credit quality ``z ~ N(0, 1)``, outcomes
``y ~ Bernoulli(logistic(a + 1.5 z))`` (``a`` set for the default rate), a champion score
``z + N(0, 1)`` and a challenger score from one scenario:

* ``equal`` -- ``z + N(0, 1)``, independent noise of the same scale: the same true AUC; the
  share of trials the gate refuses is its **size** (target at most ``alpha``);
* ``worse_noise_1.5`` -- ``z + N(0, 1.5^2)``: a somewhat worse ranking (power);
* ``shuffled_30pct`` -- the champion's scores permuted among 30% of the applicants (the same
  score distribution, so the drift gates see nothing; power).

Sizes: the gate's minimum (200 pairs at a 20% default rate: about 40 defaults) and the ISLR-like
window of ``tests/decisions/test_shadow_delong.py`` (1,500 pairs at 3.7%: about 56
defaults). Trials with fewer defaults or non-defaults than the minimum are "not evaluated"
and counted apart. Standard errors are binomial, ``sqrt(r (1 - r) / N)``.

Run: ``.venv/bin/python bench/bench_shadow_delong.py`` (under a minute on a loaded core).
Writes ``bench/results/bench_shadow_delong.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from scipy import optimize, special

from riskops.credit.outcome_policy import ShadowComparisonRule
from riskops.stats.discrimination import delong_paired_test

RESULTS = Path(__file__).parent / "results" / "bench_shadow_delong.json"
SIZES = ((200, 0.2), (1500, 0.037))
SCENARIOS = ("equal", "worse_noise_1.5", "shuffled_30pct")


def _intercept(rate: float, rng: np.random.Generator) -> float:
    """The intercept giving ``rate`` defaults on average under the latent model."""
    z = rng.normal(size=200_000)
    return float(optimize.brentq(lambda a: special.expit(a + 1.5 * z).mean() - rate, -10, 10))


def _trial(
    rng: np.random.Generator, n: int, intercept: float, scenario: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = rng.normal(size=n)
    y = (rng.random(n) < special.expit(intercept + 1.5 * z)).astype(np.int8)
    champion = z + rng.normal(size=n)
    if scenario == "equal":
        challenger = z + rng.normal(size=n)
    elif scenario == "worse_noise_1.5":
        challenger = z + rng.normal(scale=1.5, size=n)
    else:
        challenger = champion.copy()
        moved = np.flatnonzero(rng.random(n) < 0.3)
        challenger[moved] = challenger[rng.permutation(moved)]
    return y, champion, challenger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rule = ShadowComparisonRule()
    rng = np.random.default_rng(20261207)
    started = time.perf_counter()
    rows = []
    for n, rate in SIZES:
        intercept = _intercept(rate, rng)
        for scenario in SCENARIOS:
            refused = evaluated = 0
            for _ in range(args.trials):
                y, champion, challenger = _trial(rng, n, intercept, scenario)
                defaults = int(y.sum())
                if n < rule.min_pairs or min(defaults, n - defaults) < rule.min_defaults:
                    continue
                evaluated += 1
                test = delong_paired_test(y, challenger, champion)
                refused += bool(test.pvalue_a_lower < rule.alpha)
            share = refused / evaluated if evaluated else float("nan")
            rows.append(
                {
                    "pairs": n,
                    "default_rate": rate,
                    "scenario": scenario,
                    "trials": args.trials,
                    "evaluated": evaluated,
                    "refused_share": round(share, 4),
                    "se": round(math.sqrt(share * (1 - share) / evaluated), 4)
                    if evaluated
                    else None,
                }
            )
            print(rows[-1], flush=True)
    payload = {
        "bench": "bench_shadow_delong",
        "rule": rule.model_dump(),
        "results": rows,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
