"""The shadow window as promotion evidence: what the challenger answered to live requests,
beside the champion, while it was in shadow (``riskops shadow``, issue 30).

A version that has been in shadow is judged at its promotion on its window, not only on the
evidence of its training: the live requests both versions answered, paired by the family
(:meth:`~riskops.families.base.Family.shadow_pairs`; credit: the decision store's answers of
role ``champion`` and ``shadow`` to the same applicant ids). :func:`shadow_evidence` reduces
them to the facts the pure gates read (:func:`riskops.gates.shadow_gates`):

* the window: paired answers, requests, first and last;
* prediction drift between challenger and champion on identical requests
  (:func:`riskops.drift.prediction_drift`: PSI of the PDs, Spearman, means);
* the PSI of their grade distributions (:func:`riskops.drift.category_psi`);
* the data drift of the window's live inputs against the challenger's training data (its
  verified ``data/reference.parquet``; :func:`riskops.drift.measure_drift`, the policy's
  data-drift rule, the same as for the promotion's recent window): credit, the applicants
  the champion's decisions kept; VaR and volatility, the window's matured returns as the
  family's drift features (:func:`riskops.live.shadow.window_inputs`). Fewer input rows than
  the policy's ``data_drift.min_recent_rows`` are "not evaluated: too small for the drift
  test", with the counts;
* the paired discrimination test once outcomes matured (credit: DeLong), when the family has
  one;
* for a family that follows its champions live (:attr:`~riskops.families.base.LiveTraits.
  shadow_backtest`: VaR, volatility), the matured days both versions forecast, read from the
  live forecast ledger (:func:`riskops.live.shadow.live_shadow_pairs`), and the family's
  comparative backtest of them (``comparison``), judged by the family's gate.

A version that was never in shadow has no shadow evidence (``None``); one whose window holds
nothing is "not evaluated" with the reason, and the gate says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskops import drift

if TYPE_CHECKING:
    from riskops.families.base import Family, ShadowPairs
    from riskops.ledger.state import ModelState
    from riskops.lifecycle.context import LifecycleContext


def was_in_shadow(life: LifecycleContext, name: str, version: int, state: ModelState) -> bool:
    """Whether the trail put ``version`` in shadow since the model's incarnation began."""
    for record in life.trail.records(name):
        if record.seq < state.since_seq or record.action != "shadow":
            continue
        changes = record.body.get("alias_changes") or []
        if any(change.get("to") == version for change in changes):
            return True
    return False


def shadow_evidence(
    life: LifecycleContext, family: Family, name: str, version: int, state: ModelState
) -> dict[str, Any] | None:
    """The shadow evidence of ``version`` (see the module doc), ``None`` when it was never in
    shadow."""
    if not was_in_shadow(life, name, version, state):
        return None
    if state.champion is None or state.champion == version:
        return {"evaluated": False, "reason": "no other champion answered the same requests"}
    found = _pairs(life, family, name, state.champion, version)
    facts = summarize(found, state.champion, version)
    if facts.get("evaluated"):
        facts["data_drift"] = _input_drift(life, family, name, version, state, found, facts)
    return facts


def _pairs(
    life: LifecycleContext, family: Family, name: str, champion: int, challenger: int
) -> ShadowPairs:
    """The family's shadow window: from the live forecast ledger when the family judges one
    there (its live traits say how), else from its own hook."""
    compare = family.live_traits().shadow_backtest
    if compare is not None:
        from riskops.live.shadow import live_shadow_pairs

        return live_shadow_pairs(
            life.settings, compare, name, champion, challenger, features=family.features
        )
    return family.shadow_pairs(life, name, champion, challenger)


def _input_drift(
    life: LifecycleContext,
    family: Family,
    name: str,
    version: int,
    state: ModelState,
    found: ShadowPairs,
    facts: dict[str, Any],
) -> dict[str, Any]:
    """Data drift of the window's live inputs against the challenger's training data."""
    import io

    import pandas as pd

    from riskops.settings import scratch_dir

    window = {"source": "shadow window", **facts["window"]}
    if found.inputs is None:
        return _not_evaluated(
            window, "the shadow window kept no input rows (the policy may forbid keeping them)"
        )
    window["input_rows"] = len(found.inputs)
    policy = life.policies.for_model(name, family.name)
    # The same minimum as the promotion's recent window: Evidently's tests on a few rows
    # would call a drift (or its absence) on noise.
    least = policy.data_drift.min_recent_rows
    if len(found.inputs) < least:
        return _not_evaluated(
            window,
            f"too small for the drift test: {len(found.inputs)} live input rows in the shadow "
            f"window < data_drift.min_recent_rows {least}",
        )
    raw = life.loader.read_evidence(name, version, "data/reference.parquet", state)
    if raw is None:
        return _not_evaluated(window, f"v{version} logged no training reference data")
    reference = pd.read_parquet(io.BytesIO(raw))
    with scratch_dir(life.settings, "shadow_drift") as folder:
        return drift.measure_drift(
            reference, found.inputs, window, policy, folder / "shadow_data_drift.html"
        )


def _not_evaluated(window: dict[str, Any], reason: str) -> dict[str, Any]:
    """Data-drift evidence that could not be measured (the shape of
    :func:`riskops.drift.measure_drift`'s)."""
    return {
        "evaluated": False,
        "reason": reason,
        "share_of_drifted_columns": None,
        "drifted_columns": [],
        "window": window,
    }


def _seals(found: ShadowPairs) -> list[dict[str, Any]]:
    """The stream heads the window was read up to, and the digest of the matured pairs the
    paired test ran on: what the gate decision records."""
    delong = found.delong or {}
    seals = [dict(s) for s in delong.get("seals") or ([found.seal] if found.seal else [])]
    seals += [dict(s) for s in found.seals]
    if "pairs_sha256" in delong:
        seals.append(
            {
                "kind": "shadow_matured_pairs",
                "rows": delong.get("matured_pairs"),
                "as_of": delong.get("as_of"),
                "horizon_months": delong.get("horizon_months"),
                "sha256": delong["pairs_sha256"],
            }
        )
    return seals


def summarize(found: ShadowPairs, champion: int, challenger: int) -> dict[str, Any]:
    """The facts of a shadow window (pure)."""
    pairs = found.pairs
    base: dict[str, Any] = {"champion_version": champion, "challenger_version": challenger}
    if found.seal is not None:
        base["seal"] = found.seal
    base["seals"] = _seals(found)
    if pairs is None or pairs.empty:
        reason = found.reason or "the shadow window holds no answer the champion also gave"
        return {**base, "evaluated": False, "reason": reason, "window": {"rows": 0}}
    stamps = pairs["decided_at"].astype(str) if "decided_at" in pairs else None
    window = found.window or {
        "rows": len(pairs),
        "requests": int(pairs["request_id"].nunique()) if "request_id" in pairs else None,
        "first": None if stamps is None else stamps.min(),
        "last": None if stamps is None else stamps.max(),
    }
    facts: dict[str, Any] = {**base, "evaluated": True, "window": window}
    output = found.output
    if output is not None and f"{output}_champion" in pairs and f"{output}_challenger" in pairs:
        facts["output"] = output
        facts["prediction_drift"] = drift.prediction_drift(
            pairs[f"{output}_challenger"].astype(float), pairs[f"{output}_champion"].astype(float)
        )
    if "grade_champion" in pairs and "grade_challenger" in pairs:
        facts["grade_psi"] = drift.category_psi(
            pairs["grade_champion"].astype(str), pairs["grade_challenger"].astype(str)
        )
    if found.delong is not None or found.comparison is None:
        facts["delong"] = found.delong
    if found.comparison is not None:
        facts["comparison"] = found.comparison
    return facts
