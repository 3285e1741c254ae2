"""Policy of a credit model judged on matured outcomes: the default definition and the alarms.

The ``outcomes`` rule of a credit model's policy (``policies.yaml``), parsed with the
family's other rules by :meth:`riskops.credit.family.CreditFamily.rules`::

    credit_pd:
      family: credit
      rules:
        outcomes:
          default_horizon_months: 12
          traffic_lights: {yellow_below: 0.05, red_below: 0.001}
          alarms:
            jeffreys: {alpha: 0.01, min_observations: 100}
            auc_below_initial: {alpha: 0.01, min_defaults: 30}
            psi: {max_psi: 0.25}
            herfindahl: {alpha: 0.01}
            grade_reversals: {alpha: 0.01}

Every alarm is a test at a stated size. Tests over several grades (Jeffreys per grade,
reversals per adjacent pair) split their ``alpha`` over the grades they test (Bonferroni:
for the decision "alarm if any grade rejects", also Holm's), so that a correctly
calibrated model raises each alarm with probability at most ``alpha``; the whole set's
measured false-alarm rate and power are in ``bench/bench_outcomes.py``. Setting an alarm
to ``null`` switches it off; it is then reported as not evaluated, never as passed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AucAlarm",
    "HerfindahlAlarm",
    "JeffreysAlarm",
    "OutcomeAlarmRules",
    "OutcomePolicy",
    "PsiAlarm",
    "ReversalAlarm",
    "ShadowComparisonRule",
    "TrafficLights",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrafficLights(_Frozen):
    """p-value thresholds of the per-grade traffic lights (Tasche, 2003; OeNB, 2004):
    green at ``p >= yellow_below``, red at ``p < red_below``, yellow between."""

    yellow_below: float = Field(default=0.05, gt=0, lt=1)
    red_below: float = Field(default=0.001, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> TrafficLights:
        if not self.red_below < self.yellow_below:
            raise ValueError(
                f"traffic_lights: red_below ({self.red_below}) must be below "
                f"yellow_below ({self.yellow_below})"
            )
        return self


class JeffreysAlarm(_Frozen):
    """Alarm when the Jeffreys test rejects the PD of a grade (or of the portfolio).

    Only grades with at least ``min_observations`` matured outcomes are tested (fewer are
    reported as not evaluated). Each tested grade's p-value is compared with
    ``alpha / (number tested)``.
    """

    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_observations: int = Field(default=100, ge=1)
    include_portfolio: bool = True
    why: str = "realised default rate significantly above the PD (ECB Jeffreys test)"


class AucAlarm(_Frozen):
    """Alarm when the AUC on matured outcomes is significantly below the initial AUC
    (the ECB's one-sided test). Needs ``min_defaults`` defaults (and as many
    non-defaults): the normal approximation is poor with a handful of defaults."""

    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_defaults: int = Field(default=30, ge=2)
    variance: Literal["delong", "hanley_mcneil"] = "delong"
    why: str = "discrimination significantly below the initial validation (ECB AUC test)"


class PsiAlarm(_Frozen):
    """Alarm when the PSI of the grade distribution against the development sample
    exceeds ``max_psi`` (0.25: a significant shift in the usual reading, Siddiqi, 2006)."""

    max_psi: float = Field(default=0.25, gt=0)
    why: str = "grade distribution shifted from the development sample"


class HerfindahlAlarm(_Frozen):
    """Alarm when the grades are significantly more concentrated than at initial
    validation.

    The p-value is the Monte Carlo one (``test: monte_carlo``, default): the ECB's
    statistic does not depend on the number of obligors and, for a rating scale whose
    initial grades are equally filled (quantile edges), rejects a correct model almost
    surely (:mod:`riskops.stats.concentration`). ``test: ecb`` uses the instructions'
    p-value anyway, knowingly.
    """

    alpha: float = Field(default=0.01, gt=0, lt=1)
    test: Literal["monte_carlo", "ecb"] = "monte_carlo"
    why: str = "grades significantly more concentrated than at initial validation"


class ReversalAlarm(_Frozen):
    """Alarm when a worse grade defaults significantly less than the grade above it
    (one-sided Fisher test per adjacent pair, at ``alpha / (pairs tested)``)."""

    alpha: float = Field(default=0.01, gt=0, lt=1)
    why: str = "default rates do not rise with the grade on outcomes"


class OutcomeAlarmRules(_Frozen):
    jeffreys: JeffreysAlarm | None = JeffreysAlarm()
    auc_below_initial: AucAlarm | None = AucAlarm()
    psi: PsiAlarm | None = PsiAlarm()
    herfindahl: HerfindahlAlarm | None = HerfindahlAlarm()
    grade_reversals: ReversalAlarm | None = ReversalAlarm()


class ShadowComparisonRule(_Frozen):
    """The promotion gate on a shadow window's matured outcomes: DeLong's paired test of
    the challenger's PDs against the champion's on the applicants both scored
    (:func:`riskops.credit.shadow.shadow_delong_gate`).

    Refuse when the challenger's AUC is significantly below the champion's: the one-sided
    p-value of "challenger worse" below ``alpha`` (a test of size ``alpha`` against an
    equally good challenger). Judged only on at least ``min_pairs`` matured pairs with
    ``min_defaults`` defaults and as many non-defaults (the normal approximation is poor
    with a handful of defaults, as for the AUC alarm); fewer are reported "not evaluated"
    with the counts, never as passed on evidence.
    """

    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_pairs: int = Field(default=200, ge=4)
    min_defaults: int = Field(default=30, ge=2)
    why: str = "the challenger ranks the matured applicants of its shadow window worse"


class OutcomePolicy(_Frozen):
    """How a credit model is judged on matured outcomes.

    ``default_horizon_months``: the default definition's horizon; a decision is matured
    once that many calendar months have passed since it was made, and only a default
    within the horizon counts as a default. ``auc_score``: rank applicants by their PD
    (default) or by their grade number (the rating system's AUC, with ties within
    grades). ``ece_bins``: equal-width PD bins of the expected calibration error.
    """

    default_horizon_months: int = Field(default=12, ge=1, le=120)
    traffic_lights: TrafficLights = TrafficLights()
    auc_score: Literal["pd", "grade"] = "pd"
    ece_bins: int = Field(default=10, ge=2, le=100)
    alarms: OutcomeAlarmRules = OutcomeAlarmRules()
    shadow_comparison: ShadowComparisonRule | None = ShadowComparisonRule()
    """The shadow window's paired DeLong gate at a challenger's promotion; ``null``: not
    evaluated (reported so)."""
