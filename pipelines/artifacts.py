"""Prefect artifacts that show what a flow decided: the gate results and the MLflow run."""

from __future__ import annotations

import re
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


@task(cache_policy=NO_CACHE)
def publish_gate_results(name: str, version: int | None, report: dict[str, Any] | None) -> None:
    """A table artifact: one row per gate with its result and reason."""
    from prefect.artifacts import create_table_artifact

    rows = [
        {
            "gate": r["gate"],
            "result": ("pass" if r["passed"] else "FAIL")
            + (" (not evaluated)" if r.get("evaluated", True) is False else ""),
            "reason": r["reason"],
        }
        for r in (report or {}).get("results", [])
    ]
    if not rows:
        rows = [{"gate": "-", "result": "not evaluated", "reason": "no gate report"}]
    create_table_artifact(
        rows,
        key=artifact_key("gates", name),
        description=f"Gate results of {name} v{version}",
    )


@task(cache_policy=NO_CACHE)
def publish_run_link(name: str, version: int | None, run_id: str) -> None:
    """A link artifact to the version's MLflow run."""
    from prefect.artifacts import create_link_artifact

    from riskops import tracking
    from riskops.settings import Settings

    create_link_artifact(
        tracking.run_url(Settings(), run_id),
        link_text=f"MLflow run of {name} v{version}",
        key=artifact_key("mlflow-run", name),
        description=f"The MLflow run that trained {name} v{version}",
    )
