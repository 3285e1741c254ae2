"""``riskops report`` and ``riskops lineage``: governance documents for model-risk review."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import (
    command,
    emit,
    model_object,
    progress,
    stderr,
    stdout,
    wrote,
)

if TYPE_CHECKING:
    from riskops.settings import Settings

Version = Annotated[
    int | None,
    typer.Option(
        help="Version; default: the champion (without one: the challenger, else the latest)."
    ),
]


def default_version(settings: Settings, name: str, version: int | None) -> int | None:
    """The version a governance command describes: ``version``, else the champion's.

    Without a champion it is None, and the documents fall back to the challenger, else the
    latest version; a note on stderr says so.
    """
    if version is not None:
        return version
    from riskops.registry import CHAMPION, Registry

    champion = Registry(settings).version_for_alias(name, CHAMPION)
    if champion is not None:
        return champion.version
    stderr.print(
        f"[yellow]note[/yellow] {name} has no champion yet: describing its challenger "
        "(else its latest version); pass --version for another",
        highlight=False,
    )
    return None


def report(
    name: opt.ModelName,
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

        settings = Settings()
        version = default_version(settings, name, version)
        with progress(f"building the validation report of {name}", json_out):
            result = generate(
                settings, name, version, out=out, card_path=card, log=log, evidently=evidently
            )

        def render() -> None:
            wrote(
                result["written"]["report"],
                f"validation report of {result['model']} v{result['version']}, "
                f"{len(result['figures'])} figures, {result['report_bytes'] / 1e6:.1f} MB",
            )
            if "card" in result["written"]:
                wrote(result["written"]["card"], "model card")
            for uri in result["logged"].values():
                stdout.print(f"  logged {uri}")
            for caveat in result["caveats"]:
                stdout.print(f"  [yellow]caveat[/yellow] {caveat}", highlight=False)

        emit(model_object(result), json_out, render)


def lineage(name: opt.ModelName, version: Version = None, json_out: opt.Json = False) -> None:
    """Where a version came from: run, data hashes, code, parent champion, gates, promotions."""
    with command(json_out):
        from riskops.governance.facts import collect, json_only
        from riskops.governance.lineage import build_lineage
        from riskops.settings import Settings, scratch_dir

        settings = Settings()
        version = default_version(settings, name, version)
        with scratch_dir(settings, "lineage") as tmp:
            facts = collect(settings, name, version, workdir=tmp, fetch=json_only)
            result = build_lineage(facts)
        emit(model_object(result), json_out, lambda: _render_lineage(result))


def _render_lineage(lin: dict) -> None:
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
    # One block per record rather than a seven-column table: readable at 80 columns.
    stdout.print("[bold]audit records of this version[/bold]")
    for e in lin["audit_records"]:
        stdout.print(f"  #{e['seq']}  {e['time']}  {e['actor']}  {e['action']}", highlight=False)
        for label in ("alias_changes", "decision", "evidence"):
            if e.get(label):
                stdout.print(f"      {label.replace('_', ' ')}: {e[label]}", highlight=False)
