"""Alarms on matured outcomes: the policy's rules applied to an :class:`OutcomeResult`.

Pure: a result and the rules in, every check out with its status and reason. A check is
``alarm``, ``ok``, ``not_evaluated`` (too few observations, no reference...) or
``disabled`` (the rule is switched off in the policy); nothing missing passes silently.
The alarms of a report are what the lifecycle turns into a
``riskops.performance.degraded`` event and a retrain.

Sizes: each rule is a test of size ``alpha`` for a correct model; the rules over grades
split ``alpha`` over the grades (or adjacent pairs) they test (Bonferroni), see
:mod:`riskops.credit.outcome_policy`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskops.credit.outcome_policy import OutcomeAlarmRules
from riskops.credit.outcomes import OutcomeResult
from riskops.stats._result import Result
from riskops.stats.discrimination import compare_with_initial

__all__ = ["STATUSES", "AlarmCheck", "AlarmReport", "evaluate_alarms"]

STATUSES = ("alarm", "ok", "not_evaluated", "disabled")


@dataclass(frozen=True)
class AlarmCheck(Result):
    """One rule applied to one subject (a grade, the portfolio or the whole model)."""

    rule: str
    subject: str
    status: str
    value: float | None
    threshold: float | None
    reason: str


@dataclass(frozen=True)
class AlarmReport:
    """Every check of one model version; :attr:`alarms` are those that fired."""

    model_name: str
    model_version: str
    checks: tuple[AlarmCheck, ...]

    @property
    def alarms(self) -> tuple[AlarmCheck, ...]:
        return tuple(c for c in self.checks if c.status == "alarm")

    @property
    def fired(self) -> bool:
        return bool(self.alarms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "fired": self.fired,
            "alarms": [c.to_dict() for c in self.alarms],
            "checks": [c.to_dict() for c in self.checks],
        }


def evaluate_alarms(result: OutcomeResult, rules: OutcomeAlarmRules) -> AlarmReport:
    """Apply the policy's alarm rules to one version's outcome tests."""
    checks: list[AlarmCheck] = []
    checks += _jeffreys(result, rules)
    checks += _auc(result, rules)
    checks += _psi(result, rules)
    checks += _herfindahl(result, rules)
    checks += _reversals(result, rules)
    return AlarmReport(result.model_name, result.model_version, tuple(checks))


def _disabled(rule: str) -> list[AlarmCheck]:
    return [AlarmCheck(rule, "model", "disabled", None, None, "switched off in the policy")]


def _missing_reason(result: OutcomeResult, *parts: str) -> str:
    for what, why in result.not_evaluated:
        if what in parts:
            return f"{what}: {why}"
    return "not computed"


def _jeffreys(result: OutcomeResult, rules: OutcomeAlarmRules) -> list[AlarmCheck]:
    rule = rules.jeffreys
    if rule is None:
        return _disabled("jeffreys")
    tests = result.grades
    subjects = [
        (label, n, d, p, pv)
        for label, n, d, p, pv in zip(
            tests.labels, tests.n, tests.defaults, tests.pd, tests.jeffreys_pvalue, strict=True
        )
    ]
    if rule.include_portfolio:
        port = result.portfolio
        subjects.append(
            (port.labels[0], port.n[0], port.defaults[0], port.pd[0], port.jeffreys_pvalue[0])
        )
    tested = [s for s in subjects if s[1] >= rule.min_observations]
    threshold = rule.alpha / len(tested) if tested else None
    checks = []
    for label, n, d, p, pvalue in subjects:
        if n < rule.min_observations:
            checks.append(
                AlarmCheck(
                    "jeffreys",
                    label,
                    "not_evaluated",
                    None,
                    None,
                    f"{n} matured outcomes, the rule needs {rule.min_observations}",
                )
            )
            continue
        assert threshold is not None
        fired = pvalue < threshold
        checks.append(
            AlarmCheck(
                "jeffreys",
                label,
                "alarm" if fired else "ok",
                float(pvalue),
                threshold,
                f"{d} defaults in {n} ({d / n:.2%}) against a mean PD of {p:.2%}: "
                f"p = {pvalue:.3g} {'<' if fired else '>='} {threshold:.3g} "
                f"(alpha {rule.alpha} over {len(tested)} tested)"
                + (f"; {rule.why}" if fired else ""),
            )
        )
    return checks


def _auc(result: OutcomeResult, rules: OutcomeAlarmRules) -> list[AlarmCheck]:
    rule = rules.auc_below_initial
    if rule is None:
        return _disabled("auc_below_initial")
    test = result.auc_vs_initial
    if result.auc is None or test is None:
        reason = _missing_reason(result, "auc", "auc_vs_initial")
        return [AlarmCheck("auc_below_initial", "model", "not_evaluated", None, None, reason)]
    fewest = min(result.auc.n_positive, result.auc.n_negative)
    if fewest < rule.min_defaults:
        return [
            AlarmCheck(
                "auc_below_initial",
                "model",
                "not_evaluated",
                None,
                None,
                f"{result.auc.n_positive} defaults and {result.auc.n_negative} non-defaults; "
                f"the rule needs {rule.min_defaults} of each",
            )
        ]
    test = compare_with_initial(result.auc, test.auc_initial, rule.variance)
    fired = test.pvalue < rule.alpha
    return [
        AlarmCheck(
            "auc_below_initial",
            "model",
            "alarm" if fired else "ok",
            test.pvalue,
            rule.alpha,
            f"AUC {test.auc_current:.3f} on outcomes against {test.auc_initial:.3f} at initial "
            f"validation: S = {test.statistic:.2f} ({rule.variance} s.e. {test.se:.4f}), "
            f"p = {test.pvalue:.3g} {'<' if fired else '>='} {rule.alpha}"
            + (f"; {rule.why}" if fired else ""),
        )
    ]


def _psi(result: OutcomeResult, rules: OutcomeAlarmRules) -> list[AlarmCheck]:
    rule = rules.psi
    if rule is None:
        return _disabled("psi")
    if result.psi_grades is None:
        reason = _missing_reason(result, "psi_grades")
        return [AlarmCheck("psi", "model", "not_evaluated", None, None, reason)]
    fired = result.psi_grades > rule.max_psi
    return [
        AlarmCheck(
            "psi",
            "model",
            "alarm" if fired else "ok",
            result.psi_grades,
            rule.max_psi,
            f"PSI of the grade shares {result.psi_grades:.3f} "
            f"{'>' if fired else '<='} {rule.max_psi}" + (f"; {rule.why}" if fired else ""),
        )
    ]


def _herfindahl(result: OutcomeResult, rules: OutcomeAlarmRules) -> list[AlarmCheck]:
    rule = rules.herfindahl
    if rule is None:
        return _disabled("herfindahl")
    test = result.herfindahl_test
    if test is None:
        reason = _missing_reason(result, "herfindahl", "herfindahl_test")
        return [AlarmCheck("herfindahl", "model", "not_evaluated", None, None, reason)]
    pvalue = test.pvalue_mc if rule.test == "monte_carlo" else test.pvalue
    fired = pvalue < rule.alpha
    return [
        AlarmCheck(
            "herfindahl",
            "model",
            "alarm" if fired else "ok",
            pvalue,
            rule.alpha,
            f"Herfindahl index (ECB form) {test.current.hi_ecb:.4f} against "
            f"{test.initial.hi_ecb:.4f} at initial validation: {rule.test} p = {pvalue:.3g} "
            f"{'<' if fired else '>='} {rule.alpha} (ECB z = {test.statistic:.2f}, "
            f"p = {test.pvalue:.3g})" + (f"; {rule.why}" if fired else ""),
        )
    ]


def _reversals(result: OutcomeResult, rules: OutcomeAlarmRules) -> list[AlarmCheck]:
    rule = rules.grade_reversals
    if rule is None:
        return _disabled("grade_reversals")
    from riskops.credit.metrics import significant_grade_reversals

    tests = result.grades
    rows = [
        (lab, n, d) for lab, n, d in zip(tests.labels, tests.n, tests.defaults, strict=True) if n
    ]
    if len(rows) < 2:
        return [
            AlarmCheck(
                "grade_reversals",
                "model",
                "not_evaluated",
                None,
                None,
                "fewer than 2 grades with matured outcomes",
            )
        ]
    threshold = rule.alpha / (len(rows) - 1)
    checks = []
    for (better, n1, d1), (worse, n2, d2) in itertools.pairwise(rows):
        pair = pd.DataFrame({"grade": [better, worse], "n": [n1, n2], "defaults": [d1, d2]})
        fired = bool(significant_grade_reversals(pair, alpha=threshold))
        rate1, rate2 = d1 / n1, d2 / n2
        checks.append(
            AlarmCheck(
                "grade_reversals",
                f"{better}/{worse}",
                "alarm" if fired else "ok",
                float(rate2 - rate1),
                threshold,
                f"default rate {rate1:.2%} in {better}, {rate2:.2%} in {worse}: "
                + (
                    f"significant reversal (one-sided Fisher at {threshold:.3g}); {rule.why}"
                    if fired
                    else (
                        "no reversal" if rate2 >= rate1 else f"not significant at {threshold:.3g}"
                    )
                ),
            )
        )
    return checks
