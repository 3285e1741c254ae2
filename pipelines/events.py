"""Prefect events: "drift crossed the policy", "a live champion is degrading"; an
automation retrains.

The retrain deployment carries a trigger on :data:`DRIFT_EVENT` (sent by the monitor) and
one on :data:`PERFORMANCE_EVENT` (sent by ``riskops stream`` and ``riskops observe`` when a
live champion's alarm is audited, :mod:`riskops.live.book`), in ``deployments.py`` and
``prefect.yaml``: each event starts a run of it for the family concerned. The deployment's
concurrency limit (1, queued) keeps an event-triggered retrain from overlapping the nightly
one.
"""

from __future__ import annotations

from typing import Any

DRIFT_EVENT = "riskops.drift.detected"
PERFORMANCE_EVENT = "riskops.performance.degraded"
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


def performance_event(alarm: dict[str, Any]) -> dict[str, Any]:
    """The event (name, resource, payload) of one audited live alarm
    (:meth:`riskops.live.book.LiveBook.publish_pending`'s dict)."""
    name = alarm["model"]
    return {
        "event": PERFORMANCE_EVENT,
        "resource": {
            "prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}{name}",
            "prefect.resource.name": name,
            "riskops.family": alarm["family"],
        },
        "payload": {
            # The trigger passes `families` to the retrain flow as is.
            "families": [alarm["family"]],
            "version": alarm.get("version"),
            "series": alarm.get("series"),
            "detector": alarm.get("detector"),
            "day": alarm.get("day"),
            "audit_seq": alarm.get("audit_seq"),
            "detail": alarm.get("detail"),
        },
    }


def emit_performance(alarm: dict[str, Any]) -> str | None:
    """Send a live alarm's event to the Prefect API; the event's id (None: not sent, no
    Prefect API configured)."""
    from prefect.events import emit_event

    event = emit_event(**performance_event(alarm))
    return None if event is None else str(event.id)


def retrain_on_performance_trigger() -> Any:
    """The retrain deployment's trigger: one run per live alarm, for the champion's family."""
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name="retrain-on-degraded-performance",
        description="A live champion's alarm (zone change or CUSUM on its exceptions): retrain "
        "its family.",
        expect={PERFORMANCE_EVENT},
        match={"prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}*"},
        parameters={"families": "{{ event.payload.families }}"},
    )
