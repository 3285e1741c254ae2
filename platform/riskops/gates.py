"""Promotion gates: pure functions from evidence and policy to a pass/fail report.

No I/O happens here. Evidence is gathered beforehand (:mod:`riskops.lifecycle`) and
handed in as plain data, so that a gate decision can be replayed from the audit trail.
A gate that raises is turned into a failed result: promotion fails closed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

from riskops.policy import Check, Policy


@dataclass(frozen=True)
class GateResult:
    """One gate's decision.

    ``evaluated`` is false when the gate could not look at its evidence (missing, too
    small a sample, an inconclusive interval) and the decision is the policy's default
    for that case: a pass with ``evaluated=False`` is "not evaluated, allowed by the
    policy", never a silent pass.
    """

    gate: str
    passed: bool
    reason: str
    observed: Any = None
    threshold: Any = None
    errored: bool = False
    evaluated: bool = True


@dataclass(frozen=True)
class GateReport:
    model: str
    version: int | None
    champion_version: int | None
    results: tuple[GateResult, ...] = field(default_factory=tuple)
    seals: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """What live evidence the gates read, sealed (stream heads, digests: the shadow window's),
    so that an auditor re-reads exactly that evidence and re-runs them."""

    @property
    def passed(self) -> bool:
        # An empty report passes nothing: no evidence, no promotion.
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "champion_version": self.champion_version,
            "passed": self.passed,
            "results": [asdict(r) for r in self.results],
            **({"seals": list(self.seals)} if self.seals else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReport:
        return cls(
            model=data["model"],
            version=data.get("version"),
            champion_version=data.get("champion_version"),
            results=tuple(GateResult(**r) for r in data.get("results", [])),
            seals=tuple(data.get("seals", ())),
        )


Evidence = Mapping[str, Any]
"""Keys: ``metrics`` (challenger), ``evidence`` (family facts), ``data_drift``,
``prediction_drift`` (None without champion), ``champion`` (None or
``{"version", "metrics"}``)."""


def evaluate(
    model: str,
    version: int | None,
    evidence: Evidence,
    policy: Policy,
    extra: Sequence[tuple[str, Callable[[Evidence], GateResult | list[GateResult]]]] = (),
) -> GateReport:
    """Run every gate the policy asks for. A first version faces the absolute gates only.

    ``extra`` are the family's own gates (``family.extra_gates(policy)``), run after the
    generic floors, backtests and drift gate.
    """
    champion = evidence.get("champion")
    gates: list[tuple[str, Callable[[], GateResult | list[GateResult]]]] = [
        ("floors", lambda: [check_threshold("floor", c, evidence) for c in policy.floors]),
        ("backtests", lambda: [check_threshold("backtest", c, evidence) for c in policy.backtests]),
        ("data_drift", lambda: data_drift_gate(evidence, policy)),
    ]
    gates += [(name, partial(family_gate, evidence)) for name, family_gate in extra]
    if champion is not None:
        gates += [
            ("prediction_drift", lambda: prediction_drift_gate(evidence, policy)),
            ("champion", lambda: champion_gates(evidence, policy)),
        ]
    if evidence.get("shadow") is not None:
        gates.append(("shadow", lambda: shadow_gates(evidence, policy)))
    results: list[GateResult] = []
    for name, gate in gates:
        try:
            outcome = gate()
        except Exception as exc:  # fail closed: a broken gate is a failed gate
            outcome = GateResult(
                name, False, f"gate raised {type(exc).__name__}: {exc}", errored=True
            )
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    return GateReport(
        model=model,
        version=version,
        champion_version=None if champion is None else champion.get("version"),
        results=tuple(results),
        seals=tuple((evidence.get("shadow") or {}).get("seals") or ()),
    )


def check_threshold(kind: str, check: Check, evidence: Evidence) -> GateResult:
    """A floor or backtest threshold; a missing or non-finite value fails."""
    gate = f"{kind}:{check.metric}"
    if check.min_metric is not None and check.max_metric is None:
        # A comparison with another metric, e.g. event_recall>=naive_event_recall.
        gate += f">={check.min_metric}"
    source = evidence.get(check.source) or {}
    if check.metric not in source or source[check.metric] is None:
        return GateResult(
            gate, False, f"{check.metric} is missing from the {check.source}", evaluated=False
        )
    value = source[check.metric]
    if check.not_in:
        passed = str(value) not in check.not_in
        reason = (
            f"{check.metric} = {value}"
            + (" " if passed else " is ")
            + (f"not in {list(check.not_in)}" if passed else f"in forbidden {list(check.not_in)}")
        )
        return GateResult(gate, passed, _why(reason, check), value, {"not_in": list(check.not_in)})
    value = float(value)
    if not math.isfinite(value):
        return GateResult(gate, False, f"{check.metric} is not finite ({value})", value)
    limits: dict[str, float] = {}
    failures: list[str] = []
    if check.min is not None:
        limits["min"] = check.min
        if value < check.min:
            failures.append(f"{check.metric} = {value:.4g} < minimum {check.min:.4g}")
    if check.max is not None:
        limits["max"] = check.max
        if value > check.max:
            failures.append(f"{check.metric} = {value:.4g} > maximum {check.max:.4g}")
    if check.min_metric is not None:
        if source.get(check.min_metric) is None:
            return GateResult(gate, False, f"{check.min_metric} is missing from the {check.source}")
        floor = float(source[check.min_metric])
        limits["min"] = floor
        if not value >= floor:
            failures.append(f"{check.metric} = {value:.4g} < {check.min_metric} = {floor:.4g}")
    if check.max_metric is not None:
        if check.max_metric not in source:
            return GateResult(gate, False, f"{check.max_metric} is missing from the {check.source}")
        bound = float(source[check.max_metric]) + check.tolerance
        limits["max"] = bound
        if not value <= bound:
            failures.append(
                f"{check.metric} = {value:.4g} > {check.max_metric} "
                f"+ {check.tolerance:g} = {bound:.4g}"
            )
    if failures:
        return GateResult(gate, False, _why("; ".join(failures), check), value, limits)
    # In words a reader checks at a glance ("auc 0.8441 >= 0.75"), never a Python dict.
    bounds = [f">= {check.min:.4g}"] if check.min is not None else []
    if check.max is not None:
        bounds.append(f"<= {check.max:.4g}")
    if check.min_metric is not None:
        bounds.append(f">= {check.min_metric} {limits['min']:.4g}")
    if check.max_metric is not None:
        bounds.append(f"<= {check.max_metric} + {check.tolerance:g} = {limits['max']:.4g}")
    met = " and ".join(bounds)  # a Check always has a bound (policy validation)
    return GateResult(gate, True, f"{check.metric} {value:.4g} {met}", value, limits)


def data_drift_gate(evidence: Evidence, policy: Policy) -> GateResult:
    """The challenger's training data must resemble the most recent window.

    Under a policy with ``data_drift.veto: false`` the share and the drifted columns are
    recorded in the result, which passes with a reason that says so.
    """
    drift = evidence.get("data_drift")
    if not drift:
        return GateResult("data_drift", False, "no data-drift evidence", evaluated=False)
    limit = policy.data_drift.max_drift_share
    if drift.get("evaluated") is False:
        # No recent window independent of the training data: visible, and the policy decides.
        required = policy.data_drift.require_recent_window
        return GateResult(
            "data_drift",
            not required,
            f"not evaluated: {drift.get('reason', 'no recent window')}"
            + ("; the policy requires a recent window" if required else ""),
            None,
            limit,
            evaluated=False,
        )
    share = drift.get("share_of_drifted_columns")
    share = float("nan") if share is None else float(share)
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        return GateResult(
            "data_drift", False, f"drift share is not a share in [0, 1] ({share})", share, limit
        )
    drifted = ", ".join(drift.get("drifted_columns", [])[:8]) or "none"
    if not policy.data_drift.veto and math.isfinite(share):
        relation = ">" if share > limit else "<="
        return GateResult(
            "data_drift",
            True,
            f"{share:.0%} of features drifted ({relation} {limit:.0%}): {drifted}; "
            "recorded, not a veto (policy)",
            share,
            {"max_drift_share": limit, "veto": False},
        )
    if share > limit:
        return GateResult(
            "data_drift",
            False,
            f"training data unrepresentative of the recent window: {share:.0%} of features "
            f"drifted (> {limit:.0%}): {drifted}",
            share,
            limit,
        )
    return GateResult(
        "data_drift", True, f"{share:.0%} of features drifted (<= {limit:.0%})", share, limit
    )


def prediction_drift_gate(evidence: Evidence, policy: Policy) -> GateResult:
    """Challenger and champion outputs on the same recent window must not diverge."""
    drift = evidence.get("prediction_drift")
    if not drift:
        return GateResult(
            "prediction_drift", False, "no prediction-drift evidence", evaluated=False
        )
    psi = float(drift["psi"])
    limit = policy.prediction_drift.max_psi
    passed = math.isfinite(psi) and 0.0 <= psi <= limit  # a PSI is never negative
    relation = "<=" if passed else ">"
    return GateResult(
        "prediction_drift",
        passed,
        f"PSI of challenger vs champion outputs = {psi:.3f} {relation} {limit:g}",
        psi,
        limit,
    )


def shadow_gates(evidence: Evidence, policy: Policy) -> list[GateResult]:
    """The shadow window (live requests both models answered, :mod:`riskops.lifecycle.shadow`):
    large enough to conclude, then challenger and champion outputs (PDs, VaRs, variances) and
    grades (when the family has them) on identical requests must not diverge, and the window's
    live inputs are judged against the challenger's training data by the policy's data-drift
    rule (shown, "not evaluated" with what was measured, when the window is too small to
    conclude). The paired test on matured outcomes is the family's gate (credit:
    :func:`riskops.credit.shadow.shadow_delong_gate`; VaR and volatility:
    :func:`riskops.market.shadow_backtest.shadow_backtest_gate`), on the same evidence."""
    shadow = evidence["shadow"]
    rule = policy.shadow
    window = shadow.get("window") or {}
    rows = int(window.get("rows") or 0)
    span = f"{rows} paired answers, {window.get('first') or '-'} to {window.get('last') or '-'}"
    if not shadow.get("evaluated", False):
        why = shadow.get("reason") or "no shadow answers recorded"
        return [
            GateResult("shadow_window", not rule.require, f"not evaluated: {why}", evaluated=False)
        ]
    if rows < rule.min_rows:
        return [
            GateResult(
                "shadow_window",
                not rule.require,
                f"not evaluated: the shadow window ({span}) is too small to conclude; the "
                f"policy needs {rule.min_rows}",
                rows,
                rule.min_rows,
                evaluated=False,
            ),
            *_shadow_input_drift(shadow, policy, concluded=False),
        ]
    out = [GateResult("shadow_window", True, f"shadow window: {span}", rows, rule.min_rows)]
    drift = shadow.get("prediction_drift")
    if drift is not None:
        psi = float(drift["psi"])
        limit = policy.prediction_drift.max_psi
        passed = math.isfinite(psi) and 0.0 <= psi <= limit
        output = "PDs" if shadow.get("output", "pd") == "pd" else f"{shadow['output']} forecasts"
        out.append(
            GateResult(
                "shadow_prediction_drift",
                passed,
                f"PSI of challenger vs champion {output} on the same {rows} live requests = "
                f"{psi:.3f} {'<=' if passed else '>'} {limit:g} (mean "
                f"{drift['mean_challenger']:.4f} vs {drift['mean_champion']:.4f})",
                psi,
                limit,
            )
        )
    if shadow.get("grade_psi") is not None:
        grade_psi = float(shadow["grade_psi"])
        passed = math.isfinite(grade_psi) and 0.0 <= grade_psi <= rule.max_grade_psi
        out.append(
            GateResult(
                "shadow_grade_psi",
                passed,
                f"PSI of the challenger's grades vs the champion's on the same live requests = "
                f"{grade_psi:.3f} {'<=' if passed else '>'} {rule.max_grade_psi:g}",
                grade_psi,
                rule.max_grade_psi,
            )
        )
    return out + _shadow_input_drift(shadow, policy, concluded=True)


def _shadow_input_drift(
    shadow: Mapping[str, Any], policy: Policy, *, concluded: bool
) -> list[GateResult]:
    """The data drift of the shadow window's live inputs against the challenger's training
    data, judged by the policy's data-drift rule (:func:`data_drift_gate`), its reason
    naming the window and the rows measured. Below the window's minimum (not
    ``concluded``) it is shown "not evaluated" with what it measured: never absent."""
    drift = shadow.get("data_drift")
    if drift is None:
        return []
    window = drift.get("window") or {}
    extent = (
        f"{window['days']} days"
        if window.get("days") is not None
        else f"{window.get('rows')} paired answers"
    )
    where = f"{extent}, {window.get('first') or '-'} to {window.get('last') or '-'}"
    if window.get("input_rows") is not None:
        where += f"; {window['input_rows']} input rows"
    lead = f"live inputs of the shadow window ({where}) against the challenger's training data"
    inputs = data_drift_gate({"data_drift": drift}, policy)
    if not inputs.evaluated:
        why = inputs.reason.removeprefix("not evaluated: ")
        return [replace(inputs, gate="shadow_data_drift", reason=f"not evaluated: {lead}: {why}")]
    share = inputs.observed
    if not concluded and isinstance(share, float) and math.isfinite(share) and 0 <= share <= 1:
        # A share that is not one stays the data-drift gate's refusal: fail closed.
        drifted = ", ".join(drift.get("drifted_columns", [])[:8]) or "none"
        return [
            GateResult(
                "shadow_data_drift",
                True,
                f"not evaluated: the shadow window is too small to conclude; {lead}: "
                f"measured {share:.0%} of features drifted ({drifted})",
                inputs.observed,
                inputs.threshold,
                evaluated=False,
            )
        ]
    return [replace(inputs, gate="shadow_data_drift", reason=f"{lead}: {inputs.reason}")]


def champion_gates(evidence: Evidence, policy: Policy) -> list[GateResult]:
    """No material degradation against the champion, metric by metric, same window."""
    champion = evidence["champion"]
    challenger_metrics = champion.get("challenger_metrics") or evidence["metrics"]
    results = []
    window = champion.get("window")
    if window is not None and not window.get("independent", False):
        # The champion may have trained on the comparison rows: its metrics mean nothing.
        results.append(
            GateResult(
                "champion:independent_window",
                False,
                f"no independent comparison with champion v{champion['version']}: "
                f"{window.get('reason', 'unknown')}",
                window.get("n_rows"),
            )
        )
    for rule in policy.champion:
        gate = f"champion:{rule.metric}"
        if rule.metric not in challenger_metrics or rule.metric not in champion["metrics"]:
            results.append(
                GateResult(
                    gate, False, f"{rule.metric} missing for the comparison", evaluated=False
                )
            )
            continue
        new, old = float(challenger_metrics[rule.metric]), float(champion["metrics"][rule.metric])
        change = (new - old) if rule.higher_is_better else (old - new)
        # A difference of exactly the tolerance passes; 1e-12 absorbs float rounding.
        passed = math.isfinite(change) and change >= -rule.max_degradation - 1e-12
        verb = (
            "improves on" if change >= 0 else ("is within tolerance of" if passed else "degrades")
        )
        results.append(
            GateResult(
                gate,
                passed,
                f"{rule.metric} {new:.4g} {verb} champion v{champion['version']}'s {old:.4g}"
                + ("" if passed else f" by more than {rule.max_degradation:g}"),
                {"challenger": new, "champion": old},
                {"max_degradation": rule.max_degradation},
            )
        )
    return results


def _why(reason: str, check: Check) -> str:
    return f"{reason} ({check.why})" if check.why else reason
