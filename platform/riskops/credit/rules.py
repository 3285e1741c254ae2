"""The credit family's own policy rules: target leakage and fairness.

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

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeakageRule(_Frozen):
    """Refuse a feature whose univariate AUC against the target reaches ``max_univariate_auc``
    (target leakage: a value only known after the decision or the outcome)."""

    max_univariate_auc: float = Field(default=0.95, gt=0.5, le=1)


class FairnessRule(_Frozen):
    """Protected attributes and the adverse impact ratio at the approval cut-off.

    ``protected`` columns are never model features. An applicant is approved when the
    PD is at most ``approval_max_pd``; the adverse impact ratio is the lowest group
    approval rate over the highest (four-fifths rule: at least 0.8). Groups with fewer
    than ``min_group_rows`` held-out rows are reported but not compared.
    """

    protected: tuple[str, ...] = ()
    approval_max_pd: float = Field(default=0.3, gt=0, lt=1)
    min_adverse_impact_ratio: float | None = Field(default=0.8, ge=0, le=1)
    min_group_rows: int = Field(default=30, ge=1)


class CreditRules(_Frozen):
    """Everything under a credit policy's ``rules:``; a rule left out is not gated."""

    leakage: LeakageRule | None = None
    fairness: FairnessRule | None = None
