"""One evidence pipeline for every family: what the gates will read, gathered at training time.

The steps are the same for a PD model and a VaR model; each family fills them in through its
hooks (:class:`~riskops.families.base.Family`):

1. the recent window for the drift gates (:meth:`~riskops.families.base.Family.gate_window`),
   and data drift between the training reference and it
   (:func:`riskops.drift.measure_drift`; "not evaluated" with the reason when there is none);
2. the family's own facts (:meth:`~riskops.families.base.Family.extra_evidence`);
3. against the champion the *trail* names (never an alias): its metrics on the challenger's
   evaluation window (:meth:`~riskops.families.base.Family.compare`), the prediction
   drift of both models on the same rows
   (:meth:`~riskops.families.base.Family.prediction_rows`), and its live record since its
   promotion (forecasts against what happened, alarms, the seals of the live streams;
   :mod:`riskops.live.record`), so that a challenger trained because the champion's live
   evidence turned is gated with that evidence in hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from riskops.families.base import EvidenceContext, Family


def gather(
    family: Family,
    context: EvidenceContext,
    champion: tuple[int, str, Any] | None,
    drift_dir: Path,
) -> dict[str, Any]:
    """``{"data_drift", "prediction_drift", "champion"}`` of a challenger.

    ``champion`` is ``(version, run_id, fitted model)`` of the trail's champion, or None.
    The family's extra facts are added to ``context.outcome.evidence``.
    """
    from riskops import drift

    window = family.gate_window(context)
    data_drift = drift.measure_drift(
        context.outcome.reference,
        window.features,
        window.description,
        context.policy,
        drift_dir / "data_drift.html",
    )
    context.outcome.evidence.update(family.extra_evidence(context))
    if champion is None:
        return {"data_drift": data_drift, "prediction_drift": None, "champion": None}
    version, run_id, model = champion
    comparison = family.compare(model, version, context)
    live = context.live_record(version)
    if live is not None:
        comparison["live"] = live
    rows = family.prediction_rows(window, comparison, model, context)
    comparison.pop("_frame", None)  # rows for the prediction drift; never logged
    prediction_drift = None
    if rows is not None and len(rows):
        prediction_drift = drift.prediction_drift(
            family.score(context.outcome.estimator, rows), family.score(model, rows)
        )
    return {
        "data_drift": data_drift,
        "prediction_drift": prediction_drift,
        "champion": {"version": version, "run_id": run_id, **comparison},
    }
