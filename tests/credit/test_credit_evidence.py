"""Credit evidence that means what it says: an independent comparison window, target
leakage, protected attributes, and statistics that fail closed (no MLflow needed here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.credit.fairness import adverse_impact, fairness_gate
from riskops.credit.family import CreditFamily
from riskops.credit.leakage import leakage_evidence, leakage_gate, univariate_aucs
from riskops.credit.split import SplitMemory, exclude_known, fingerprints
from riskops.data.credit import CreditDataset
from riskops.gates import data_drift_gate, evaluate
from riskops.policy import DataDriftRule, Policy

from .synthetic import make_applicants

POLICY = Policy(
    family="credit",
    rules={
        "leakage": {"max_univariate_auc": 0.95},
        "fairness": {"approval_max_pd": 0.3, "min_adverse_impact_ratio": 0.8, "min_group_rows": 5},
    },
)
RULES = CreditFamily().rules(POLICY)


def _dataset(n: int = 600, seed: int = 0) -> CreditDataset:
    X, y = make_applicants(n, seed=seed)
    frame = X.assign(status=np.where(y == 1, "bad", "good"))
    return CreditDataset("applicants", "test", frame, "status", "bad")


def _champion_memory(dataset: CreditDataset) -> SplitMemory:
    train, test, _ = CreditFamily().split(dataset, 0.25, seed=1)
    return SplitMemory.of(train.X, test.X, dataset.features)


# ----------------------------------------------------------------- independent comparison
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.integers(0, 599), max_size=40, unique=True),
    order_seed=st.integers(0, 2**31 - 1),
    constant=st.sampled_from([0.0, 1.0, -3.5]),
    seed=st.integers(0, 1000),
)
def test_constant_column_flipped_labels_and_shuffled_rows_keep_the_champions_training_rows_out(
    flips: list[int], order_seed: int, constant: float, seed: int
) -> None:
    # Given a champion's split of the applicants, remembered by feature fingerprints
    base = _dataset()
    memory = _champion_memory(base)
    # And the same applicants with one constant column added, some labels flipped (late
    # defaults) and the rows shuffled
    frame = base.frame.copy()
    frame.loc[flips, "status"] = np.where(frame.loc[flips, "status"] == "bad", "good", "bad")
    frame = frame.assign(constant=constant).sample(frac=1.0, random_state=order_seed)
    changed = base.with_frame(frame.reset_index(drop=True))
    changed = CreditDataset(**{**changed.__dict__, "split_memory": memory})
    # When the challenger splits them (any seed) following the champion's memory
    _, test, split = CreditFamily().split(changed, 0.25, seed=seed)
    # Then no row the champion trained on is in the comparison window, nothing is dropped,
    # and the held-out rows are exactly the champion's held-out rows
    kept, dropped = exclude_known(test.frame, memory)
    assert dropped == 0 and kept.all()
    assert split["follows_champion"]["rows_trained_on"] == len(memory.train)
    held = set(fingerprints(test.frame, memory.columns).tolist())
    assert held == set(memory.held_out)
    assert "seed" not in split


@settings(max_examples=25, deadline=None)
@given(flips=st.lists(st.integers(0, 599), max_size=60, unique=True), order=st.integers(0, 10**6))
def test_without_a_champion_a_label_flip_or_a_shuffle_never_moves_an_applicant(
    flips: list[int], order: int
) -> None:
    # Given the applicants split by their feature values alone
    base = _dataset()
    _, test_a, _ = CreditFamily().split(base, 0.25, seed=0)
    # When labels flip and the rows are shuffled
    frame = base.frame.copy()
    frame.loc[flips, "status"] = np.where(frame.loc[flips, "status"] == "bad", "good", "bad")
    moved = base.with_frame(frame.sample(frac=1.0, random_state=order).reset_index(drop=True))
    _, test_b, _ = CreditFamily().split(moved, 0.25, seed=order)
    # Then the same applicants are held out
    columns = base.features
    assert set(fingerprints(test_a.frame, columns).tolist()) == set(
        fingerprints(test_b.frame, columns).tolist()
    )


def test_fingerprints_ignore_int_or_float_spelling_and_the_label() -> None:
    # Given the same applicants read with integer ages, float ages, and another label
    X, _ = make_applicants(50, seed=2)
    as_int = X.assign(age=X["age"].astype(int))
    as_float = X.assign(age=X["age"].astype(float), label=1)
    columns = list(X.columns)
    # Then their fingerprints are equal, and one changed value changes one fingerprint
    assert (fingerprints(as_int, columns) == fingerprints(as_float, columns)).all()
    other = X.copy()
    other.loc[3, "age"] += 1
    assert (fingerprints(other, columns) != fingerprints(X, columns)).sum() == 1


def test_applicant_key_splits_every_row_of_an_applicant_to_one_side() -> None:
    # Given applicants who applied several times under one key
    base = _dataset(600)
    frame = base.frame.assign(applicant=np.arange(600) // 3)
    keyed = CreditDataset("keyed", "test", frame, "status", "bad", id_col="applicant")
    # When split by the key
    train, test, split = CreditFamily().split(keyed, 0.25, seed=0)
    # Then no applicant is on both sides, and the key is not a feature
    assert split["kind"] == "applicant_key"
    assert not set(train.frame["applicant"]) & set(test.frame["applicant"])
    assert "applicant" not in keyed.features


# ----------------------------------------------------------------------- target leakage
def test_near_perfect_single_feature_is_refused_naming_column_auc_and_remedy() -> None:
    # Given applicants plus a column recorded after the outcome (a collections flag
    # that is almost always set for defaulters)
    base = _dataset(800, seed=5)
    rng = np.random.default_rng(0)
    y = base.y.to_numpy()
    leak = np.where(rng.uniform(size=len(y)) < 0.02, 1 - y, y) * 100.0
    X = base.X.assign(collections_balance=leak)
    train, test = X.iloc[:600], X.iloc[600:]
    # When each feature's univariate AUC is measured on the held-out rows
    aucs = univariate_aucs(train, y[:600], test, y[600:])
    # Then the leaky column is near perfect and the genuine ones are not
    assert aucs["collections_balance"] >= 0.95
    assert max(v for k, v in aucs.items() if k != "collections_balance") < 0.8
    # And the gate fails naming the column, its AUC and what to do
    evidence = {"evidence": {"leakage": leakage_evidence(aucs, {})}}
    failed = [r for r in leakage_gate(evidence, RULES) if not r.passed]
    assert [r.gate for r in failed] == ["leakage:collections_balance"]
    assert f"AUC {aucs['collections_balance']:.3f}" in failed[0].reason
    assert "drop the column" in failed[0].reason and "--acknowledge-leakage" in failed[0].reason
    # And an acknowledgement with a reason lets it pass, with the reason in the report
    acknowledged = leakage_evidence(aucs, {"collections_balance": "known at application"})
    results = leakage_gate({"evidence": {"leakage": acknowledged}}, RULES)
    assert all(r.passed for r in results)
    assert "known at application" in results[0].reason


def test_identical_feature_has_auc_one_and_a_categorical_id_is_not_memorised() -> None:
    # Given the label itself as a feature, and a unique applicant id as text
    y = np.array([0, 1] * 100)
    X = pd.DataFrame({"label_copy": y.astype(float), "applicant": [f"a{i}" for i in range(200)]})
    aucs = univariate_aucs(X.iloc[:100], y[:100], X.iloc[100:], y[100:])
    # Then the copy scores AUC 1 and the unseen ids score 0.5 (no held-out label is used)
    assert aucs["label_copy"] == 1.0
    assert aucs["applicant"] == 0.5


# ------------------------------------------------------------------ protected attributes
def test_adverse_impact_ratio_is_lowest_over_highest_approval_rate() -> None:
    # Given group a with 8 of 10 approved (PD <= 0.3) and group b with 4 of 10
    groups = pd.DataFrame({"sex": ["a"] * 10 + ["b"] * 10})
    pd_ = np.array([0.1] * 8 + [0.5] * 2 + [0.2] * 4 + [0.6] * 6)
    # When the adverse impact is measured
    result = adverse_impact(groups, pd_, approval_max_pd=0.3, min_group_rows=5)
    sex = result["attributes"]["sex"]
    # Then the ratio is 0.4 / 0.8 = 0.5 and the four-fifths rule fails naming the groups
    assert sex["adverse_impact_ratio"] == pytest.approx(0.5)
    assert (sex["lowest"], sex["highest"]) == ("b", "a")
    (result_gate,) = fairness_gate({"evidence": {"fairness": result}}, RULES)
    assert not result_gate.passed and result_gate.gate == "fairness:sex"
    assert "0.500" in result_gate.reason and "b 40%" in result_gate.reason


def test_adverse_impact_ratio_that_cannot_be_measured_fails() -> None:
    # Given one group only above the minimum size
    groups = pd.DataFrame({"race": ["x"] * 10 + ["y"] * 2})
    result = adverse_impact(groups, np.full(12, 0.1), approval_max_pd=0.3, min_group_rows=5)
    (gate,) = fairness_gate({"evidence": {"fairness": result}}, RULES)
    assert not gate.passed and "cannot be measured (nan)" in gate.reason


# ------------------------------------------------------------------- fail-closed statistics
@pytest.mark.parametrize("share", [float("nan"), -0.1, 1.5, float("inf"), None])
def test_data_drift_share_that_is_not_a_share_fails_with_its_value(share: float | None) -> None:
    evidence = {"data_drift": {"share_of_drifted_columns": share, "drifted_columns": []}}
    result = data_drift_gate(evidence, Policy(family="credit"))
    assert not result.passed
    assert f"({float('nan') if share is None else float(share)})" in result.reason


def test_drift_not_evaluated_is_visible_and_the_policy_decides() -> None:
    # Given no recent window
    evidence = {"data_drift": {"evaluated": False, "reason": "no recent window"}}
    # Then the default credit policy passes it visibly, and a strict policy refuses it
    lenient = data_drift_gate(evidence, Policy(family="credit"))
    strict = data_drift_gate(
        evidence, Policy(family="credit", data_drift=DataDriftRule(require_recent_window=True))
    )
    assert lenient.passed and lenient.reason.startswith("not evaluated: no recent window")
    assert not strict.passed and "requires a recent window" in strict.reason


def test_non_finite_leakage_auc_fails() -> None:
    evidence = {"evidence": {"leakage": {"univariate_auc": {"Income": float("nan")}}}}
    (result,) = leakage_gate(evidence, RULES)
    assert not result.passed and "not finite (nan)" in result.reason


def test_champion_window_that_is_not_independent_refuses() -> None:
    # Given a champion comparison whose window could not exclude the champion's rows
    evidence = {
        "metrics": {"auc": 0.8},
        "data_drift": {"share_of_drifted_columns": 0.0, "drifted_columns": []},
        "prediction_drift": {"psi": 0.01},
        "champion": {
            "version": 1,
            "metrics": {"auc": 0.8},
            "window": {"independent": False, "reason": "no fingerprints", "n_rows": 10},
        },
    }
    report = evaluate("credit_pd", 2, evidence, Policy(family="credit"))
    failed = {r.gate: r.reason for r in report.failures}
    assert "no fingerprints" in failed["champion:independent_window"]


@pytest.mark.parametrize("psi", [float("nan"), -0.01, float("inf")])
def test_prediction_drift_that_is_not_a_psi_fails_with_its_value(psi: float) -> None:
    from riskops.gates import prediction_drift_gate

    result = prediction_drift_gate({"prediction_drift": {"psi": psi}}, Policy(family="credit"))
    assert not result.passed and f"{psi:.3f}" in result.reason


# ------------------------------------------------------------------------- recent window
def _outcome(dataset: CreditDataset) -> object:
    from types import SimpleNamespace

    _, test, _ = CreditFamily().split(dataset, 0.25, seed=0)
    return SimpleNamespace(reference=dataset.X.head(300), evaluation=test)


def test_recent_window_is_the_inference_log_when_it_holds_enough_rows(settings) -> None:  # type: ignore[no-untyped-def]
    from riskops.credit.evidence import recent_window
    from riskops.inference_log import InferenceLogWriter

    # Given an undated training set and a served champion that logged 10, then 250 rows
    dataset = _dataset()
    outcome = _outcome(dataset)
    policy = Policy(family="credit")
    writer = InferenceLogWriter(settings, "credit_pd")
    served = make_applicants(250, seed=9)[0]
    writer.log_many(
        served.head(10).astype(object).where(served.head(10).notna(), None).to_dict("records")
    )
    writer.close()
    # Then 10 rows are not a window: not evaluated, saying why
    current, window = recent_window(settings, "credit_pd", dataset, None, outcome, policy)
    assert current is None and "inference log holds 10 rows" in window["reason"]
    # And 250 rows are, over the model's features
    writer = InferenceLogWriter(settings, "credit_pd")
    rest = served.iloc[10:]
    writer.log_many(rest.astype(object).where(rest.notna(), None).to_dict("records"))
    writer.close()
    current, window = recent_window(settings, "credit_pd", dataset, None, outcome, policy)
    assert window["kind"] == "inference_log" and len(current) == 250
    assert list(current.columns) == list(outcome.reference.columns)


def test_recent_window_falls_back_to_the_latest_period_and_never_to_the_training_data(
    settings,  # type: ignore[no-untyped-def]
) -> None:
    from riskops.credit.evidence import recent_window
    from riskops.errors import BadInputError

    # Given dated applicants and no inference log
    base = _dataset()
    dated = CreditDataset(
        "dated",
        "test",
        base.frame.assign(opened=pd.date_range("2020-01-01", periods=600, freq="D")),
        "status",
        "bad",
        date_col="opened",
    )
    outcome = _outcome(dated)
    policy = Policy(family="credit")
    # Then the window is the out-of-time held-out period
    current, window = recent_window(settings, "credit_pd", dated, None, outcome, policy)
    assert window["kind"] == "latest_period" and len(current) == len(outcome.evaluation.frame)
    # And a "recent" file that is the training data itself is refused
    with pytest.raises(BadInputError, match="training data itself"):
        recent_window(settings, "credit_pd", base, base, _outcome(base), policy)


def test_a_feature_without_values_in_the_recent_window_counts_as_drifted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from riskops.credit.evidence import measure_drift

    # Given a recent window where a feed stopped sending incomes
    reference = make_applicants(1200, seed=1)[0]
    current = make_applicants(1200, seed=2)[0].assign(income=np.nan)
    # When drift is measured, no exception: income is drifted, the rest measured
    drift = measure_drift(
        reference, current, {"kind": "recent_file"}, Policy(family="credit"), tmp_path / "d.html"
    )
    assert drift["evaluated"] and "income" in drift["drifted_columns"]
    assert drift["columns_without_values"] == ["income"]
    assert drift["share_of_drifted_columns"] == pytest.approx(len(drift["drifted_columns"]) / 5)
