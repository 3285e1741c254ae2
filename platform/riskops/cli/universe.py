"""``riskops universe``: per-asset volatility and VaR models over many series, on Dask.

Reaches the Prefect flow in ``pipelines.universe`` by name at run time; the library never
imports Prefect or Dask.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Literal

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, progress, stdout


def _pipelines(module: str) -> Any:
    from riskops.settings import Settings

    settings = Settings()
    # Prefect reads its home and telemetry settings at import time, and does not create
    # the parents of its home: on a fresh RISKOPS_HOME its ephemeral API cannot start.
    settings.ensure_home()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    settings.export_environment()
    return importlib.import_module(f"pipelines.{module}")


def universe(
    n_simulated: Annotated[
        int, typer.Option("--n-simulated", min=0, help="Simulated GARCH-t series to add.")
    ] = 50,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            help="Dask scheduler, e.g. tcp://scheduler:8786; default RISKOPS_DASK_ADDRESS, "
            "else a local cluster.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=256, help="Local cluster worker processes.")
    ] = 2,
    n_days: Annotated[
        int, typer.Option("--n-days", min=300, help="Length of each simulated series.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated series.")] = 0,
    real: Annotated[
        list[str] | None,
        typer.Option(
            "--real", help="Bundled dataset to include (repeat); default: us_indices and eustocks."
        ),
    ] = None,
    no_real: Annotated[bool, typer.Option("--no-real", help="Simulated series only.")] = False,
    var_model: Annotated[
        Literal["fhs", "garch_t"], typer.Option(help="VaR model per asset.")
    ] = "fhs",
    backtest_days: Annotated[int, typer.Option(min=20, help="Rolling backtest length.")] = 250,
    json_out: opt.Json = False,
) -> None:
    """Fit GARCH(1,1)-t volatility and VaR/ES per asset over a universe, fanned out on Dask.

    Logs one MLflow run (experiment riskops-universe) with the per-asset table; registers
    nothing per asset.
    """
    with command(json_out):
        flows = _pipelines("universe")
        with progress("universe", json_out):
            out = flows.universe_flow(
                n_simulated=n_simulated,
                dask_address=dask_address,
                workers=workers,
                real=[] if no_real else real,
                n_days=n_days,
                seed=seed,
                var_model=var_model,
                backtest_days=backtest_days,
            )
        payload = {k: out[k] for k in ("run_id", "summary", "failed", "runner", "seconds")}
        payload["table"] = out["table"]

        def render() -> None:
            from rich.table import Table

            table = Table(
                "asset", "persistence", "vol (next day)", "VaR 99", "ES 99", "exc. 99", "zone 99"
            )
            for row in out["table"]:
                if not row["ok"]:
                    table.add_row(
                        row["asset"], "[red]failed[/red]", row["error"][:60], "", "", "", ""
                    )
                    continue
                table.add_row(
                    row["asset"],
                    f"{row['persistence']:.3f}",
                    f"{row['next_day_vol']:.2f}",
                    f"{row['var_99']:.2f}",
                    f"{row['es_99']:.2f}",
                    str(row["exceptions_99"]),
                    row["zone_99"],
                )
            stdout.print(table)
            s = out["summary"]
            stdout.print(
                f"{int(s['n_ok'])}/{int(s['n_assets'])} assets in {out['seconds']:.1f} s, "
                f"MLflow run {out['run_id']}"
            )

        emit(payload, json_out, render)
