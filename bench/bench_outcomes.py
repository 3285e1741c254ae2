"""The outcome tests on 1,000,000 matured decisions, and the alarm set's size and power.

Part 1 -- speed (goal: at most 5 s on 2 cores). One million seeded decisions of one model
version over 8 grades, each with a matured outcome (:mod:`riskops.credit.outcome_simulation`),
string ids, outcomes shuffled against the decisions. Timed, after a warm-up call on 1,000
rows (imports), three times each: :func:`riskops.credit.outcomes.evaluate_outcomes` (join
by id, maturity, per-grade Jeffreys/binomial, DeLong AUC and the ECB test, PSI,
Herfindahl with its 9,999-draw Monte Carlo p-value, Brier, ECE, reversals), then once the
alarms (the reference AUC here is a round 0.75, so the AUC alarm's path runs too) and the
ingestion of the same million outcome rows (ids and ISO dates as a CSV gives them).
Side by side in the same run: DeLong's components by one sort (ours) against Sun & Xu's
three midrank sorts (``scipy.stats.rankdata``), and scikit-learn's ``roc_auc_score`` for
the AUC alone.

Part 2 -- size and power of the policy's alarm set (``policies.yaml``, ``credit_pd``
``rules: outcomes:``): each trial draws a fresh development sample (which fixes the quantile
grade edges and the initial grade counts) and a fresh portfolio of ``n`` matured
decisions, outcomes from one scenario, and applies every alarm rule:

* ``calibrated`` -- defaults with the decision's PD: the share of trials with any alarm is
  the set's **size** (false-alarm rate; target at most 5%);
* ``doubled_two_worst`` -- default rates doubled in G7 and G8 (the issue's demonstration);
* ``understated_20pct`` -- every PD 20% too low;
* ``flattened`` -- true default probability ``m + 0.6 (PD - m)`` (``m`` the mean PD): the
  model overstates its ranking, the AUC falls and the extreme grades miscalibrate.

The initial AUC of every trial is the AUC of the PDs on calibrated outcomes of part 1's
million decisions (the expected AUC, standard error under 0.001). The ECB's own
Herfindahl p-value is tallied separately (``ecb_herfindahl_rejects``) to show why the
alarm does not use it. Standard errors are binomial, ``sqrt(r (1 - r) / N)``.

Run: ``.venv/bin/python bench/bench_outcomes.py`` (about five minutes on 2 loaded cores;
``--trials 100`` for a quick look). Writes ``bench/results/bench_outcomes.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskops.credit.family import CreditFamily
from riskops.credit.outcome_alarms import evaluate_alarms
from riskops.credit.outcome_ingestion import ingest_outcomes
from riskops.credit.outcome_policy import OutcomePolicy
from riskops.credit.outcome_simulation import simulate_outcomes, synthetic_decisions
from riskops.credit.outcomes import InitialValidation, evaluate_outcomes
from riskops.policy import load_policies
from riskops.stats.discrimination import delong_components

AS_OF = "2025-02-01"
GOAL_SECONDS = 5.0
POLICIES = Path(__file__).parents[1] / "platform" / "riskops" / "policies.yaml"
RESULTS = Path(__file__).parent / "results" / "bench_outcomes.json"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def _three_sort_delong(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Sun & Xu (2014) as written: midranks of all, of positives, of negatives."""
    from scipy.stats import rankdata

    positive = y == 1
    x, z = score[positive], score[~positive]
    m, n = len(x), len(z)
    tz = rankdata(np.concatenate([x, z]))
    tx, ty = rankdata(x), rankdata(z)
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    return auc, (tz[:m] - tx) / n, 1 - (tz[m:] - ty) / m


def speed(policy: OutcomePolicy, rows: int, seed: int) -> tuple[dict[str, Any], float]:
    decisions, development = synthetic_decisions(rows, seed=seed)
    outcomes = simulate_outcomes(decisions, seed=seed + 1).sample(frac=1.0, random_state=seed)
    outcomes = outcomes.reset_index(drop=True)
    references = {("credit_pd", "1"): InitialValidation(0.75, development)}

    small, small_dev = synthetic_decisions(1000, seed=seed)
    _, warm_wall, _ = _timed(
        lambda: evaluate_outcomes(
            small,
            simulate_outcomes(small, seed=seed),
            as_of=AS_OF,
            policy=policy,
            references={("credit_pd", "1"): InitialValidation(0.75, small_dev)},
        )
    )
    runs = []
    load_before = _load()
    for _ in range(3):
        (result,), wall, cpu = _timed(
            lambda: evaluate_outcomes(
                decisions, outcomes, as_of=AS_OF, policy=policy, references=references
            )
        )
        runs.append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)})
    report, alarm_wall, _ = _timed(lambda: evaluate_alarms(result, policy.alarms))
    frame = outcomes.rename(columns={"id": "loan_id"}).assign(
        observed_at=outcomes["observed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    )
    ingested, ingest_wall, ingest_cpu = _timed(
        lambda: ingest_outcomes(
            frame,
            decisions,
            id_col="loan_id",
            observed_at_col="observed_at",
            as_of=AS_OF,
            horizon_months=policy.default_horizon_months,
        )
    )

    joined = decisions.merge(outcomes, on="id")
    y = joined["default"].to_numpy()
    score = joined["pd"].to_numpy()
    (auc_ours, _, _), ours_wall, _ = _timed(lambda: delong_components(y, score))
    (auc_three, _, _), three_wall, _ = _timed(lambda: _three_sort_delong(y, score))
    from sklearn.metrics import roc_auc_score

    auc_sk, sk_wall, _ = _timed(lambda: roc_auc_score(y, score))
    assert abs(auc_ours[0] - auc_three) < 1e-12
    assert abs(auc_ours[0] - auc_sk) < 1e-12

    median_wall = float(np.median([r["wall_s"] for r in runs]))
    out = {
        "rows": rows,
        "grades": len(development),
        "evaluated": result.counts.evaluated,
        "defaults": result.counts.defaults,
        "warm_up_1000_rows_s": round(warm_wall, 3),
        "load_average_before": load_before,
        "evaluate_outcomes": runs,
        "evaluate_outcomes_median_s": median_wall,
        "goal_s": GOAL_SECONDS,
        "median_over_goal": round(median_wall / GOAL_SECONDS, 3),
        "evaluate_alarms_s": round(alarm_wall, 4),
        "alarms_fired": [f"{a.rule}:{a.subject}" for a in report.alarms],
        "ingest_outcomes_s": round(ingest_wall, 3),
        "ingest_outcomes_cpu_s": round(ingest_cpu, 3),
        "ingest_rows_to_write": len(ingested.to_write),
        "ingest_ok": ingested.ok,
        "delong_one_sort_s": round(ours_wall, 3),
        "delong_three_sorts_s": round(three_wall, 3),
        "three_sorts_over_one_sort": round(three_wall / ours_wall, 2),
        "sklearn_roc_auc_score_s": round(sk_wall, 3),
        "auc": round(float(auc_ours[0]), 5),
        "load_average_after": _load(),
    }
    assert result.auc is not None
    return out, result.auc.auc


def _flattened(decisions: pd.DataFrame) -> pd.DataFrame:
    mean = decisions["pd"].mean()
    return decisions.assign(pd=mean + 0.6 * (decisions["pd"] - mean))


SCENARIOS: dict[str, dict[str, Any]] = {
    "calibrated": {},
    "doubled_two_worst": {"default_multiplier": {"G7": 2.0, "G8": 2.0}},
    "understated_20pct": {"default_multiplier": {f"G{g}": 1.2 for g in range(1, 9)}},
    "flattened": {"truth": _flattened},
}


def alarm_rates(
    policy: OutcomePolicy, n: int, trials: int, seed: int, auc_initial: float
) -> dict[str, Any]:
    rates: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        fired = 0
        by_rule: Counter[str] = Counter()
        ecb_herfindahl = 0
        for trial in range(trials):
            trial_seed = seed + 1000 * trial
            decisions, development = synthetic_decisions(n, seed=trial_seed)
            truth = scenario.get("truth", lambda d: d)(decisions)
            outcomes = simulate_outcomes(
                truth,
                seed=trial_seed + 1,
                default_multiplier=scenario.get("default_multiplier"),
            )
            (result,) = evaluate_outcomes(
                decisions,
                outcomes,
                as_of=AS_OF,
                policy=policy,
                references={("credit_pd", "1"): InitialValidation(auc_initial, development)},
            )
            report = evaluate_alarms(result, policy.alarms)
            fired += report.fired
            by_rule.update({a.rule for a in report.alarms})
            test = result.herfindahl_test
            ecb_herfindahl += test is not None and test.pvalue < policy.alarms.herfindahl.alpha  # type: ignore[union-attr]
        rate = fired / trials
        rates[name] = {
            "any_alarm": rate,
            "se": round(math.sqrt(rate * (1 - rate) / trials), 4),
            "by_rule": {rule: count / trials for rule, count in sorted(by_rule.items())},
            "ecb_herfindahl_rejects": ecb_herfindahl / trials,
        }
        print(f"  n={n:>6} {name:<18} any alarm {rate:.3f}  {rates[name]['by_rule']}", flush=True)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 20000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rules = CreditFamily().rules(load_policies(POLICIES).models["credit_pd"])
    policy = rules.outcomes
    assert policy is not None
    started = {"utc": datetime.now(UTC).isoformat(timespec="seconds"), "load": _load()}
    speed_out, auc_initial = speed(policy, args.rows, args.seed)
    print(
        f"{args.rows:,} matured decisions: evaluate_outcomes "
        f"{[r['wall_s'] for r in speed_out['evaluate_outcomes']]} s (goal {GOAL_SECONDS} s), "
        f"alarms {speed_out['evaluate_alarms_s']} s, ingestion {speed_out['ingest_outcomes_s']} s; "
        f"DeLong one sort {speed_out['delong_one_sort_s']} s vs three "
        f"{speed_out['delong_three_sorts_s']} s; load {speed_out['load_average_before']}",
        flush=True,
    )
    power = {
        str(n): alarm_rates(policy, n, args.trials, args.seed, auc_initial) for n in args.sizes
    }
    payload = {
        "date": started["utc"],
        "machine": {
            "node": platform.node(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "load_average_start": started["load"],
        "speed": speed_out,
        "alarm_set": {
            "policy": str(POLICIES.relative_to(POLICIES.parents[2])),
            "rules": policy.alarms.model_dump(),
            "trials": args.trials,
            "seed": args.seed,
            "auc_initial": round(auc_initial, 5),
            "by_size": power,
        },
        "load_average_end": _load(),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
