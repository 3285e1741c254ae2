"""``riskops approve`` and ``riskops reject``: the checker's side of maker-checker."""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout

ModelName = Annotated[str, typer.Argument(help="Registered model name, e.g. credit_pd.")]
Version = Annotated[int, typer.Option(help="The version whose promotion request to decide.")]
Reason = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]


def approve(name: ModelName, version: Version, reason: Reason, json_out: opt.Json = False) -> None:
    """Approve a pending promotion (not your own); the last approval moves the alias."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        result = Lifecycle().approve(name, version, reason)

        def render() -> None:
            who = ", ".join(result["approved_by"])
            if result["promoted"]:
                from riskops.cli.lifecycle import render_documents

                stdout.print(
                    f"[green]{name} v{version} promoted[/green]: approved by {who}",
                    highlight=False,
                )
                render_documents(result.get("documents") or {})
            else:
                stdout.print(
                    f"{name} v{version}: approved by {who}; "
                    f"{result['required'] - len(result['approved_by'])} more approval(s) needed",
                    highlight=False,
                )

        emit(result, json_out, render)


def reject(name: ModelName, version: Version, reason: Reason, json_out: opt.Json = False) -> None:
    """Reject a pending promotion request; the champion does not change."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        result = Lifecycle().reject(name, version, reason)
        emit(
            result,
            json_out,
            lambda: stdout.print(f"{name} v{version} [yellow]rejected[/yellow]", highlight=False),
        )
