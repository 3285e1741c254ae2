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
from riskops.settings import Settings

LIVE_DAYS = 126
"""The last six months of the bundled data, replayed live after the promotions."""


def run_demo(settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Train, gate and promote all four families; then refuse a shifted credit challenger;
    then replay the last six months of the bundled S&P 500 (and NASDAQ, which the anomaly
    detector reads) through the live path and print the live traffic light and exceptions.

    The story (steps, summary table, where to look next) goes to ``console`` (default: stdout,
    80 columns when it is not a terminal); the summary is also written to
    ``RISKOPS_HOME/demo/summary.json``. Library logs are the CLI's business (a log file).
    """
    console = console or Console()
    settings.export_environment()
    settings.ensure_home()
    started = time.perf_counter()
    # Prefect's server takes ~20 s to start on a new home (its database migrations), in a
    # process of its own: MLflow's database is created meanwhile.
    from pipelines.server import LocalPrefectServer

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
    shifted_credit(load_credit()).to_csv(shifted, index=False)


def _import_the_gates() -> None:
    """Import what this process's promotions use (Evidently alone takes 6 s) while its
    flow waits for the first training, rather than at the first promotion."""
    from riskops.serialization import skops_io

    for module in ("riskops.lifecycle", "riskops.drift", "evidently"):
        importlib.import_module(module)
    skops_io()


def _shifted_path(settings: Settings) -> Path:
    return settings.home / "demo" / "credit_shifted.csv"


def _lifecycle(settings: Settings, console: Console) -> dict[str, Any]:
    from pipelines.flows import promote_flow, retrain_in_processes
    from riskops.audit import AuditTrail

    console.rule("[bold]1. Train, gate and promote the four families (Prefect retrain flow)")
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
    shifted = shifted_decision["trained"]
    # A refusal ends the promote flow run Failed ("Refused"); its data is the decision.
    refusal_state = promote_flow(
        shifted["model"]["name"], shifted["model"]["version"], return_state=True
    )
    refusal: dict[str, Any] = refusal_state.result(raise_on_failure=False)  # type: ignore[assignment]
    for result in (refusal.get("report") or {}).get("results", []):
        if not result["passed"]:
            console.print(f"  [red]refused[/red] {result['gate']}: {result['reason']}")

    verify = AuditTrail(settings).verify()
    return {
        "seconds": None,
        "champions": [
            {
                "model": d["trained"]["model"]["name"],
                "family": d["family"],
                "version": d["trained"]["model"]["version"],
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
        "audit": verify.to_dict(),
        "next": _next_steps(settings),
    }


def live_replay(settings: Settings, console: Console, days: int = LIVE_DAYS) -> dict[str, Any]:
    """Step 3: the last ``days`` bars of the bundled US indices through the live path (the
    one ``riskops observe``/``stream`` take), then each live champion's record."""
    from collections import Counter

    from riskops.data import DataSource, load
    from riskops.live.book import LiveBook
    from riskops.live.observations import from_dataset
    from riskops.live.record import live_desk

    console.rule(f"[bold]3. The last {days} days of the S&P 500, live")
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
            c["model"],
            str(c["version"]),
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
    for line in summary["next"]:
        console.print(f"  {line}")


def _next_steps(settings: Settings) -> list[str]:
    home = settings.home
    return [
        f"MLflow UI:  mlflow ui --backend-store-uri sqlite:///{home / 'mlflow.db'}",
        f"Prefect UI: PREFECT_HOME={home / 'prefect'} prefect server start",
        "Serve:      riskops serve   (or make serve), then GET http://127.0.0.1:3000/models",
        "Audit:      riskops audit credit_pd   |   riskops audit verify",
        "Live:       riskops live   |   riskops stream --replay FILE --speed 50",
        "Documents:  each run's governance/ folder   |   riskops report credit_pd",
        "Refusal:    riskops promote credit_pd   (exit 3: the shifted challenger is refused)",
        f"Logs:       {home / 'logs' / 'riskops.log'}   (riskops --verbose shows them)",
    ]
