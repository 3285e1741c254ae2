"""Drift over time: every monitoring check as a run in an Evidently workspace.

The workspace lives at ``RISKOPS_HOME/evidently``, one Evidently project per registered
model, whose dashboard plots each input column's drift score check after check. Open it
with ``evidently ui --workspace $RISKOPS_HOME/evidently`` (the README says more).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riskops.drift import DriftResult
    from riskops.settings import Settings


def workspace_path(settings: Settings) -> Path:
    return settings.home / "evidently"


def record_check(
    settings: Settings, model: str, result: DriftResult, *, run_name: str
) -> str | None:
    """Add the check's Evidently snapshot to the model's project; returns the run's id."""
    if result.snapshot is None:
        return None
    from evidently.ui.workspace import Workspace

    path = workspace_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(str(path))
    project = _project(workspace, model, list(result.columns))
    ref = workspace.add_run(project.id, result.snapshot, include_data=False, name=run_name)
    return str(ref.id)


def _project(workspace: Any, model: str, columns: list[str]) -> Any:
    found = workspace.search_project(model)
    if found:
        return found[0]
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    project = workspace.create_project(
        model, description=f"Input drift of {model}'s champion, one run per monitoring check."
    )
    project.dashboard.add_panel(
        line_plot_panel(
            title="Drift score per input column",
            description="Evidently's per-column drift statistic (see each run for its test).",
            values=[
                PanelMetric(legend=column, metric="ValueDrift", metric_labels={"column": column})
                for column in columns
            ],
        )
    )
    return project
