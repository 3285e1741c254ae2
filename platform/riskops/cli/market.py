"""``riskops stress``: stressed VaR/ES on historical and hypothetical scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, progress, stdout


def stress(
    data: opt.DataPath = None,
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    return_scale: opt.ReturnScale = "decimal",
    dataset: opt.Bundled = None,
    model: Annotated[
        str,
        typer.Option(
            help="'champion' (market_var's), or fhs, garch_t, historical, quantile_lightgbm."
        ),
    ] = "champion",
    weights: Annotated[
        str | None, typer.Option(help="Portfolio weights, e.g. sp500=0.6,nasdaq=0.4.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the table (.csv or .json).")] = None,
    hindsight: Annotated[
        bool,
        typer.Option(
            "--hindsight",
            help="Also run the historical windows with the full-sample fit (labelled).",
        ),
    ] = False,
    json_out: opt.Json = False,
) -> None:
    """Stressed VaR/ES: worst windows found in the data (as forecast at the time: the model
    fitted on the returns before each window), volatility and return shocks, correlation
    to one; the table is logged to MLflow as an artifact."""
    with command(json_out):
        from riskops import tracking
        from riskops.data import DataSource, load
        from riskops.errors import BadInputError
        from riskops.market.stress import run_stress, write_stress_table
        from riskops.settings import Settings, scratch_dir

        settings = Settings()
        source = DataSource(
            domain="market",
            path=data,
            bundled=dataset,
            date_col=date_col,
            price_col=price_col,
            return_col=return_col,
            return_scale=return_scale,
        )
        market = load(source)
        parsed = None
        if weights:
            try:
                parsed = {
                    k.strip(): float(v) for k, v in (p.split("=") for p in weights.split(","))
                }
            except ValueError:
                raise BadInputError(
                    f"--weights: expected asset=weight,..., got {weights!r}"
                ) from None
        tags = {"kind": "stress", "dataset_hash": market.content_hash}
        spec: object = model
        if model == "champion":
            from riskops.ledger.loader import VerifiedLoader

            loaded = VerifiedLoader(settings).champion("market_var")
            if loaded is None:
                raise BadInputError("--model champion: market_var has no champion; train one first")
            spec = loaded.estimator
            tags |= {"model": "market_var", "model_version": str(loaded.version)}
        with progress("stress testing", json_out):
            table = run_stress(market, spec, parsed, hindsight=hindsight)
        with scratch_dir(settings, "stress") as tmp:
            path = write_stress_table(table, tmp / "stress_test.csv")
            run_id = tracking.log_standalone(
                settings,
                "stress",
                "stress-test",
                [path],
                {"model": model, "weights": weights or "", "dataset": market.name},
                tags,
            )
        if out is not None:
            write_stress_table(table, out)
        records = table.to_dict(orient="records")

        def render() -> None:
            from rich.table import Table

            cols = [c for c in table.columns if c.startswith(("var_", "es_")) and c != "var_ratio"]
            cols.append("var_ratio")
            view = Table("scenario", *cols)
            for r in records:
                view.add_row(str(r["scenario"]), *(f"{r[c]:.2f}" for c in cols))
            stdout.print(view)
            stdout.print(f"logged to run {run_id}")

        emit({"run_id": run_id, "scenarios": records}, json_out, render)
