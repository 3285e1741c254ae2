"""Scheduled deployments: a nightly retrain, an hourly drift monitor and the daily live
monitors (credit: the validation tests on matured outcomes).

``riskops schedule`` serves both from this process (``prefect.serve``); in production a
worker of the ``riskops`` work pool runs the same deployments from ``prefect.yaml``.
"""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from pipelines.events import retrain_on_drift_trigger, retrain_on_performance_trigger
from pipelines.flows import live_monitor_flow, monitor_flow, retrain_flow

NIGHTLY_RETRAIN_CRON = "0 2 * * *"
HOURLY_MONITOR_SECONDS = 3600
DAILY_LIVE_MONITORS_SECONDS = 86400
RETRAIN_CONCURRENCY = 1


def deployments() -> list[Any]:
    return [
        retrain_flow.to_deployment(
            name="nightly-retrain",
            cron=NIGHTLY_RETRAIN_CRON,
            tags=["riskops", "retrain"],
            description="Retrain all four families, gate and promote the challengers; "
            "also started by the monitor's drift events and the live monitors' performance "
            "events (credit outcome tests, market champions' live alarms).",
            triggers=[retrain_on_drift_trigger(), retrain_on_performance_trigger()],
            # One retrain at a time: a drift-triggered run waits for the nightly one.
            concurrency_limit=ConcurrencyLimitConfig(
                limit=RETRAIN_CONCURRENCY, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
            ),
        ),
        monitor_flow.to_deployment(
            name="hourly-monitor",
            interval=HOURLY_MONITOR_SECONDS,
            tags=["riskops", "monitor"],
            description="Drift of the champions' inputs; triggers retrain past the policy.",
        ),
        live_monitor_flow.to_deployment(
            name="daily-live-monitors",
            interval=DAILY_LIVE_MONITORS_SECONDS,
            tags=["riskops", "monitor"],
            description="Live monitors of the champions (credit: validation tests on matured "
            "outcomes); a performance event per alarm triggers a retrain.",
        ),
    ]


def serve_schedules() -> None:
    """Register the deployments and run their flow runs from this process until stopped."""
    from prefect import serve

    serve(*deployments())
