"""``riskops audit NAME`` and ``riskops audit verify``: the audit trail for reviewers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, fail, stdout, wrote


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
    """Show a model's audit records, export them, or verify the chain (exit 1 if broken).

    With --csv or --export-json the records go to the files, and the command says what it
    wrote instead of printing them.
    """
    with command(json_out):
        from riskops.audit import AuditTrail
        from riskops.settings import Settings

        if target == "verify":
            _verify(json_out)
            return
        settings = Settings()
        trail = AuditTrail(settings)
        records = [r.to_dict() for r in trail.records(None if target == "all" else target)]
        written: list[dict[str, str | int]] = []
        if csv_out is not None:
            _write_csv(records, csv_out)
            written.append({"path": str(csv_out), "format": "csv", "records": len(records)})
        if json_file is not None:
            json_file.write_text(json.dumps(records, indent=2))
            written.append({"path": str(json_file), "format": "json", "records": len(records)})
        scope = {"scope": "all"} if target == "all" else {"model": {"name": target}}

        def render() -> None:
            if written:
                for w in written:
                    wrote(w["path"], f"{w['records']} audit records, {str(w['format']).upper()}")
                return
            if not records:
                stdout.print(
                    f"no audit records{'' if target == 'all' else ' of ' + target} in home "
                    f"{settings.home}",
                    highlight=False,
                )
                return
            _render_records(records, per_model=target == "all", title=f"audit trail: {target}")

        if written:
            emit({**scope, "written": written}, json_out, render)
        else:
            emit({**scope, "records": records}, json_out, render)


def _render_records(records: list[dict], *, per_model: bool, title: str) -> None:
    """A table at wide terminals, one block per record at 80 columns."""
    from rich.markup import escape

    from riskops.cli.tables import Column, show
    from riskops.governance.history import describe

    rows = []
    for r in records:
        row = describe(r)
        # who, and how it was established (token, oidc, self_declared)
        actor = f"{row.actor} ({row.actor_source})" if row.actor_source else row.actor
        rows.append(
            {
                "seq": f"#{row.seq}",
                "time": row.time,
                "actor": escape(actor),
                "action": row.action,
                "model": escape(row.model),
                "version": "" if row.version is None else f"v{row.version}",
                "alias": escape(row.alias_changes),
                "decision": escape(row.decision),
                "evidence": escape(row.evidence),
            }
        )
    columns = [
        Column("seq", "seq", heading=True),
        Column("time", "time (UTC)", heading=True),
        Column("action", "action", heading=True),
        *([Column("model", "model", heading=True)] if per_model else []),
        Column("version", "version", heading=True),
        Column("actor", "actor", wrap=True, min_width=12),
        Column("alias", "alias change", wrap=True, min_width=12),
        Column("decision", "decision / reason", wrap=True, min_width=24),
        Column("evidence", "evidence", wrap=True, min_width=20),
    ]
    show(
        stdout,
        columns,
        rows,
        title=title,
        caption="alias change: alias old version → new version",
    )


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
        if not json_out:
            render()
        fail(
            "audit verification failed",
            1,
            json_out,
            type_name="AuditVerificationFailed",
            payload=payload,
        )
    emit(payload, json_out, render)


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

        emit({"model": {"name": name}, **done}, json_out, render)


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
