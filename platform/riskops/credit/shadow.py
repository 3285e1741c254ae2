"""The credit shadow window: the champion's and the challenger's answers to the same live
applicants, paired for the challenger's promotion (:mod:`riskops.lifecycle.shadow`).

Both answers are rows of the model's ``credit_decisions`` stream (:mod:`riskops.credit.
decisions`): the champion's decision of an applicant id (role ``champion``) and the shadow's
answer to the same id (role ``shadow``, written by the service's shadow process). They are
read up to the stream's head, which is sealed into the evidence. The champion's rows keep the
applicant as scored (when the policy lets them), the window's live inputs for data drift.

Once outcomes matured for applicants of the window (``riskops outcomes``, joined by id), the
challenger is compared with the champion on them by DeLong's paired test
(:func:`paired_outcome_test`; DeLong, DeLong & Clarke-Pearson, 1988) and refused when it
ranks them significantly worse (:func:`shadow_delong_gate`, the policy's ``rules: outcomes:
shadow_comparison``). The set of matured pairs tested is sealed into the gate decision: the
heads of the decision and outcome streams read, the evaluation time and horizon, and the
SHA-256 of the pairs themselves (:func:`pairs_digest`), so that an auditor re-reads the
streams up to those heads and re-runs the test (:func:`read_window`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from riskops.families.base import ShadowPairs

if TYPE_CHECKING:
    from riskops.credit.outcome_policy import OutcomePolicy
    from riskops.credit.rules import CreditRules
    from riskops.evidence.store import EvidenceStore
    from riskops.gates import Evidence, GateResult

GATE = "shadow_delong"


def read_window(
    store: EvidenceStore, name: str, champion: int, challenger: int, through_seq: int
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The window up to decision-stream row ``through_seq``: ``(pairs, inputs)``, one pair per
    applicant id both versions answered (``id, decided_at, pd_champion, pd_challenger,
    grade_champion, grade_challenger``), and the champion's kept input rows (``None`` when
    none were kept). Empty pairs when there are none."""
    from riskops.credit.decisions import read_decisions

    shadow = read_decisions(store, name, "shadow", challenger, through_seq=through_seq)
    served = read_decisions(store, name, "champion", champion, through_seq=through_seq, inputs=True)
    pairs = shadow.merge(served, on="id", suffixes=("_challenger", "_champion"))
    kept = pairs["inputs"].dropna()
    inputs = pd.DataFrame.from_records([orjson.loads(text) for text in kept]) if len(kept) else None
    out = pairs.rename(columns={"decided_at_champion": "decided_at"})[
        ["id", "decided_at", "pd_champion", "pd_challenger", "grade_champion", "grade_challenger"]
    ]
    return out.reset_index(drop=True), inputs


def shadow_pairs(life: Any, name: str, champion: int, challenger: int) -> ShadowPairs:
    """The applicants both versions answered, and the paired test on those whose outcomes
    matured (see the module doc)."""
    from riskops.clock import now
    from riskops.credit.decisions import DECISIONS, OUTCOMES, read_decisions, read_outcomes
    from riskops.credit.performance import outcome_policy
    from riskops.evidence.store import EvidenceStore

    store = EvidenceStore(life.settings)
    seal = store.seal(DECISIONS, name)
    pairs, inputs = read_window(store, name, champion, challenger, seal["seq"])
    if pairs.empty:
        shadow = read_decisions(store, name, "shadow", challenger, through_seq=seal["seq"])
        reason = (
            f"no answer of {name} v{challenger} in shadow was recorded"
            if shadow.empty
            else f"no applicant was answered by both v{champion} and v{challenger} in shadow"
        )
        return ShadowPairs(None, reason, seal=seal)
    outcome_seal = store.seal(OUTCOMES, name)
    outcomes = read_outcomes(store, name, through_seq=outcome_seal["seq"])
    delong = paired_outcome_test(
        pairs, outcomes, as_of=pd.Timestamp(now(life.settings)), policy=outcome_policy(life, name)
    )
    delong["seals"] = [seal, outcome_seal]
    return ShadowPairs(pairs, delong=delong, seal=seal, inputs=inputs)


def pairs_digest(matured: pd.DataFrame) -> str:
    """SHA-256 of the matured pairs a test ran on (``id, default, pd_champion,
    pd_challenger``, sorted by id; floats as JSON's shortest round-trip text)."""
    ordered = matured.sort_values("id")
    rows = [
        [str(i), int(d), float(a), float(b)]
        for i, d, a, b in zip(
            ordered["id"],
            ordered["default"],
            ordered["pd_champion"],
            ordered["pd_challenger"],
            strict=True,
        )
    ]
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()


def paired_outcome_test(
    pairs: pd.DataFrame, outcomes: pd.DataFrame, *, as_of: pd.Timestamp, policy: OutcomePolicy
) -> dict[str, Any]:
    """DeLong's paired test of challenger against champion on the matured pairs (pure).

    ``pairs``: :func:`read_window`'s; ``outcomes``: ``id, default, observed_at``. Matured
    means the policy's default definition at ``as_of``
    (:func:`riskops.credit.outcomes.matured_labels`). The facts: counts, both AUCs, ``z`` of
    challenger minus champion, ``p_challenger_worse`` (one-sided), the digest of the pairs
    (:func:`pairs_digest`); ``evaluated`` false below two defaults and two non-defaults.
    """
    from riskops.credit.outcomes import matured_labels
    from riskops.stats.discrimination import delong_paired_test

    labels = matured_labels(
        pairs[["id", "decided_at"]],
        outcomes,
        as_of=as_of,
        horizon_months=policy.default_horizon_months,
    )
    matured = labels.merge(pairs, on="id", how="inner")
    y = matured["default"].to_numpy(dtype=np.int8)
    defaults = int(y.sum())
    facts: dict[str, Any] = {
        "applicants_both": len(pairs),
        "matured_pairs": len(matured),
        "defaults": defaults,
        "as_of": as_of.isoformat(),
        "horizon_months": policy.default_horizon_months,
        "pairs_sha256": pairs_digest(matured),
    }
    if defaults < 2 or len(y) - defaults < 2:
        return {
            **facts,
            "evaluated": False,
            "reason": f"{len(y)} matured pairs with {defaults} defaults: DeLong's test needs 2 "
            f"defaults and 2 non-defaults",
        }
    # Challenger first: the test's one-sided p-value of "a lower" is "challenger worse".
    test = delong_paired_test(
        y, matured["pd_challenger"].to_numpy(float), matured["pd_champion"].to_numpy(float)
    )
    return {
        **facts,
        "evaluated": True,
        "auc_challenger": test.auc_a,
        "auc_champion": test.auc_b,
        "difference": test.difference,
        "se": test.se,
        "z": test.z,
        "p_challenger_worse": test.pvalue_a_lower,
        "p_two_sided": test.pvalue,
    }


def shadow_delong_gate(evidence: Evidence, policy: CreditRules) -> list[GateResult]:
    """Refuse a challenger that ranks the matured applicants of its shadow window
    significantly worse than the champion (pure; the policy's ``rules: outcomes:
    shadow_comparison``). Nothing when the version was never in shadow; "not evaluated"
    with the counts below the policy's minimum."""
    from riskops.credit.outcome_policy import OutcomePolicy
    from riskops.gates import GateResult

    shadow = evidence.get("shadow")
    if shadow is None:
        return []
    rule = (policy.outcomes or OutcomePolicy()).shadow_comparison
    facts = shadow.get("delong")
    if rule is None:
        return [
            GateResult(
                GATE, True, "not evaluated: the policy sets no shadow_comparison", evaluated=False
            )
        ]
    if not facts:
        why = shadow.get("reason") or "the shadow window holds no paired answers"
        return [GateResult(GATE, True, f"not evaluated: {why}", evaluated=False)]
    n, defaults = int(facts["matured_pairs"]), int(facts["defaults"])
    others = n - defaults
    if n < rule.min_pairs or min(defaults, others) < rule.min_defaults:
        return [
            GateResult(
                GATE,
                True,
                f"not evaluated: {n} matured pairs ({defaults} defaults, {others} non-defaults) "
                f"< minimum {rule.min_pairs} pairs with {rule.min_defaults} of each",
                n,
                rule.min_pairs,
                evaluated=False,
            )
        ]
    if not facts.get("evaluated"):
        return [GateResult(GATE, True, f"not evaluated: {facts.get('reason')}", evaluated=False)]
    p_value = float(facts["p_challenger_worse"])
    worse = not p_value >= rule.alpha  # a NaN p-value refuses: fail closed
    return [
        GateResult(
            GATE,
            not worse,
            f"paired DeLong on {n} matured applicants of the shadow window ({defaults} "
            f"defaults): AUC {facts['auc_challenger']:.4f} (challenger) vs "
            f"{facts['auc_champion']:.4f} (champion), z = {facts['z']:.2f}, one-sided p = "
            f"{p_value:.3g} {'<' if worse else '>='} {rule.alpha:g}"
            + (f": {rule.why}" if worse else ""),
            p_value,
            rule.alpha,
        )
    ]
