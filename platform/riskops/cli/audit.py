"""``riskops audit NAME`` and ``riskops audit verify``: the audit trail for reviewers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stdout


def audit(
    target: Annotated[
        str, typer.Argument(help="A model name, 'all', or 'verify' to check the hash chain.")
    ],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Export records to CSV.")] = None,
    json_file: Annotated[
        Path | None, typer.Option("--export-json", help="Export records to a JSON file.")
    ] = None,
    json_out: opt.Json = False,
) -> None:
    """Show a model's audit records, export them, or verify the chain (exit 1 if broken)."""
    with command(json_out):
        from riskops.audit import AuditTrail
        from riskops.settings import Settings

        trail = AuditTrail(Settings())
        if target == "verify":
            result = trail.verify()
            emit(result.to_dict(), json_out, lambda: stdout.print(
                f"[green]audit chain intact[/green]: {result.records} records" if result.ok else
                f"[red]audit chain broken at record {result.first_broken}[/red]: {result.reason}"))
            if not result.ok:
                raise typer.Exit(1)
            return
        records = [r.to_dict() for r in trail.records(None if target == "all" else target)]
        if csv_out is not None:
            _write_csv(records, csv_out)
        if json_file is not None:
            json_file.write_text(json.dumps(records, indent=2))

        def render() -> None:
            from rich.table import Table

            table = Table("seq", "time (UTC)", "actor", "action", "model", "version", "details")
            for r in records:
                table.add_row(str(r["seq"]), r["ts"][:19], r["actor"], r["action"], r["model"],
                              str(r["version"] or ""), _summary(r["body"]))
            stdout.print(table)

        emit({"model": target, "records": records}, json_out, render)


def _summary(body: dict) -> str:
    if "alias_changes" in body:
        parts = [f"{c['alias']}: {c.get('from')}→{c.get('to')}" for c in body["alias_changes"]]
        extra = f" reason: {body['reason']}" if body.get("reason") else ""
        return "; ".join(parts) + extra
    if "alias_change" in body:
        return f"{body['alias_change']['alias']} → {body['alias_change']['to']}; data {body.get('dataset_hash', '')[:19]}"
    if "passed" in body:
        return "gates passed" if body["passed"] else "gates failed"
    if "reasons" in body:
        return "; ".join(body["reasons"])[:120]
    return ", ".join(f"{k}={v}" for k, v in body.items())[:120]


def _write_csv(records: list[dict], path: Path) -> None:
    fields = ["seq", "ts", "actor", "action", "model", "version", "body", "prev_hash", "hash"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "body": json.dumps(r["body"], sort_keys=True)})
