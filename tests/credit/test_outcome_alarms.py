"""Alarm rules on matured outcomes: doubled default rates in the worst grades fire the
Jeffreys alarm there; a correct model on the same applicants does not; nothing missing
passes silently; the policy section loads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskops.credit.family import CreditFamily
from riskops.credit.outcome_alarms import evaluate_alarms
from riskops.credit.outcome_policy import (
    JeffreysAlarm,
    OutcomeAlarmRules,
    OutcomePolicy,
    TrafficLights,
)
from riskops.credit.outcome_simulation import simulate_outcomes, synthetic_decisions
from riskops.credit.outcomes import InitialValidation, evaluate_outcomes
from riskops.errors import BadInputError
from riskops.policy import Policy, load_policies

AS_OF = "2025-02-01"
POLICIES = Path(__file__).parents[2] / "platform" / "riskops" / "policies.yaml"


@pytest.fixture(scope="module")
def applicants() -> tuple[pd.DataFrame, dict[str, int]]:
    # The demonstration size: 4,000 matured decisions over 8 grades.
    return synthetic_decisions(4000, seed=21)


def _shipped_outcome_policy() -> OutcomePolicy:
    """The ``rules: outcomes:`` of ``credit_pd`` in the shipped policies.yaml."""
    rules = CreditFamily().rules(load_policies(POLICIES).models["credit_pd"])
    assert rules.outcomes is not None
    return rules.outcomes


def _evaluate(decisions, development, outcomes, auc_initial=None):
    reference = InitialValidation(auc=auc_initial, development_grade_counts=development)
    (result,) = evaluate_outcomes(
        decisions, outcomes, as_of=AS_OF, references={("credit_pd", "1"): reference}
    )
    return result


def test_doubled_default_rates_in_the_two_worst_grades_fire_jeffreys_there(applicants) -> None:
    decisions, development = applicants
    policy = _shipped_outcome_policy()
    # Given outcomes whose default rates are doubled in G7 and G8
    outcomes = simulate_outcomes(decisions, seed=22, default_multiplier={"G7": 2.0, "G8": 2.0})
    result = _evaluate(decisions, development, outcomes)
    # When the policy's alarms are applied
    report = evaluate_alarms(result, policy.alarms)
    # Then Jeffreys fires in G7, G8 (and the portfolio they drag up), nowhere else
    fired = {(a.rule, a.subject) for a in report.alarms}
    assert {("jeffreys", "G7"), ("jeffreys", "G8")} <= fired
    assert {s for r, s in fired if r == "jeffreys"} <= {"G7", "G8", "portfolio"}
    # And their lights are red
    lights = dict(zip(result.grades.labels, result.grades.jeffreys_light, strict=True))
    assert lights["G7"] == lights["G8"] == "red"
    g8 = next(a for a in report.alarms if a.subject == "G8")
    assert g8.threshold == pytest.approx(0.01 / 9)  # 8 grades and the portfolio tested
    assert "ECB Jeffreys test" in g8.reason
    assert report.to_dict()["fired"] is True


def test_a_correct_model_raises_no_alarm(applicants) -> None:
    decisions, development = applicants
    policy = _shipped_outcome_policy()
    outcomes = simulate_outcomes(decisions, seed=23)
    # The initial AUC is the one these PDs have on another seeded sample of the same size
    initial = _evaluate(decisions, development, simulate_outcomes(decisions, seed=24)).auc
    assert initial is not None
    result = _evaluate(decisions, development, outcomes, auc_initial=initial.auc)
    report = evaluate_alarms(result, policy.alarms)
    assert report.alarms == ()
    statuses = {c.rule: c.status for c in report.checks}
    assert statuses == {
        "jeffreys": "ok",
        "auc_below_initial": "ok",
        "psi": "ok",
        "herfindahl": "ok",
        "grade_reversals": "ok",
    }


def test_a_weaker_ranking_fires_the_auc_alarm(applicants) -> None:
    decisions, development = applicants
    outcomes = simulate_outcomes(decisions, seed=25)
    result = _evaluate(decisions, development, outcomes, auc_initial=0.90)
    report = evaluate_alarms(result, OutcomeAlarmRules())
    (auc,) = [c for c in report.checks if c.rule == "auc_below_initial"]
    assert auc.status == "alarm"
    assert "against 0.900 at initial validation" in auc.reason


def test_missing_evidence_and_switched_off_rules_are_visible(applicants) -> None:
    decisions, _ = applicants
    small = decisions.head(300)
    outcomes = simulate_outcomes(small, seed=26)
    (result,) = evaluate_outcomes(small, outcomes, as_of=AS_OF)  # no reference at all
    rules = OutcomeAlarmRules(jeffreys=JeffreysAlarm(min_observations=100), herfindahl=None)
    report = evaluate_alarms(result, rules)
    by_rule: dict[str, list[str]] = {}
    for check in report.checks:
        by_rule.setdefault(check.rule, []).append(check.status)
    # 300 decisions over 8 grades: no grade reaches 100, the portfolio does
    assert by_rule["jeffreys"].count("not_evaluated") == 8
    assert by_rule["jeffreys"][-1] in ("ok", "alarm")
    assert by_rule["auc_below_initial"] == ["not_evaluated"]
    assert by_rule["psi"] == ["not_evaluated"]
    assert by_rule["herfindahl"] == ["disabled"]
    (auc,) = [c for c in report.checks if c.rule == "auc_below_initial"]
    assert "no AUC at initial validation" in auc.reason


def test_outcome_rules_are_the_credit_familys_and_validated(tmp_path: Path) -> None:
    assert _shipped_outcome_policy().default_horizon_months == 12
    # A credit policy without the rule has none (and the generic Policy knows nothing of it)
    assert CreditFamily().rules(Policy(family="credit")).outcomes is None
    with pytest.raises(ValueError, match="red_below"):
        TrafficLights(yellow_below=0.01, red_below=0.05)
    # A horizon of zero months is refused when the family parses its rules, naming the field
    broken = tmp_path / "policies.yaml"
    text = POLICIES.read_text()
    broken.write_text(text.replace("default_horizon_months: 12", "default_horizon_months: 0"))
    policy = load_policies(broken).models["credit_pd"]
    with pytest.raises(BadInputError, match="default_horizon_months"):
        CreditFamily().rules(policy)
