"""The universe flow: per-asset volatility and VaR models over many series, on Dask.

``universe_flow`` fans :func:`riskops.universe.fit_asset` out over every series of a
universe (the bundled real indices plus ``n_simulated`` GARCH-t series), one Prefect task
per asset, through ``prefect_dask.DaskTaskRunner``: a local cluster of ``workers``
single-threaded processes by default, or the scheduler at ``dask_address`` (else
``RISKOPS_DASK_ADDRESS``) for a real cluster. The results are aggregated into one table,
logged to MLflow as one run of the ``riskops-universe`` experiment with the table
(CSV and Parquet) and every per-asset result (JSON) as artifacts.

Why a subflow: a flow's task runner is fixed when the flow is defined, but the cluster
here is a parameter. ``universe_flow`` therefore builds the ``DaskTaskRunner`` from its
parameters and runs the fan-out as the subflow ``universe-fit`` with that runner
(``with_options``). The subflow takes only small parameters and loads the (deterministic)
universe itself, so no data frame travels through the Prefect API as a flow parameter;
each task receives its own series directly through Dask.

Why nothing is registered per asset: these are screening models, refitted in bulk. A
registry entry per asset and model would mean hundreds of versions, aliases and audit
records that nobody gates or serves one by one -- noise that would bury the decisions
that matter. The run (parameters, universe-wide metrics, the table) is the record; the
portfolio-level VaR champion stays ``market_var``, promoted through the gates as before.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from riskops.progress import step

DEFAULT_REAL = ("us_indices", "eustocks")


@task(cache_policy=NO_CACHE, task_run_name="fit-{asset}")
def fit_asset_task(returns: Any, asset: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One asset's models and backtest; a bad series becomes a recorded failure."""
    from riskops.universe import UniverseSpec, fit_asset

    return fit_asset(returns, asset, UniverseSpec(**spec), on_error="record")


@flow(name="universe-fit", log_prints=True)
def universe_fit_flow(
    n_simulated: int,
    real: list[str],
    n_days: int,
    seed: int,
    spec: dict[str, Any],
) -> list[dict[str, Any]]:
    """Load the universe and fit every asset, one task each, on this flow's task runner."""
    from prefect.futures import as_completed

    from riskops.progress import count
    from riskops.universe import universe_dataset

    dataset = universe_dataset(n_simulated, real=tuple(real), n_days=n_days, seed=seed)
    assets = dataset.assets
    dashboard = dask_dashboard()
    print(f"fitting {len(assets)} assets" + (f"; Dask dashboard {dashboard}" if dashboard else ""))
    if dashboard:
        step(f"Dask dashboard: {dashboard}")
    futures = fit_asset_task.map(
        [dataset.returns[a].dropna() for a in assets], assets, unmapped(spec)
    )
    count("assets fitted", 0, len(futures))
    for done, _ in enumerate(as_completed(list(futures)), start=1):
        count("assets fitted", done, len(futures))
    return [f.result() for f in futures]


def dask_dashboard() -> str | None:
    """The dashboard of the running flow's Dask cluster (``None`` without one)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    runner = getattr(context, "task_runner", None)
    try:
        link = runner.client.dashboard_link  # type: ignore[union-attr]
    except Exception:  # not a Dask runner, or no dashboard (distributed without bokeh)
        return None
    return str(link) if link else None


def dask_task_runner(dask_address: str | None = None, workers: int = 2) -> Any:
    """The Dask task runner: the scheduler at ``dask_address``, else a local cluster.

    ``RISKOPS_DASK_ADDRESS`` (``Settings.dask_address``) stands in for a missing address.
    The local cluster has ``workers`` processes of one thread each: the fits hold the GIL
    in Python and NumPy code, so threads would not run them in parallel.
    """
    from prefect_dask import DaskTaskRunner

    from riskops.errors import BadInputError
    from riskops.settings import Settings

    address = dask_address or Settings().dask_address
    if address:
        return DaskTaskRunner(address=address)
    if int(workers) < 1:
        raise BadInputError(f"--workers: at least 1, got {workers!r}")
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": int(workers), "threads_per_worker": 1, "processes": True}
    )


@flow(name="universe", log_prints=True)
def universe_flow(
    n_simulated: int = 50,
    dask_address: str | None = None,
    workers: int = 2,
    real: list[str] | None = None,
    n_days: int = 2000,
    seed: int = 0,
    var_model: str = "fhs",
    backtest_days: int = 250,
    refit_every: int = 25,
    history_days: int | None = None,
    track: bool = True,
) -> dict[str, Any]:
    """Per-asset GARCH(1,1)-t volatility and VaR/ES models over a universe, on Dask.

    Parameters
    ----------
    n_simulated
        Simulated GARCH(1,1)-t series added to the real ones
        (:func:`riskops.universe.simulate_universe`, ``n_days`` long, seeded by ``seed``).
    dask_address
        Scheduler of an existing Dask cluster (``tcp://host:8786``); default
        ``RISKOPS_DASK_ADDRESS``, else a local cluster of ``workers`` processes.
    real
        Bundled market datasets whose series join the universe (default ``us_indices``
        and ``eustocks``); ``[]`` for simulated series only.
    var_model, backtest_days, refit_every, history_days
        The per-asset :class:`riskops.universe.UniverseSpec`.
    track
        Log the run to MLflow (``False`` for benchmarks).

    Returns
    -------
    dict
        ``run_id`` (or ``None``), ``summary`` (universe-wide metrics), ``table`` (one
        record per asset), ``results`` (every per-asset result), ``runner`` and ``seconds``.
    """
    from riskops.universe import UniverseSpec, results_table, universe_summary

    started = time.perf_counter()
    real = list(DEFAULT_REAL if real is None else real)
    spec = UniverseSpec(
        var_model=var_model,
        backtest_days=backtest_days,
        refit_every=refit_every,
        history_days=history_days,
    )
    runner = dask_task_runner(dask_address, workers)
    cluster = f"the cluster at {runner.address}" if runner.address else f"{workers} local workers"
    step(f"fitting on Dask ({cluster})")
    fit = universe_fit_flow.with_options(task_runner=runner)
    results = fit(n_simulated=n_simulated, real=real, n_days=n_days, seed=seed, spec=spec.to_dict())
    step("logging the run to MLflow")
    seconds = time.perf_counter() - started
    table = results_table(results)
    summary = universe_summary(results) | {"wall_seconds": seconds}
    described = {
        "address": runner.address,
        "workers": None if runner.address else int(workers),
    }
    run_id = None
    if track:
        run_id = _log_run(
            table,
            results,
            summary,
            params={
                "n_simulated": n_simulated,
                "real": ",".join(real),
                "n_days": n_days,
                "seed": seed,
                "dask_address": runner.address or "local",
                "workers": workers,
                **spec.to_dict(),
            },
        )
    failed = table.loc[~table["ok"], "asset"].tolist() if len(table) else []
    print(f"{len(results)} assets, {len(failed)} failed, {seconds:.1f} s, run {run_id}")
    return {
        "run_id": run_id,
        "summary": summary,
        "failed": failed,
        "table": table.to_dict(orient="records"),
        "results": results,
        "runner": described,
        "seconds": seconds,
    }


def _log_run(
    table: Any, results: list[dict[str, Any]], summary: dict[str, float], params: dict[str, Any]
) -> str:
    """One MLflow run: parameters, universe-wide metrics, the table and the raw results."""
    from riskops import tracking
    from riskops.lifecycle.training import code_version
    from riskops.settings import Settings, scratch_dir

    settings = Settings()
    name = f"universe-{len(table)}"
    with tracking.training_run(settings, "universe", name) as run_id:
        tracking.log_run_data(
            params,
            summary,
            tags={"family": "universe", "code_version": code_version(), "registered": "false"},
        )
        tracking.log_evidence({"results": results}, "universe/results.json")
        with scratch_dir(settings, "universe") as tmp:
            for path in (tmp / "universe.csv", tmp / "universe.parquet"):
                if path.suffix == ".csv":
                    table.to_csv(path, index=False)
                else:
                    table.to_parquet(path, index=False)
                tracking.log_file(settings, run_id, path, "universe")
    return run_id
