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

        if target == "verify":
            _verify(json_out)
            return
        trail = AuditTrail(Settings())
        records = [r.to_dict() for r in trail.records(None if target == "all" else target)]
        if csv_out is not None:
            _write_csv(records, csv_out)
        if json_file is not None:
            json_file.write_text(json.dumps(records, indent=2))

        def render() -> None:
            from rich.table import Table

            from riskops.governance.history import describe

            per_model = target == "all"
            table = Table(
                title=f"audit trail: {target}",
                caption="alias change: alias old version → new version",
            )
            for column in ("seq", "time (UTC)", "actor", "action"):
                table.add_column(column, no_wrap=column != "actor")
            if per_model:
                table.add_column("model")
            table.add_column("version", no_wrap=True)
            table.add_column("alias change", overflow="fold")
            table.add_column("decision / reason", overflow="fold", ratio=2)
            table.add_column("evidence", overflow="fold", ratio=1)
            for r in records:
                row = describe(r)
                # who, and how it was established (token, oidc, self_declared)
                actor = f"{row.actor} ({row.actor_source})" if row.actor_source else row.actor
                cells = [str(row.seq), row.time, actor, row.action]
                cells += [row.model] if per_model else []
                cells += [
                    "" if row.version is None else f"v{row.version}",
                    row.alias_changes,
                    row.decision,
                    row.evidence,
                ]
                table.add_row(*cells)
            stdout.print(table)

        emit({"model": target, "records": records}, json_out, render)


def _verify(json_out: bool) -> None:
    """The chain and its anchors, every champion alias, the champions' artifacts."""
    from riskops.ledger.verify import verify_installation
    from riskops.settings import Settings

    report = verify_installation(Settings())
    payload = report.to_dict()

    def render() -> None:
        chain = report.chain
        scheme = "HMAC-SHA-256" if chain["scheme"] == "hmac-sha256" else "SHA-256, unkeyed"
        if chain["ok"]:
            stdout.print(
                f"[green]audit chain intact[/green]: {chain['records']} records ({scheme}), "
                f"head anchored at record {chain['anchor_seq']}",
                highlight=False,
            )
        flagged = {f.model for f in report.findings if f.severity == "error"}
        for name, state in report.models.items():
            mark = "[red]!![/red]" if name in flagged else "[green]ok[/green]"
            if state.get("registered") is False:
                stdout.print(f"{mark} {name}: not in the registry", highlight=False)
                continue
            stdout.print(
                f"{mark} {name}: audited champion {_v(state['audited_champion'])}, alias "
                f"{_v(state.get('champion_alias'))}"
                + (f", artifacts {state['artifacts']}" if "artifacts" in state else "")
                + (f", evidence {state['evidence']}" if "evidence" in state else ""),
                highlight=False,
            )
        for f in report.findings:
            colour = "red" if f.severity == "error" else "yellow"
            stdout.print(
                f"[{colour}]{f.severity}[/{colour}] {f.kind}: {f.message}", highlight=False
            )
        if not report.ok:
            stdout.print("[red]audit verification failed[/red]")

    emit(payload, json_out, render)
    if not report.ok:
        raise typer.Exit(1)


def reconcile(name: opt.ModelName, json_out: opt.Json = False) -> None:
    """Make the registry's aliases say what the audit trail says (recorded first)."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        done = Lifecycle().reconcile(name)
        changes = done["alias_changes"]

        def render() -> None:
            if done["anchor"]:
                stdout.print(done["anchor"], highlight=False)
            if not changes:
                stdout.print(f"{name}: the registry's aliases already match the audit trail")
            for c in changes:
                stdout.print(
                    f"{name}@{c['alias']}: {_v(c['from'])} -> {_v(c['to'])}", highlight=False
                )
            for v in done["unaudited_versions"]:
                stdout.print(
                    f"{name} v{v}: recorded as registered outside the audit trail (tagged "
                    "riskops.unaudited; never served nor promotable)",
                    highlight=False,
                )

        emit({"model": name, **done}, json_out, render)


def _v(version: int | None) -> str:
    return "none" if version is None else f"v{version}"


def _write_csv(records: list[dict], path: Path) -> None:
    """Readable columns first (as in the table), then the raw record with its hashes."""
    from riskops.governance.history import describe

    readable = ["alias_changes", "decision", "evidence"]
    fields = [
        "seq",
        "ts",
        "actor",
        "action",
        "model",
        "version",
        *readable,
        "body",
        "prev_hash",
        "hash",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for r in records:
            row = describe(r).to_dict()
            writer.writerow(
                {
                    **r,
                    **{k: row[k] for k in readable},
                    "body": json.dumps(r["body"], sort_keys=True),
                }
            )
