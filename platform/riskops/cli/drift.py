"""``riskops drift [NAME]``: the drift history, every monitoring check of every champion.

Each ``riskops monitor`` check is an audit record (``monitor``) and a run in the Evidently
workspace under the home, whose dashboard plots each input's drift check after check.
"""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout


def drift(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Only this model's checks.", parser=opt.registered_model, metavar="[NAME]"
        ),
    ] = None,
    json_out: opt.Json = False,
) -> None:
    """Drift history: each monitoring check (when, which champion, on what data, the share
    of drifted inputs against the policy), and where the Evidently workspace is."""
    with command(json_out):
        from riskops.audit import AuditTrail
        from riskops.drift_history import workspace_path
        from riskops.settings import Settings

        settings = Settings()
        checks = [
            {
                "model": {"name": r.model, "version": r.version},
                "time": r.ts,
                "audit_seq": r.seq,
                **{k: r.body.get(k) for k in _FACTS},
            }
            for r in AuditTrail(settings).records(name)
            if r.action == "monitor"
        ]
        workspace = workspace_path(settings)
        payload = {
            "checks": checks,
            "evidently_workspace": str(workspace) if workspace.is_dir() else None,
        }

        def render() -> None:
            if not checks:
                stdout.print(
                    f"no drift checks{' of ' + name if name else ''} yet in home "
                    f"{settings.home}: `riskops monitor` checks every champion",
                    highlight=False,
                )
            else:
                _render(checks)
            if workspace.is_dir():
                stdout.print(
                    f"Evidently dashboards: evidently ui --workspace {workspace}", highlight=False
                )

        emit(payload, json_out, render)


_FACTS = (
    "source",
    "share_of_drifted_columns",
    "threshold",
    "drifted_columns",
    "retrain",
    "report_uri",
    "evidently_run",
    "note",
)


def _render(checks: list[dict]) -> None:
    from rich.markup import escape

    from riskops.cli.tables import Column, show

    rows = []
    for c in checks:
        share, threshold = c["share_of_drifted_columns"], c["threshold"]
        if share is None:
            verdict = f"not checked: {escape(c.get('note') or '')}"
        else:
            colour = "red" if c["retrain"] else "green"
            verdict = f"[{colour}]{share:.0%}[/{colour}] drifted (policy {threshold:.0%})"
        rows.append(
            {
                "time": str(c["time"])[:16].replace("T", " "),
                "model": f"{escape(c['model']['name'])} v{c['model']['version']}",
                "drift": verdict,
                "columns": escape(", ".join(c.get("drifted_columns") or [])),
                "source": escape(c.get("source") or ""),
            }
        )
    show(
        stdout,
        [
            Column("time", "time (UTC)", heading=True),
            Column("model", "champion", heading=True),
            Column("drift", "drift", wrap=True, min_width=16),
            Column("columns", "drifted inputs", wrap=True),
            Column("source", "recent data", wrap=True),
        ],
        rows,
    )
