"""``riskops approve`` and ``riskops reject``: the checker's side of maker-checker."""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command

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
        from riskops.cli.lifecycle import finish_decision
        from riskops.lifecycle import Lifecycle

        finish_decision(Lifecycle().approve(name, version, reason), json_out)


def reject(
    name: opt.ModelName, version: Version = None, *, reason: Reason, json_out: opt.Json = False
) -> None:
    """Reject a pending promotion request; the champion does not change."""
    with command(json_out):
        from riskops.cli.lifecycle import finish_decision
        from riskops.lifecycle import Lifecycle

        finish_decision(Lifecycle().reject(name, version, reason), json_out)
