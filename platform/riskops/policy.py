"""Promotion policy: one per registered model, read from a YAML file.

A policy is data, not code: thresholds on metrics (absolute floors and backtests),
drift limits, and the rule for comparing a challenger with the champion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from riskops.errors import BadInputError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Check(_Frozen):
    """One threshold on a metric or evidence value.

    ``min``/``max`` bound ``metric`` absolutely; ``max_metric`` bounds it by another
    metric of the same run (e.g. QLIKE no worse than the GARCH(1,1) benchmark's), with
    an absolute ``tolerance``; ``min_metric`` bounds it from below by another metric
    (e.g. event recall no lower than a naive rule's), without tolerance; ``not_in``
    forbids values of a text evidence field.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    min_metric: str | None = None
    max_metric: str | None = None
    tolerance: float = 0.0
    not_in: tuple[str, ...] = ()
    source: Literal["metrics", "evidence"] = "metrics"
    why: str = ""

    @model_validator(mode="after")
    def _has_a_bound(self) -> Check:
        bounds = (self.min, self.max, self.min_metric, self.max_metric)
        if all(b is None for b in bounds) and not self.not_in:
            raise ValueError(f"check on {self.metric!r} has no bound")
        return self


class DataDriftRule(_Frozen):
    """Refuse when more than ``max_drift_share`` of the features drift (Evidently's tests).

    ``stattest``/``threshold`` choose Evidently's per-column test; unset, Evidently picks
    by column type and size. Market features are autocorrelated, so their policies use
    PSI, which measures the size of a shift rather than its statistical significance.

    ``veto`` (default true) makes drift above the limit refuse promotion. With
    ``veto: false`` the drift is still measured, recorded with the drifted columns and
    shown in the report, but the gate passes: for conditional market models (VaR,
    volatility) a new regime is what the model adapts to, a reason to retrain and look,
    not to keep the stale champion (issue 13). Prediction drift stays a gate.
    """

    max_drift_share: float = Field(default=0.5, ge=0, le=1)
    veto: bool = True
    max_rows: int = Field(default=5000, ge=1001)
    stattest: str | None = None
    threshold: float | None = None
    require_recent_window: bool = False
    """Refuse when no recent window independent of the training data exists (credit:
    ``--recent``, the champion's inference log or a date column); otherwise the gate
    reports "not evaluated" and passes."""
    min_recent_rows: int = Field(default=200, ge=1)
    """Fewest rows that count as a recent window: of the served champion's inference log,
    and of a shadow window's live inputs (fewer: "not evaluated", with the counts)."""


class PredictionDriftRule(_Frozen):
    """Refuse when challenger and champion outputs on the same window differ by PSI above."""

    max_psi: float = Field(default=0.25, gt=0)


class ShadowRule(_Frozen):
    """What the shadow window (the challenger scoring live requests beside the champion,
    ``riskops shadow``) must show at its promotion (:func:`riskops.gates.shadow_gates`).

    The window is judged only when it holds ``min_rows`` paired answers; a smaller one is
    reported "too small to conclude" (not evaluated), which refuses the promotion only when
    ``require`` is set. Prediction drift on identical requests uses the policy's
    ``prediction_drift.max_psi``.
    """

    min_rows: int = Field(default=500, ge=1)
    max_grade_psi: float = Field(
        default=0.25,
        gt=0,
        description="PSI of the challenger's grade distribution against the champion's on "
        "the same requests (0.25: the customary 'significant shift').",
    )
    require: bool = False


class ChampionRule(_Frozen):
    """No material degradation against the champion on the same evaluation window."""

    metric: str
    higher_is_better: bool
    max_degradation: float = Field(default=0.0, ge=0, description="Absolute.")


Tier = Literal["high", "medium", "low"]
Severity = Literal["high", "medium", "low"]


class TierRule(_Frozen):
    """What a model's materiality tier demands: approvals by people other than the
    requester, how often it is revalidated, and which open findings block its promotion."""

    approvals: int = Field(ge=0)
    revalidation_days: int = Field(ge=1)
    block_on_findings: tuple[Severity, ...] = ("high",)


DEFAULT_TIERS: dict[Tier, TierRule] = {
    # Annual, biennial and triennial revalidation, the cadence supervisors expect of
    # material, intermediate and low-risk models (e.g. SR 11-7 and its industry practice).
    "high": TierRule(approvals=2, revalidation_days=365),
    "medium": TierRule(approvals=1, revalidation_days=730),
    "low": TierRule(approvals=0, revalidation_days=1095),
}


class Policy(_Frozen):
    """One registered model's promotion policy.

    The generic rules (floors, backtests, drift, champion comparison, approvals) are
    judged by :mod:`riskops.gates`; ``rules`` holds the family's own rules, parsed and
    gated by the family (:meth:`~riskops.families.base.Family.rules`,
    :meth:`~riskops.families.base.Family.extra_gates`), e.g. credit's leakage and fairness.
    Governance (issue 31): ``tier``, ``owner`` and ``block_on_findings``.
    """

    family: str
    tier: Tier | None = None
    """Materiality: sets the approvals needed (at least), the revalidation period and the
    findings that block promotion (see :class:`TierRule`); unset: untiered."""
    owner: str | None = None
    """The person accountable for the model (shown in the inventory)."""
    block_on_findings: tuple[Severity, ...] | None = None
    """Open findings of these severities on a version refuse its promotion; unset: the
    tier's rule, else ``[high]``."""
    floors: tuple[Check, ...] = ()
    backtests: tuple[Check, ...] = ()
    data_drift: DataDriftRule = DataDriftRule()
    prediction_drift: PredictionDriftRule = PredictionDriftRule()
    shadow: ShadowRule = ShadowRule()
    champion: tuple[ChampionRule, ...] = ()
    approvals: int = Field(
        default=0,
        ge=0,
        description="Approvals by actors other than the requester before the alias moves.",
    )
    rules: dict[str, Any] = Field(default_factory=dict)
    """The family's own rules, parsed by the family."""


class PolicyBook(_Frozen):
    models: dict[str, Policy]
    tiers: dict[Tier, TierRule] = Field(default_factory=lambda: dict(DEFAULT_TIERS))

    def tier_rule(self, policy: Policy) -> TierRule | None:
        return None if policy.tier is None else self.tiers[policy.tier]

    def approvals_for(self, policy: Policy) -> int:
        """Approvals a promotion needs: the policy's ``approvals`` or its tier's, the larger."""
        rule = self.tier_rule(policy)
        return max(policy.approvals, rule.approvals if rule else 0)

    def revalidation_days(self, policy: Policy) -> int | None:
        rule = self.tier_rule(policy)
        return rule.revalidation_days if rule else None

    def blocking_severities(self, policy: Policy) -> tuple[str, ...]:
        if policy.block_on_findings is not None:
            return policy.block_on_findings
        rule = self.tier_rule(policy)
        return rule.block_on_findings if rule else ("high",)

    def for_model(self, name: str, family: str | None = None) -> Policy:
        """The model's policy; a custom name falls back to its family's default model policy."""
        if name in self.models:
            return self.models[name]
        for policy in self.models.values():
            if family is not None and policy.family == family:
                return policy
        raise BadInputError(f"policy: no policy for model {name!r} (family {family!r})")


def load_policies(path: Path) -> PolicyBook:
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BadInputError(f"policy_file: cannot read {path}: {exc}") from None
    raw = dict(raw or {})
    # ``tiers:`` (optional) overrides the default tier rules; every other key is a model.
    tiers = {**DEFAULT_TIERS, **(raw.pop("tiers", None) or {})}
    try:
        return PolicyBook.model_validate({"models": raw, "tiers": tiers})
    except ValueError as exc:
        raise BadInputError(f"policy_file: {path} is invalid: {exc}") from None
