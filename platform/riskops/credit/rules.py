"""The credit family's own policy rules: target leakage, fairness, matured outcomes, decisions.

They sit under ``rules:`` in a credit model's policy (``policies.yaml``)::

    credit_pd:
      family: credit
      rules:
        leakage: {max_univariate_auc: 0.95}
        fairness: {protected: [], approval_max_pd: 0.3, min_adverse_impact_ratio: 0.8}

and are parsed by :meth:`riskops.credit.family.CreditFamily.rules`, so the generic
:class:`~riskops.policy.Policy` knows nothing of credit.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from riskops.credit.outcome_policy import OutcomePolicy
from riskops.errors import BadInputError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeakageRule(_Frozen):
    """Refuse a feature whose univariate AUC against the target reaches ``max_univariate_auc``
    (target leakage: a value only known after the decision or the outcome), and a group of
    at most ``max_group_columns`` columns whose shallow model alone reaches
    ``max_group_auc`` on the held-out rows (leakage split across columns; ``None``: not
    checked)."""

    max_univariate_auc: float = Field(default=0.95, gt=0.5, le=1)
    max_group_auc: float | None = Field(default=0.95, gt=0.5, le=1)
    max_group_columns: int = Field(default=3, ge=2)


class FairnessRule(_Frozen):
    """Protected attributes and the adverse impact ratio at the approval cut-off.

    ``protected`` columns are never model features. An applicant is approved when the
    PD is at most ``approval_max_pd``; the adverse impact ratio is the lowest group
    approval rate over the highest (four-fifths rule: at least 0.8). Groups with fewer
    than ``min_group_rows`` held-out rows are reported but not compared.

    The gate reads the ratio's ``confidence`` interval: it passes when the whole interval
    is at or above the minimum, fails when it is below, and otherwise there is not enough
    evidence, which ``on_insufficient_evidence`` turns into a refusal (default) or a
    visible pass (``evaluated`` false). ``undeclared_protected``: what a feature that
    looks like a protected attribute, neither declared ``--protected`` nor acknowledged,
    does to promotion (``refuse``, or ``record`` it in the report).
    """

    protected: tuple[str, ...] = ()
    approval_max_pd: float = Field(default=0.3, gt=0, lt=1)
    min_adverse_impact_ratio: float | None = Field(default=0.8, ge=0, le=1)
    min_group_rows: int = Field(default=30, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    on_insufficient_evidence: Literal["refuse", "pass"] = "refuse"
    undeclared_protected: Literal["refuse", "record"] = "refuse"


class DecisionRule(_Frozen):
    """What the decision store keeps of each served or offline-scored applicant.

    Every decision is kept with the SHA-256 of its input row; ``store_inputs`` keeps the row
    itself too (what input-drift monitoring and ``riskops retrain --include-outcomes`` read).
    Switch it off where the applicant's data may not be kept beside the decision: drift is
    then reported as not evaluated on served inputs, and retraining cannot add outcomes.
    """

    store_inputs: bool = True


class CreditRules(_Frozen):
    """Everything under a credit policy's ``rules:``; a rule left out is not gated."""

    leakage: LeakageRule | None = None
    fairness: FairnessRule | None = None
    outcomes: OutcomePolicy | None = None
    """Default horizon and alarms on matured outcomes (:mod:`riskops.credit.outcome_policy`)."""
    decisions: DecisionRule = DecisionRule()
    """What each recorded decision keeps (:mod:`riskops.credit.decisions`)."""


def credit_rules(policy: Any) -> CreditRules:
    """A policy's ``rules:`` parsed as credit rules; exit 2 naming the field."""
    from pydantic import ValidationError

    try:
        return CreditRules.model_validate(policy.rules)
    except ValidationError as exc:
        raise BadInputError(f"policy rules: invalid credit rules: {exc}") from None
