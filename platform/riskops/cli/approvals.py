"""``riskops approvals``, ``approve`` and ``reject``: the checker's side of maker-checker."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout

Version = Annotated[
    int | None,
    typer.Option(help="The version whose request to decide; default: the only pending one."),
]
Reason = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]


def approve(
    name: opt.ModelName, version: Version = None, *, reason: Reason, json_out: opt.Json = False
) -> None:
    """Approve a pending promotion (not your own); the last approval makes it champion."""
    with command(json_out):
        from riskops.cli.lifecycle import decision_flow, finish_decision, prefect_api
        from riskops.lifecycle import Lifecycle

        decision: Any
        if prefect_api():
            decision = decision_flow("approve", name=name, version=version, reason=reason)
        else:
            decision = Lifecycle().approve(name, version, reason)
        finish_decision(decision, json_out)


def reject(
    name: opt.ModelName, version: Version = None, *, reason: Reason, json_out: opt.Json = False
) -> None:
    """Reject a pending promotion request; the champion does not change."""
    with command(json_out):
        from riskops.cli.lifecycle import decision_flow, finish_decision, prefect_api
        from riskops.lifecycle import Lifecycle

        decision: Any
        if prefect_api():
            decision = decision_flow("reject", name=name, version=version, reason=reason)
        else:
            decision = Lifecycle().reject(name, version, reason)
        finish_decision(decision, json_out)


def approvals(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Only this model's requests.", parser=opt.registered_model, metavar="[NAME]"
        ),
    ] = None,
    json_out: opt.Json = False,
) -> None:
    """Promotions waiting for approval (maker-checker), from the audit trail."""
    with command(json_out):
        from riskops.audit import AuditTrail
        from riskops.governance.pending import pending_approvals
        from riskops.settings import Settings

        settings = Settings()
        waiting = pending_approvals(AuditTrail(settings).records(name), name)

        def render() -> None:
            from rich.markup import escape

            from riskops.cli.tables import Column, show

            if not waiting:
                stdout.print(
                    f"nothing waits for approval{f' for {name}' if name else ''} "
                    f"(home {settings.home})",
                    highlight=False,
                )
                return
            rows = []
            for w in waiting:
                model = w["model"]
                approved = ", ".join(w["approved_by"]) or "nobody yet"
                rows.append(
                    {
                        "model": f"{model['name']} v{model['version']}",
                        "requested": f"{(w['requested_at'] or '')[:16].replace('T', ' ')} by "
                        f"{escape(w['requested_by'])}",
                        "replaces": "-" if w["champion"] is None else f"v{w['champion']}",
                        "approvals": f"{len(w['approved_by'])}/{w['required']} "
                        f"({escape(approved)})",
                        "reason": escape(w["reason"] or "")
                        + (" [yellow](override)[/yellow]" if w["forced"] else ""),
                    }
                )
            show(
                stdout,
                [
                    Column("model", "model", heading=True),
                    Column("requested", "requested"),
                    Column("replaces", "replaces"),
                    Column("approvals", "approvals", wrap=True, min_width=14),
                    Column("reason", "reason", wrap=True),
                ],
                rows,
                title=f"{len(waiting)} promotion(s) waiting for approval",
                caption="approve: riskops approve NAME --version N --reason WHY "
                "(never your own request); refuse: riskops reject NAME --version N --reason WHY",
            )

        emit({"pending": waiting}, json_out, render)
