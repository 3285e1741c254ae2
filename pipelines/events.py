"""Prefect events: the monitor says "drift crossed the policy"; an automation retrains.

The retrain deployment carries a trigger on :data:`DRIFT_EVENT` (``deployments.py`` and
``prefect.yaml``): each event starts a run of it for the drifted family. The deployment's
concurrency limit (1, queued) keeps a drift-triggered retrain from overlapping the nightly
one.
"""

from __future__ import annotations

from typing import Any

DRIFT_EVENT = "riskops.drift.detected"
MODEL_RESOURCE_PREFIX = "riskops.model."


def drift_event(family: str, check: dict[str, Any]) -> dict[str, Any]:
    """The event (name, resource, payload) for one model whose drift crossed its policy."""
    name = check["model"]
    return {
        "event": DRIFT_EVENT,
        "resource": {
            "prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}{name}",
            "prefect.resource.name": name,
            "riskops.family": family,
        },
        "payload": {
            # The trigger passes `families` to the retrain flow as is.
            "families": [family],
            "version": check.get("version"),
            "share_of_drifted_columns": check.get("share_of_drifted_columns"),
            "threshold": check.get("threshold"),
            "drifted_columns": check.get("drifted_columns", []),
            "source": check.get("source"),
        },
    }


def emit_drift(family: str, check: dict[str, Any]) -> str | None:
    """Send the drift event to the Prefect API; returns the event's id."""
    from prefect.events import emit_event

    event = emit_event(**drift_event(family, check))
    return None if event is None else str(event.id)


def retrain_on_drift_trigger() -> Any:
    """The retrain deployment's trigger: one run per drift event, for its family."""
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name="retrain-on-drift",
        description="Drift crossed a model's policy in the monitor: retrain its family.",
        expect={DRIFT_EVENT},
        match={"prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}*"},
        parameters={"families": "{{ event.payload.families }}"},
    )
