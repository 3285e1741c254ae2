"""Prefect events: a monitor says "drift crossed the policy" or "performance degraded"; an
automation retrains.

The retrain deployment carries a trigger on :data:`DRIFT_EVENT` (sent by the monitor) and
one on :data:`PERFORMANCE_EVENT` (``deployments.py`` and ``prefect.yaml``): each event
starts a run of it. The deployment's concurrency limit (1, queued) keeps an
event-triggered retrain from overlapping the nightly one.

:data:`PERFORMANCE_EVENT` is shared by every live monitor: the credit validation tests on
matured outcomes (the daily live-monitors flow, ``riskops outcomes``) and the market
champions' audited live alarms (``riskops stream``, ``riskops observe``, ``POST
/market/observe``: :mod:`riskops.live.book`). Each builds its payload with
:func:`riskops.families.alarms.performance_payload`, the contract the one trigger reads:
``families``, ``models``, ``include_outcomes``, and the ``cause`` added here (recorded with
the new version: the event, its id and the audit record that raised it).
"""

from __future__ import annotations

import uuid
from typing import Any

from riskops.families.alarms import PERFORMANCE_EVENT

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


def performance_event(payload: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """The event (name, resource, payload, id) of one live monitor's alarm; ``payload`` is
    :func:`~riskops.families.alarms.performance_payload`'s, completed with the ``cause`` a
    retrain records."""
    name = payload["model"]
    event_id = event_id or str(uuid.uuid4())
    cause = {
        "event": PERFORMANCE_EVENT,
        "event_id": event_id,
        "monitor": payload.get("monitor"),
        "audit_seq": payload.get("audit_seq"),
        "model": name,
    }
    return {
        "event": PERFORMANCE_EVENT,
        "resource": {
            "prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}{name}",
            "prefect.resource.name": name,
            "riskops.family": str(payload.get("family", "")),
        },
        "payload": {**payload, "cause": cause},
        "id": uuid.UUID(event_id),
    }


def emit_performance(payload: dict[str, Any]) -> str | None:
    """Send an alarm's performance event to the Prefect API; the event's id (None: not
    sent, no Prefect API configured)."""
    from prefect.events import emit_event

    event = emit_event(**performance_event(payload))
    return None if event is None else str(event.id)


def retrain_on_performance_trigger() -> Any:
    """The retrain deployment's trigger on degraded live performance: one run per event,
    for the model's family (or model), on its matured outcomes when the event asks."""
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name="retrain-on-degraded-performance",
        description="A live monitor's alarm (credit outcome tests, a market champion's zone "
        "change or CUSUM): retrain what its event names.",
        expect={PERFORMANCE_EVENT},
        match={"prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}*"},
        parameters={
            "families": "{{ event.payload.families }}",
            "models": "{{ event.payload.models | default(none) }}",
            "include_outcomes": "{{ event.payload.include_outcomes | default(false) }}",
            "cause": "{{ event.payload.cause | default(none) }}",
        },
    )
