"""Credit gate evidence that means what it says, gathered at training time.

* :func:`champion_memory` reads which rows the champion trained on (its stored
  fingerprints, :mod:`riskops.credit.split`).
* :func:`compare_with_champion` scores champion and challenger on the challenger's
  held-out rows minus every row the champion trained on, and says whether that window
  is independent of the champion's training data.
* :func:`recent_window` finds a recent window that is not the training data: the user's
  ``--recent`` file, else the served champion's inference log when it holds enough rows,
  else the latest period by date (the out-of-time held-out rows). Without one, the drift
  result says ``"evaluated": false`` and why; the policy decides.
* :func:`measure_drift` runs the drift tests on the columns that have values on both
  sides; a feature with no value at all in the recent window counts as drifted.
* :func:`fairness_evidence` measures approval rates per protected group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from riskops.credit.split import FINGERPRINTS_FILE, SplitMemory, exclude_known
from riskops.errors import BadInputError

__all__ = [
    "MIN_COMPARISON_ROWS",
    "champion_memory",
    "compare_with_champion",
    "fairness_evidence",
    "measure_drift",
    "recent_window",
]

MIN_COMPARISON_ROWS = 100
"""Fewest rows (with both outcomes) of an independent comparison window."""

NO_WINDOW = (
    "no recent window independent of the training data: pass --recent PATH (recent "
    "applications, labels optional), serve a champion until its inference log holds "
    "{min_rows}+ rows, or declare --date-col; the training data is never compared with a "
    "sample of itself"
)


def champion_memory(settings: Any, champion: Any) -> SplitMemory | None:
    """The champion's training/held-out fingerprints; ``None`` when its run stored none."""
    if champion is None or not champion.run_id:
        return None
    from riskops import tracking

    if FINGERPRINTS_FILE not in tracking.list_artifacts(settings, champion.run_id):
        return None
    data = tracking.load_json(settings, champion.run_id, FINGERPRINTS_FILE)
    return SplitMemory.from_dict(data, version=champion.version)


def model_features(model: Any) -> list[str]:
    schema = getattr(model, "input_schema_", None)
    if schema:
        return list(schema)
    names = getattr(model, "feature_names_in_", None)
    return [] if names is None else [str(n) for n in names]


def compare_with_champion(
    family: Any,
    champion: Any,
    champion_model: Any,
    outcome: Any,
    memory: SplitMemory | None,
) -> dict[str, Any]:
    """Champion and challenger metrics on the same window the champion never trained on."""
    evaluation = outcome.evaluation
    frame = evaluation.frame
    challenger_features = list(outcome.reference.columns)
    champion_features = list(memory.columns) if memory else model_features(champion_model)
    result: dict[str, Any] = {
        "version": champion.version,
        "run_id": champion.run_id,
        "features_added": sorted(set(challenger_features) - set(champion_features)),
        "features_dropped": sorted(set(champion_features) - set(challenger_features)),
    }
    window: dict[str, Any] = {"held_out_rows": len(frame)}
    result["window"] = window
    missing = [c for c in champion_features if c not in frame.columns]
    if missing:
        window.update(
            independent=False,
            n_rows=0,
            reason=f"the challenger's data lack the champion's columns {missing}",
        )
        return {**result, "metrics": {}}
    if memory is None:
        keep = pd.Series(True, index=frame.index).to_numpy()
        window.update(
            independent=False,
            reason=f"champion v{champion.version} stored no training-row fingerprints "
            f"({FINGERPRINTS_FILE}): it may have trained on these rows",
        )
    else:
        keep, excluded = exclude_known(frame, memory)
        window["excluded_champion_training_rows"] = excluded
    subset = evaluation.with_frame(
        frame[keep].reset_index(drop=True), name=f"{evaluation.name}[not seen by champion]"
    )
    n_rows = len(subset.frame)
    window["n_rows"] = n_rows
    both = subset.y.nunique() == 2 if n_rows else False
    if memory is not None:
        if n_rows < MIN_COMPARISON_ROWS or not both:
            window.update(
                independent=False,
                reason=f"only {n_rows} held-out rows (both outcomes needed, at least "
                f"{MIN_COMPARISON_ROWS}) remain after dropping the "
                f"{window['excluded_champion_training_rows']} rows champion "
                f"v{champion.version} trained on",
            )
            return {**result, "metrics": {}}
        window["independent"] = True
    if not both:
        return {**result, "metrics": {}, "window": window}
    result["metrics"] = family.evaluate(champion_model, subset)
    result["challenger_metrics"] = family.evaluate(outcome.estimator, subset)
    result["_frame"] = subset.X  # for prediction drift; dropped before logging
    return result


def recent_window(
    settings: Any,
    name: str,
    dataset: Any,
    recent: Any | None,
    outcome: Any,
    policy: Any,
) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Features of a recent window independent of the training data, and where they came from."""
    reference_columns = list(outcome.reference.columns)
    if recent is not None:
        if recent.content_hash == dataset.content_hash:
            raise BadInputError("--recent: the recent window is the training data itself")
        missing = [c for c in reference_columns if c not in recent.frame.columns]
        if missing:
            raise BadInputError(f"--recent: {recent.name} lacks the model's features {missing}")
        return recent.frame[reference_columns].reset_index(drop=True), {
            "kind": "recent_file",
            "source": recent.name,
            "rows": len(recent.frame),
        }
    from riskops.inference_log import read_inference_log

    min_rows = policy.data_drift.min_recent_rows
    log = read_inference_log(settings, name, last_n=policy.data_drift.max_rows)
    shared = [c for c in reference_columns if c in log.columns]
    if len(log) >= min_rows and shared:
        return log[shared].reset_index(drop=True), {
            "kind": "inference_log",
            "source": f"inference log of {name}",
            "rows": len(log),
            "columns_not_logged": [c for c in reference_columns if c not in shared],
        }
    if dataset.date_col is not None:
        evaluation = outcome.evaluation
        dates = evaluation.frame[dataset.date_col]
        return evaluation.X[reference_columns].reset_index(drop=True), {
            "kind": "latest_period",
            "source": f"{dataset.name}, {dates.min().date()} to {dates.max().date()} "
            "(the out-of-time held-out period)",
            "rows": len(evaluation.frame),
        }
    return None, {
        "kind": None,
        "reason": NO_WINDOW.format(min_rows=min_rows)
        + (f" (the inference log holds {len(log)} rows)" if len(log) else ""),
    }


def measure_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame | None,
    window: dict[str, Any],
    policy: Any,
    html_path: Path,
) -> dict[str, Any]:
    """The ``data_drift`` evidence: Evidently's tests, or ``"evaluated": false`` with why."""
    rule = policy.data_drift
    if current is None:
        return {
            "evaluated": False,
            "reason": window["reason"],
            "share_of_drifted_columns": None,
            "drifted_columns": [],
            "window": {k: v for k, v in window.items() if k != "reason"},
        }
    from riskops import drift

    columns = [c for c in reference.columns if c in current.columns]
    empty = [c for c in columns if current[c].isna().all() or reference[c].isna().all()]
    usable = [c for c in columns if c not in empty]
    result: dict[str, Any]
    if not usable:
        share, result = 1.0, {"drifted_columns": [], "columns": {}}
    else:
        measured = drift.data_drift(
            reference[usable],
            current[usable],
            drift_share=rule.max_drift_share,
            max_rows=rule.max_rows,
            stattest=rule.stattest,
            threshold=rule.threshold,
            html_path=html_path,
        ).to_dict()
        result = measured
        share = float(measured["share_of_drifted_columns"])
    if empty:
        # A feature that arrives without any value is the strongest drift there is.
        drifted = sorted({*result["drifted_columns"], *empty})
        share = len(drifted) / len(columns)
        result = {
            **result,
            "drifted_columns": drifted,
            "columns_without_values": empty,
            "dataset_drift": share >= rule.max_drift_share,
        }
    return {**result, "share_of_drifted_columns": share, "evaluated": True, "window": window}


def fairness_evidence(
    family: Any, outcome: Any, dataset: Any, policy: Any
) -> dict[str, Any] | None:
    """Approval rates per protected group on the held-out rows, with the challenger's PDs."""
    protected = list(getattr(dataset, "protected", ()) or ())
    if not protected:
        return None
    from riskops.credit.fairness import adverse_impact
    from riskops.credit.rules import FairnessRule

    rule = family.rules(policy).fairness or FairnessRule()
    evaluation = outcome.evaluation
    pd_ = family.score(outcome.estimator, evaluation.X).to_numpy()
    return adverse_impact(
        evaluation.frame[protected], pd_, rule.approval_max_pd, rule.min_group_rows
    )


def gather(
    settings: Any,
    registry: Any,
    name: str,
    family: Any,
    dataset: Any,
    recent: Any | None,
    outcome: Any,
    policy: Any,
    champion: Any | None,
    drift_dir: Path,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """``(data_drift, champion, prediction_drift)`` evidence of a credit challenger."""
    from riskops import drift

    current, window = recent_window(settings, name, dataset, recent, outcome, policy)
    data_drift = measure_drift(
        outcome.reference, current, window, policy, drift_dir / "data_drift.html"
    )
    fairness = fairness_evidence(family, outcome, dataset, policy)
    if fairness is not None:
        outcome.evidence["fairness"] = fairness
    if champion is None:
        return data_drift, None, None
    champion_model = registry.load_model(name, version=champion.version)
    compared = compare_with_champion(
        family, champion, champion_model, outcome, dataset.split_memory
    )
    rows = compared.pop("_frame", None)
    prediction_drift = None
    needed = set(model_features(champion_model)) | set(outcome.reference.columns)
    scored = current if current is not None and needed <= set(current.columns) else rows
    if scored is not None and len(scored):
        prediction_drift = drift.prediction_drift(
            family.score(outcome.estimator, scored), family.score(champion_model, scored)
        )
    return data_drift, compared, prediction_drift
