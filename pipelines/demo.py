"""``riskops demo``: the whole lifecycle on bundled data, through the Prefect flows."""

from __future__ import annotations

import importlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from riskops.families import get_family
from riskops.progress import step
from riskops.settings import Settings

LIVE_DAYS = 126
"""The last six months of the bundled data, replayed live after the promotions."""


def run_demo(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Train, gate and promote all four families; refuse a shifted credit challenger; check
    every champion's inputs for drift (the first point of each drift history); then replay
    the last six months of the bundled S&P 500 (and NASDAQ, which the anomaly detector
    reads) through the live path and print the live traffic light and exceptions.

    The story (steps, summary table, where to look next) goes to ``console`` (default: stdout,
    80 columns when it is not a terminal); the summary is also written to
    ``RISKOPS_HOME/demo/summary.json``, its ``next`` the commands a user is told to type (each
    works verbatim from any directory once the two setup lines have run). Library logs are
    the CLI's business (a log file); steps are announced to :mod:`riskops.progress`.
    """
    console = console or Console()
    settings.export_environment()
    settings.ensure_home()
    started = time.perf_counter()
    # Prefect's server takes ~20 s to start on a new home (its database migrations), in a
    # process of its own: MLflow's database is created meanwhile.
    from pipelines.server import LocalPrefectServer

    step("starting a Prefect server, preparing MLflow and the demo's data")
    with LocalPrefectServer(settings.home / "logs" / "prefect-server.log") as server:
        _prepare(settings)
        threading.Thread(target=_import_the_gates, name="warm-imports", daemon=True).start()
        server.ready()
        summary = _lifecycle(settings, console)
        summary["live"] = live_replay(settings, console)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary_path = settings.home / "demo" / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    _render(summary, console)
    return summary


def _prepare(settings: Settings) -> None:
    """What the flow needs before it starts, done while Prefect's server starts on the
    other core: MLflow's database (created on first use) and the compiled Tree SHAP kernels
    (under the home, so that the two training processes load them instead of each
    compiling them), both copied from the environment's seeds; and the shifted credit data
    of step 2."""
    from riskops import tracking
    from riskops.data.credit import load_credit
    from riskops.data.scenarios import shifted_credit
    from riskops.treeshap import compile_kernels

    tracking.configure(settings)
    compile_kernels()
    shifted = _shifted_path(settings)
    shifted.parent.mkdir(parents=True, exist_ok=True)
    applicants = load_credit()
    shifted_credit(applicants).to_csv(shifted, index=False)
    # Recent applicants for the monitor (step 3 and its hint): a seeded sample of the
    # bundled ones without their outcomes, as a lender has them when they apply.
    recent = applicants.X.sample(n=RECENT_APPLICANTS, random_state=RECENT_SEED)
    recent.to_csv(recent_applicants_path(settings), index=False)


def _import_the_gates() -> None:
    """Import what this process's promotions use (Evidently alone takes 6 s) while its
    flow waits for the first training, rather than at the first promotion."""
    from riskops.serialization import skops_io

    for module in ("riskops.lifecycle", "riskops.drift", "evidently"):
        importlib.import_module(module)
    skops_io()


def _shifted_path(settings: Settings) -> Path:
    return settings.home / "demo" / "credit_shifted.csv"


RECENT_APPLICANTS = 1000
RECENT_SEED = 2024


def recent_applicants_path(settings: Settings) -> Path:
    """The demo's file of recent applicants (no outcomes), for ``riskops monitor``."""
    return settings.home / "demo" / "credit_recent.csv"


def _lifecycle(settings: Settings, console: Console) -> dict[str, Any]:
    from pipelines.flows import monitor_flow, promote_flow, retrain_in_processes
    from riskops.audit import AuditTrail

    console.rule("[bold]1. Train, gate and promote the four families (Prefect retrain flow)")
    step("1. training, gating and promoting the four families")
    # The challenger of step 2 trains in the same flow, once credit has its champion, so
    # that the two training processes stay busy to the end.
    shifted_challenger = {
        "family": "credit",
        "source": {
            "domain": "credit",
            "path": str(_shifted_path(settings)),
            "target": "Status",
            "positive_label": "bad",
        },
        "recent": {"domain": "credit"},
    }
    *decisions, shifted_decision = retrain_in_processes()(challengers=[shifted_challenger])
    for d in decisions:
        promotion = d["promotion"] or {}
        console.print(
            f"  {d['trained']['model']['name']} v{d['trained']['model']['version']}: "
            + (
                "[green]champion[/green]"
                if promotion.get("promoted")
                else f"[red]not promoted[/red] {promotion.get('note', '')}"
            )
        )

    console.rule("[bold]2. A challenger trained on deliberately shifted data")
    step("2. gating the challenger trained on shifted data")
    shifted = shifted_decision["trained"]
    # A refusal ends the promote flow run Failed ("Refused"); its data is the decision.
    refusal_state = promote_flow(
        shifted["model"]["name"], shifted["model"]["version"], return_state=True
    )
    refusal: dict[str, Any] = refusal_state.result(raise_on_failure=False)  # type: ignore[assignment]
    for result in (refusal.get("report") or {}).get("results", []):
        if not result["passed"]:
            console.print(f"  [red]refused[/red] {result['gate']}: {result['reason']}")

    console.rule("[bold]3. Monitor every champion's inputs (Prefect monitor flow)")
    step("3. checking every champion's inputs for drift")
    recent = {"domain": "credit", "path": str(recent_applicants_path(settings))}
    monitored = monitor_flow(recent=recent, retrain=False)
    for check in monitored["checks"].values():
        share = check.get("share_of_drifted_columns")
        console.print(
            f"  {check['model']} v{check['version']}: "
            + (
                f"{share:.0%} of inputs drifted on {check['source']}"
                if share is not None
                else f"not checked ({check.get('note')})"
            ),
            highlight=False,
        )

    verify = AuditTrail(settings).verify()
    return {
        "seconds": None,
        "champions": [
            {
                "model": {
                    "name": d["trained"]["model"]["name"],
                    "version": d["trained"]["model"]["version"],
                },
                "family": d["family"],
                "kind": d["trained"]["model"]["kind"],
                "promoted": bool((d["promotion"] or {}).get("promoted")),
                "metrics": d["trained"]["metrics"],
            }
            for d in decisions
        ],
        "shifted_challenger": {
            "model": shifted["model"],
            "trained_against_champion": shifted["champion_version"],
            "promoted": refusal.get("promoted", False),
            "failed_gates": [
                r["gate"]
                for r in (refusal.get("report") or {}).get("results", [])
                if not r["passed"]
            ],
        },
        "monitoring": {
            f: {
                "model": {"name": c["model"], "version": c["version"]},
                "share_of_drifted_columns": c.get("share_of_drifted_columns"),
                "source": c.get("source"),
            }
            for f, c in monitored["checks"].items()
        },
        "audit": verify.to_dict(),
        "next": next_steps(settings),
    }


def live_replay(settings: Settings, console: Console, days: int = LIVE_DAYS) -> dict[str, Any]:
    """Step 4: the last ``days`` bars of the bundled US indices through the live path (the
    one ``riskops observe``/``stream`` take), then each live champion's record."""
    from collections import Counter

    from riskops.data import DataSource, load
    from riskops.live.book import LiveBook
    from riskops.live.observations import from_dataset
    from riskops.live.record import live_desk

    console.rule(f"[bold]4. The last {days} days of the S&P 500, live")
    step(f"4. replaying the last {days} days of the bundled indices through the live path")
    from riskops.data.market import MarketDataset

    dataset = load(DataSource(domain="market", bundled="us_indices"))
    assert isinstance(dataset, MarketDataset)
    recent = dataset.window(start=dataset.returns.index[-days])
    bars = sorted(from_dataset(recent, "demo:us_indices"), key=lambda o: (o.ts, o.series))
    book = LiveBook(settings)
    counts: Counter[str] = Counter()
    alarms: list[dict[str, Any]] = []
    for start in range(0, len(bars), 50):
        report = book.ingest(bars[start : start + 50])
        counts.update(report.counts)
        alarms += report.alarms
    first, last = recent.describe()["period"]
    console.print(
        f"  {len(bars)} bars ({first} to {last}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    console.print(
        "  (in sample: the bundled data end in 2018 and the champions were fitted on them)"
    )
    streams = []
    for record in live_desk(settings):
        for s in record["streams"]:
            streams.append(_live_row(s))
    for row in streams:
        console.print(f"  {row['stream']}: {row['text']}", highlight=False)
    for alarm in alarms:
        console.print(f"  [red]alarm[/red] {alarm['model']} {alarm['key']} (audited)")
    return {"bars": len(bars), "counts": dict(counts), "streams": streams, "alarms": alarms}


def _live_row(summary: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"stream": summary["stream"], "days": summary["days"]}
    var = (summary.get("var") or {}).get("99")
    if var:
        row |= {
            "zone": summary.get("zone"),
            "exceptions_99": var["exceptions"],
            "expected_99": round(var["expected"], 2),
            "exceptions_95": summary["var"]["95"]["exceptions"],
        }
        row["text"] = (
            f"traffic light {summary.get('zone')}, exceptions 99% {var['exceptions']} "
            f"(expected {var['expected']:.1f}), 95% {summary['var']['95']['exceptions']}"
        )
    elif summary.get("volatility"):
        qlike = summary["volatility"].get("qlike")
        row |= {"qlike": qlike}
        row["text"] = f"QLIKE {qlike:.3f} over {summary['days']} days"
    elif summary.get("anomaly"):
        anomaly = summary["anomaly"]
        row |= {"alerts": anomaly["alerts"]}
        row["text"] = (
            f"{anomaly['alerts']} alert(s) in {anomaly['n']} days (band "
            f"{anomaly['band_low']:.1%}-{anomaly['band_high']:.1%})"
        )
    else:
        row["text"] = f"{summary['days']} days; not evaluated: {summary['not_evaluated']}"
    return row


def _render(summary: dict[str, Any], console: Console) -> None:
    console.rule("[bold]Summary")
    table = Table("model", "v", "kind", "status", "headline metrics")
    table.columns[-1].overflow = "fold"
    for c in summary["champions"]:
        # One metric per line: the table stays readable at 80 columns.
        metrics = "\n".join(
            f"{k}={c['metrics'][k]:.3g}"
            for k in get_family(c["family"]).key_metrics
            if k in c["metrics"]
        )
        table.add_row(
            c["model"]["name"],
            str(c["model"]["version"]),
            c["kind"],
            "[green]champion[/green]" if c["promoted"] else "[red]refused[/red]",
            metrics,
        )
    s = summary["shifted_challenger"]
    table.add_row(
        s["model"]["name"],
        str(s["model"]["version"]),
        "shifted data",
        "[green]champion[/green]" if s["promoted"] else "[red]refused[/red]",
        "failed: " + ", ".join(s["failed_gates"]),
    )
    console.print(table)
    audit = summary["audit"]
    console.print(
        f"audit chain: {'[green]intact[/green]' if audit['ok'] else '[red]BROKEN[/red]'} "
        f"({audit['records']} records)   total {summary['seconds']} s"
    )
    console.rule("[bold]Where to look next")
    setup = [h for h in summary["next"] if h["setup"]]
    if setup:
        console.print("  In a new shell, first:")
        for hint in setup:
            console.print(f"    {hint['command']}", highlight=False, soft_wrap=True)
            console.print(f"      [dim]{hint['what']}[/dim]", highlight=False)
        console.print("  then, from any directory:")
    for hint in summary["next"]:
        if not hint["setup"]:
            console.print(f"  [bold]{hint['what']}[/bold]", highlight=False)
            console.print(f"    {hint['command']}", highlight=False, soft_wrap=True)


def next_steps(settings: Settings) -> list[dict[str, Any]]:
    """The commands the demo tells a user to type, each working verbatim from any directory
    once the ``setup`` ones have run: ``what`` it shows, the ``command``, whether it is a
    ``server`` (it runs until stopped; its ``--port`` may be changed) and the ``exit_code``
    it ends with (a refused promotion is 3)."""
    import sys

    home = settings.home
    hints: list[dict[str, Any]] = []

    def hint(what: str, command: str, *, server: bool = False, exit_code: int = 0) -> None:
        hints.append(
            {"what": what, "command": command, "setup": False, "server": server}
            | {"exit_code": exit_code}
        )

    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix != sys.base_prefix and activate.exists():
        hints.append(
            {
                "what": "puts riskops, mlflow, prefect and evidently on the PATH (or prefix "
                "each command with `uv run` in the checkout)",
                "command": f"source {activate}",
                "setup": True,
                "server": False,
                "exit_code": 0,
            }
        )
    hints.append(
        {
            "what": "the home this demo filled (without it, ./mlruns of the current directory)",
            "command": f"export RISKOPS_HOME={home}",
            "setup": True,
            "server": False,
            "exit_code": 0,
        }
    )
    hint("The models, their champions and what waits for approval", "riskops models")
    hint("The audit trail of credit_pd, and its verification", "riskops audit credit_pd")
    hint("Verify the audit chain, aliases and artifacts", "riskops audit verify")
    hint(
        "The validation report of credit_pd (HTML)", "riskops report credit_pd --out credit_pd.html"
    )
    hint(
        "The shifted challenger, refused again (exit 3)",
        "riskops promote credit_pd",
        exit_code=3,
    )
    hint(
        "Drift of credit_pd on recent applicants, reporting only",
        f"riskops monitor --family credit --data {recent_applicants_path(settings)} --no-retrain",
    )
    hint("Drift history of every champion", "riskops drift")
    hint("The live desk: each live champion's record since the replay", "riskops live")
    hint(
        "Serve the champions (then GET http://127.0.0.1:3000/models)",
        "riskops serve --port 3000",
        server=True,
    )
    hint(
        "MLflow UI: runs, registered models, artifacts",
        f"mlflow ui --backend-store-uri sqlite:///{home / 'mlflow.db'} --port 5000",
        server=True,
    )
    hint(
        "Prefect UI: the flow runs",
        f"PREFECT_HOME={home / 'prefect'} prefect server start --port 4200",
        server=True,
    )
    hint(
        "Evidently UI: drift dashboards, one project per model",
        f"evidently ui --workspace {home / 'evidently'} --port 8000",
        server=True,
    )
    hint(
        "The libraries' logs (riskops --verbose shows them as they come)",
        f"tail -n 20 {home / 'logs' / 'riskops.log'}",
    )
    return hints
