"""``riskops observe | stream | live``: market observations in, the live record out.

All three go through :class:`riskops.live.book.LiveBook` (one path). An alarm is audited
by the book; its Prefect event (``riskops.performance.degraded``, which the retrain
deployment's automation turns into a retrain of the family) is sent by the adapter in
``pipelines.events``, reached by name at run time when a Prefect API is configured.
"""

from __future__ import annotations

import importlib
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, model_object, progress, stdout

Series = Annotated[
    str | None,
    typer.Option("--series", help="Name the series (a file of one asset; default: its name)."),
]
Events = Annotated[
    bool | None,
    typer.Option(
        "--events/--no-events",
        help="Send each audited alarm to Prefect as riskops.performance.degraded "
        "(default: when PREFECT_API_URL is set).",
    ),
]
OBSERVE_CHUNK = 500


def _alarm_events(enabled: bool | None) -> tuple[Any, str]:
    """The alarm callback (the Prefect event adapter) and a line saying what it does."""
    from riskops.errors import BadInputError

    url = os.environ.get("PREFECT_API_URL")
    if enabled is False:
        return None, "alarms are audited; no event is sent (--no-events)"
    if not url:
        if enabled:
            raise BadInputError(
                "--events: PREFECT_API_URL is not set (the Prefect server whose automation "
                "retrains on riskops.performance.degraded)"
            )
        return None, "alarms are audited; no event is sent (no PREFECT_API_URL)"
    events = importlib.import_module("pipelines.events")
    return events.emit_performance, f"alarms are audited and sent to {url}"


def _source(
    data: Path,
    date_col: str | None,
    price_col: str | None,
    return_col: str | None,
    return_scale: str,
    high_col: str | None,
    low_col: str | None,
    volume_col: str | None,
) -> Any:
    from riskops.data import DataSource

    return DataSource(
        domain="market",
        path=data,
        date_col=date_col,
        price_col=price_col,
        return_col=return_col,
        return_scale=return_scale,
        high_col=high_col,
        low_col=low_col,
        volume_col=volume_col,
    )


def _observations(source: Any, series: str | None, name: str) -> list[Any]:
    from riskops.data import load
    from riskops.data.market import MarketDataset
    from riskops.errors import BadInputError
    from riskops.live.observations import SERIES_NAME, from_dataset

    dataset = load(source)
    assert isinstance(dataset, MarketDataset)  # a market source
    if series is not None:
        if len(dataset.assets) != 1:
            raise BadInputError(f"--series: the file holds {len(dataset.assets)} series")
        if not SERIES_NAME.match(series):
            raise BadInputError(f"--series: letters, digits and _.:+-, got {series!r}")
    found = list(from_dataset(dataset, name))
    if series is not None:
        from dataclasses import replace

        found = [replace(o, series=series) for o in found]
    found.sort(key=lambda o: (o.ts, o.series))
    return found


def _render_counts(counts: dict[str, int], alarms: list[dict[str, Any]]) -> None:
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"
    stdout.print(f"observations: {shown}")
    for alarm in alarms:
        stdout.print(
            f"[red]alarm[/red] {alarm['model']} {alarm['key']}", highlight=False, soft_wrap=True
        )


def observe(
    data: Annotated[Path, typer.Option("--data", help="A CSV or Parquet file of new bars.")],
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    return_scale: opt.ReturnScale = "decimal",
    high_col: opt.HighCol = None,
    low_col: opt.LowCol = None,
    volume_col: opt.VolumeCol = None,
    series: Series = None,
    events: Events = None,
    json_out: opt.Json = False,
) -> None:
    """Append a file of new bars: each live champion scores them against the forecasts it
    issued, then forecasts the next day (duplicates counted, never recorded twice)."""
    with command(json_out):
        from collections import Counter

        from riskops.lifecycle import Lifecycle
        from riskops.live.book import LiveBook
        from riskops.settings import Settings

        settings = Settings()
        Lifecycle(settings).require("observe", "feed market observations")
        items = _observations(
            _source(
                data, date_col, price_col, return_col, return_scale, high_col, low_col, volume_col
            ),
            series,
            f"file:{data.name}",
        )
        on_alarm, note = _alarm_events(events)
        book = LiveBook(settings, on_alarm=on_alarm)
        counts: Counter[str] = Counter()
        alarms: list[dict[str, Any]] = []
        forecasts: dict[str, Any] = {}
        with progress(f"observing {len(items)} bars", json_out):
            for start in range(0, len(items), OBSERVE_CHUNK):
                report = book.ingest(items[start : start + OBSERVE_CHUNK])
                counts.update(report.counts)
                alarms += report.alarms
                forecasts.update(report.forecasts)
            book.save_states()  # the next observe resumes without replaying these bars
        payload = {
            "counts": dict(counts),
            "alarms": alarms,
            "forecasts": forecasts,
            "events": note,
            "events_failed": book.events_failed,
        }

        def render() -> None:
            _render_counts(dict(counts), alarms)
            for stream, forecast in sorted(forecasts.items()):
                stdout.print(f"{stream}: next after {forecast['based_on']}: {_brief(forecast)}")
            stdout.print(note)

        emit(payload, json_out, render)


def _brief(forecast: dict[str, Any]) -> str:
    if forecast.get("var"):
        return ", ".join(f"VaR{k} {v:.2f}%" for k, v in sorted(forecast["var"].items()))
    if forecast.get("variance") is not None:
        return f"volatility {forecast['variance'] ** 0.5:.2f}%"
    if forecast.get("score") is not None:
        return f"score {forecast['score']:.3f} alert={forecast.get('alert')}"
    return forecast.get("note") or "no forecast"


def stream(
    broker: Annotated[
        str | None,
        typer.Option(help="redis://HOST:PORT/DB (Redis Streams) or kafka://HOST:PORT."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(help="Replay a file of bars as if live (no broker); mapping flags apply."),
    ] = None,
    speed: Annotated[
        float, typer.Option(help="--replay: observations per second (0: as fast as absorbed).")
    ] = 0.0,
    date_col: opt.DateCol = None,
    price_col: opt.PriceCol = None,
    return_col: opt.ReturnCol = None,
    return_scale: opt.ReturnScale = "decimal",
    series: Series = None,
    topic: Annotated[str, typer.Option(help="Stream (Redis) or topic (Kafka) name.")] = (
        "riskops:obs"
    ),
    group: Annotated[str, typer.Option(help="Consumer group shared by the processes.")] = (
        "riskops-live"
    ),
    consumer: Annotated[
        str | None, typer.Option(help="This consumer's name (default: host-pid).")
    ] = None,
    shards: Annotated[int, typer.Option(help="Redis: streams the series are spread over.")] = 16,
    lease_seconds: Annotated[
        float,
        typer.Option(help="Redis: a consumer silent this long is dead; others take its series."),
    ] = 10.0,
    batch: Annotated[int, typer.Option(help="Messages read and committed at once.")] = 100,
    durable_ms: Annotated[
        float,
        typer.Option(
            help="Commit without fsync, publish at once, and acknowledge batches when a "
            "durable point (every this many ms) covers them; 0: one synced commit per batch, "
            "acknowledged at once."
        ),
    ] = 50.0,
    until_idle: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a message.")
    ] = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after this many messages.")] = None,
    events: Events = None,
    json_out: opt.Json = False,
) -> None:
    """Consume observations from a broker (or a replayed file) until stopped: each batch is
    committed to the live ledger before its forecasts are published, and acknowledged once
    a durable point covers it."""
    with command(json_out):
        from riskops.errors import BadInputError
        from riskops.lifecycle import Lifecycle
        from riskops.live.book import LiveBook
        from riskops.live.brokers import Replay, open_source
        from riskops.live.consumer import Consumer
        from riskops.settings import Settings

        if (broker is None) == (replay is None):
            raise BadInputError("give one of --broker URL or --replay FILE")
        settings = Settings()
        Lifecycle(settings).require("observe", "consume market observations")
        if replay is not None:
            items = _observations(
                _source(replay, date_col, price_col, return_col, return_scale, None, None, None),
                series,
                f"replay:{replay.name}",
            )
            bodies = [
                {"series": o.series, "timestamp": o.key, "ret": o.ret}
                | {k: v for k, v in (o.bar() or {}).items()}
                for o in items
            ]
            source: Any = Replay(bodies, replay.name, speed)
        else:
            assert broker is not None
            options: dict[str, Any] = {"topic": topic, "group": group}
            if broker.startswith(("redis", "unix")):
                options |= {
                    "consumer": consumer,
                    "shards": shards,
                    "lease_ms": int(lease_seconds * 1000),
                }
            source = open_source(broker, **options)
        on_alarm, note = _alarm_events(events)
        if durable_ms < 0:
            raise BadInputError(f"--durable-ms: milliseconds, at least 0, got {durable_ms}")
        runner = Consumer(
            LiveBook(settings, on_alarm=on_alarm),
            source,
            batch=batch,
            durable_ms=durable_ms or None,
        )

        def stop(signum: int, frame: Any) -> None:
            runner.stop.set()  # finish the batch in hand, then leave

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not json_out:
            stdout.print(f"consuming {source.name} ({note}); stop with Ctrl-C")
        try:
            stats = runner.run(max_messages=max_messages, idle_seconds=until_idle)
        finally:
            source.close()
        payload = stats.to_dict() | {
            "source": source.name,
            "latency": stats.latency(),
            "events": note,
            "events_failed": runner.book.events_failed,
        }

        def render() -> None:
            _render_counts(dict(stats.counts), stats.alarms)
            for name, forecast in sorted(stats.last_forecasts.items()):
                stdout.print(f"{name}: next after {forecast['based_on']}: {_brief(forecast)}")

        emit(payload, json_out, render)


def live(
    name: Annotated[
        str | None, typer.Argument(help="A registered model (default: every live champion).")
    ] = None,
    json_out: opt.Json = False,
) -> None:
    """The live record of each market champion since its promotion: last observation, zone,
    exceptions, p-values, alarms."""
    with command(json_out):
        from riskops.live.record import live_desk
        from riskops.settings import Settings

        with progress("scoring the live records", json_out):
            desk = live_desk(Settings(), name)

        def render() -> None:
            if not desk:
                stdout.print("no live record yet (riskops observe / riskops stream)")
            for record in desk:
                for s in record["streams"]:
                    stdout.print(_line(s), highlight=False, soft_wrap=True)
                if not record["streams"]:
                    stdout.print(f"{record['model']} v{record['version']}: no observation yet")

        # A model is one object in every JSON output: {"name", "version"}.
        champions = [
            model_object({**r, "streams": [model_object(s) for s in r["streams"]]}) for r in desk
        ]
        emit({"champions": champions}, json_out, render)


def _line(summary: dict[str, Any]) -> str:
    head = f"{summary['stream']}: {summary['days']} day(s) to {summary['last_day']}"
    var = summary.get("var", {}).get("99")
    if var:
        p = var["pvalues"].get("binomial_pvalue_99_last250")
        head += f"; zone {summary.get('zone')}; 99% exceptions {var['exceptions']}"
        head += f" (expected {var['expected']:.1f})"
        if p is not None:
            head += f", binomial p (last 250) {p:.3g}"
    vol = summary.get("volatility")
    if vol:
        head += f"; QLIKE {vol.get('qlike'):.3f}"
        if vol.get("dm_pvalue") is not None:
            head += f" vs benchmark {vol.get('qlike_benchmark'):.3f} (DM p {vol['dm_pvalue']:.3g})"
    anomaly = summary.get("anomaly")
    if anomaly:
        head += f"; alert rate {anomaly['alert_rate']:.2%} (band {anomaly['band_low']:.2%}-"
        head += f"{anomaly['band_high']:.2%})"
    if summary["alarms"]:
        head += f"; {len(summary['alarms'])} alarm(s)"
    return head
