"""``riskops register FAMILY --model-uri URI``: a model logged with plain MLflow, through the
same lifecycle as the built-in kinds (its unfitted specification is cloned and refitted on
the platform's own split)."""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, progress, stdout


def register(
    family: opt.Family,
    model_uri: Annotated[
        str,
        typer.Option(
            "--model-uri", help="The logged model: runs:/RUN_ID/PATH or models:/NAME/VERSION."
        ),
    ],
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
    level: Annotated[float, typer.Option(help="VaR level / anomaly alert rate 1 - level.")] = 0.99,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    name: Annotated[
        str | None,
        typer.Option(
            help="Registered model name; default: the family's.",
            parser=opt.registered_model,
            metavar="NAME",
        ),
    ] = None,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle",
            help="Unpickle a pickle/cloudpickle model (it can run any code): in a separate "
            "process without RiskOps's secrets, keeping only its unfitted specification; "
            "recorded in the audit trail.",
        ),
    ] = False,
    json_out: opt.Json = False,
) -> None:
    """Register your own model (logged with MLflow) as a challenger: checked against the
    family's contract, cloned, fitted on the platform's split, evaluated, registered.

    Only the model's unfitted specification is used (class and hyperparameters); it is
    refitted here. A model logged with skops (MLflow's default for scikit-learn) is read
    with scikit-learn, NumPy, SciPy, LightGBM and XGBoost types trusted and no code run. A
    pickle or cloudpickle model runs code when unpickled: it is refused (exit 2) unless
    --trust-pickle is given; it is then unpickled in a separate Python whose environment
    holds none of RiskOps's secrets (no RISKOPS_*, MLFLOW_*, tokens), and only classes of
    scikit-learn, LightGBM and XGBoost are rebuilt from what it returns. That process still
    runs as you: trust only a file you would run yourself.
    """
    with command(json_out):
        from riskops.byom import load_logged_estimator
        from riskops.byom import register as register_model
        from riskops.families import get_family
        from riskops.settings import Settings

        get_family(family)  # an unknown family is exit 2 before anything loads
        settings = Settings()
        logged = load_logged_estimator(settings, model_uri, trust_pickle=trust_pickle)
        mapping = {
            k: v
            for k, v in {
                "date_col": date_col,
                "price_col": price_col,
                "return_col": return_col,
                "high_col": high_col,
                "low_col": low_col,
                "volume_col": volume_col,
            }.items()
            if v is not None
        }
        with progress(f"registering {family}", json_out):
            result = register_model(
                logged.estimator,
                family,
                data,
                target,
                positive_label,
                name,
                dataset=dataset,
                return_scale=return_scale,
                level=level,
                seed=seed,
                settings=settings,
                provenance=logged.provenance,
                **mapping,
            )
        payload = result.to_dict()
        payload["model_uri"] = model_uri

        def render() -> None:
            stdout.print(
                f"[green]registered[/green] {result.name} v{result.version} "
                f"({result.model_kind}, from {model_uri}, run {result.run_id}) as challenger"
            )
            for key, value in result.metrics.items():
                stdout.print(f"  {key:<24} {value:.4f}")
            from riskops.cli.lifecycle import render_documents

            render_documents(result.documents)

        emit(payload, json_out, render)
