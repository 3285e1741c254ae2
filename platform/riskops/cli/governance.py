"""``riskops report`` and ``riskops lineage``: governance documents for model-risk review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, progress, stdout

ModelName = Annotated[str, typer.Argument(help="Registered model name, e.g. credit_pd.")]
Version = Annotated[
    int | None, typer.Option(help="Version; default: the challenger, else the latest.")
]


def report(
    name: ModelName,
    out: Annotated[Path, typer.Option("--out", help="Validation report to write (HTML).")],
    version: Version = None,
    card: Annotated[
        Path | None, typer.Option("--card", help="Also write the model card (Markdown).")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="Log report and card to the version's run.")
    ] = True,
    evidently: Annotated[
        bool,
        typer.Option("--evidently/--no-evidently", help="Embed Evidently's drift report."),
    ] = True,
    json_out: opt.Json = False,
) -> None:
    """Write a self-contained validation report (and model card) of a registered version."""
    with command(json_out):
        from riskops.governance.report import generate
        from riskops.settings import Settings

        with progress(f"building the validation report of {name}", json_out):
            result = generate(
                Settings(), name, version, out=out, card_path=card, log=log, evidently=evidently
            )

        def render() -> None:
            stdout.print(
                f"[green]wrote[/green] {result['written']['report']} for {result['model']} "
                f"v{result['version']} ({len(result['figures'])} figures, "
                f"{result['report_bytes'] / 1e6:.1f} MB)"
            )
            if "card" in result["written"]:
                stdout.print(f"[green]wrote[/green] {result['written']['card']}")
            for uri in result["logged"].values():
                stdout.print(f"  logged {uri}")
            for caveat in result["caveats"]:
                stdout.print(f"  [yellow]caveat[/yellow] {caveat}", highlight=False)

        emit(result, json_out, render)


def lineage(name: ModelName, version: Version = None, json_out: opt.Json = False) -> None:
    """Where a version came from: run, data hashes, code, parent champion, gates, promotions."""
    with command(json_out):
        import tempfile

        from riskops.governance.facts import collect, json_only
        from riskops.governance.lineage import build_lineage
        from riskops.settings import Settings

        with tempfile.TemporaryDirectory(prefix="riskops-lineage-") as tmp:
            facts = collect(Settings(), name, version, workdir=Path(tmp), fetch=json_only)
            result = build_lineage(facts)
        emit(result, json_out, lambda: _render_lineage(result))


def _render_lineage(lin: dict) -> None:
    from rich.table import Table

    data = lin["dataset"]
    parent = lin["parent_champion"]
    compared = lin["compared_with_champion"]
    consistent = (
        "[green]consistent[/green]" if lin["dataset_hash_consistent"] else "[red]INCONSISTENT[/red]"
    )
    lines = [
        f"[bold]{lin['model']} v{lin['version']}[/bold] ({lin['family']}, {lin['model_kind']}) "
        f"aliases: {', '.join(lin['aliases']) or 'none'}; status {lin['validation_status']}",
        f"run            {lin['run_id']}",
        f"dataset        {data['name']} ({data['rows']} rows, "
        + (" to ".join(data["period"]) if data["period"] else "no dates")
        + ")",
        f"content hash   {data['content_hash']} ({consistent} across run, registry, audit)",
        f"schema         {lin['schema_version']}",
        f"code version   {lin['code_version']}",
        "parent         "
        + (
            f"v{parent['version']} (run {parent['run_id']}, data {parent['dataset_hash']})"
            if parent
            else "none"
        ),
        "compared with  "
        + (f"champion v{compared['version']} on the same window" if compared else "no champion"),
        f"gate evidence  {lin['gate_evidence_uri']}",
    ]
    for g in lin["gate_reports"]:
        verdict = "passed" if g["passed"] else "failed: " + ", ".join(g["failed_gates"])
        lines.append(f"gate report    {g['uri']} ({verdict})")
    if lin["audit_chain_intact"] is False:
        lines.append("[red]audit chain is broken: run `riskops audit verify`[/red]")
    for line in lines:
        stdout.print(line, highlight=False)
    table = Table(title="audit records of this version")
    for column in ("seq", "time (UTC)", "actor", "action"):
        table.add_column(column, no_wrap=column != "actor")
    for column in ("alias change", "decision", "evidence"):
        table.add_column(column, overflow="fold")
    for e in lin["audit_records"]:
        table.add_row(
            str(e["seq"]),
            e["time"],
            e["actor"],
            e["action"],
            e["alias_changes"],
            e["decision"],
            e["evidence"],
        )
    stdout.print(table)
