"""What the live record looks like from outside: the service (``POST /market/observe``,
``GET /market/live``, ``/var/forecast`` from the live state) over real HTTP, ``riskops live``,
the card's "since promotion" section, and the demo's live step."""

from __future__ import annotations

import io
import json
from pathlib import Path

from typer.testing import CliRunner

from tests.live.conftest import LIVE_DAYS, sp500_returns
from tests.serving.conftest import start_service, stop_service, wait_ready, wait_until_serving

DAYS = 30


def _bars(n: int = DAYS) -> list[dict]:
    days = sp500_returns().iloc[-LIVE_DAYS : -LIVE_DAYS + n]
    return [
        {"series": "sp500", "timestamp": ts.date().isoformat(), "ret": float(r)}
        for ts, r in days.items()
    ]


def test_the_service_takes_bars_and_answers_from_the_live_state(live_home: Path) -> None:
    service = start_service(live_home)
    try:
        wait_ready(service, probe="/livez")
        wait_until_serving(service, {"market_var"}, timeout=180)
        with service.client() as client:
            # Given 30 bars posted in one request
            first = client.post("/market/observe", json={"observations": _bars()})
            assert first.status_code == 200, first.text
            body = first.json()
            assert body["counts"] == {"accepted": DAYS}
            issued = body["forecasts"]["market_var/v1/sp500"]
            # When the same bars are posted again: idempotent, each a counted duplicate
            again = client.post("/market/observe", json={"observations": _bars()})
            assert again.status_code == 200 and again.json()["counts"] == {"duplicate": DAYS}
            # and a malformed bar refuses its whole request, naming it
            bad = _bars(DAYS + 1)[-1] | {"ret": "x"}
            refused = client.post("/market/observe", json={"observations": [bad]})
            assert refused.status_code == 400
            assert refused.json()["message"].startswith("observations[0]: ret: must be a number")
            # Then /var/forecast answers from the live state, without any history sent
            answer = client.post("/var/forecast", json={"live_series": "sp500", "levels": [0.99]})
            assert answer.status_code == 200, answer.text
            forecast = answer.json()
            assert forecast["as_of"] == _bars()[-1]["timestamp"] + "T00:00:00"
            assert forecast["observations"] == DAYS
            assert forecast["forecasts"] == [
                {"level": 0.99, "var": issued["var"]["99"], "es": issued["es"]["99"]}
            ]
            # and a series it does not follow is a 404 naming the way to feed it
            unknown = client.post("/var/forecast", json={"live_series": "ftse"})
            assert unknown.status_code == 404 and "riskops stream" in unknown.json()["message"]
            both = client.post("/var/forecast", json={"live_series": "sp500", "series": "sp500"})
            assert both.status_code == 400
            # and GET /market/live shows the record since promotion
            live = client.get("/market/live", timeout=120)
            assert live.status_code == 200, live.text
            [champion] = live.json()["champions"]
            [stream] = champion["streams"]
            assert (champion["model"], champion["version"]) == ("market_var", 1)
            assert stream["days"] == DAYS
            assert stream["last_observation"]["ts"].startswith(_bars()[-1]["timestamp"])
            assert stream["zone"] in ("green", "yellow", "red")
            assert set(stream["var"]["99"]["pvalues"]) >= {
                "binomial_pvalue_99_last250",
                "independence_mc_pvalue_99",
            }
    finally:
        stop_service(service)


def test_riskops_live_and_the_card_show_the_record_since_promotion(live_home: Path) -> None:
    from riskops.cli import app
    from riskops.governance.card import build_card
    from riskops.governance.facts import collect
    from riskops.live.book import LiveBook
    from riskops.live.observations import parse
    from riskops.settings import Settings

    settings = Settings()
    LiveBook(settings).ingest([parse(b) for b in _bars()])
    result = CliRunner().invoke(app, ["live", "--json"])
    assert result.exit_code == 0, result.output
    [champion] = json.loads(result.stdout)["champions"]
    assert champion["streams"][0]["days"] == DAYS
    facts = collect(settings, "market_var", 1, workdir=live_home / "tmp-card")
    card = build_card(facts)
    [section] = [s for s in card.sections if s.key == "since_promotion"]
    pairs = dict(section.blocks[0].pairs)
    assert pairs["Live days scored"] == str(DAYS)
    assert pairs["Series"] == "sp500"
    # and the inventory (`riskops models`, the console's "Live" column) says what watches it
    from riskops.inventory import inventory

    [row] = [r for r in inventory(settings) if r["name"] == "market_var"]
    assert row["live"]["streams"] == {"series": 1, "days": DAYS, "alarms": 0}
    assert row["live"]["status"] == f"1 series, {DAYS} days, no alarm"
    shown = CliRunner().invoke(app, ["models"])  # 80 columns: one block per model
    assert shown.exit_code == 0, shown.output
    [line] = [line for line in shown.stdout.splitlines() if line.split()[:1] == ["live"]]
    assert line.split(maxsplit=1)[1].rstrip() == f"1 series, {DAYS} days, no alarm", shown.stdout


def test_the_demos_live_step_replays_the_last_days_into_the_champions(live_home: Path) -> None:
    from rich.console import Console

    from pipelines.demo import live_replay
    from riskops.settings import Settings

    out = io.StringIO()
    summary = live_replay(Settings(), Console(file=out, width=80), days=40)
    # The S&P 500's days reach the VaR champion; the NASDAQ's wait for a history of their own
    assert summary["counts"] == {"accepted": 80}
    [row] = summary["streams"]
    assert row["stream"] == "market_var/v1/sp500" and row["days"] == 40
    assert "traffic light" in out.getvalue() and "exceptions 99%" in out.getvalue()
    assert max(len(line) for line in out.getvalue().splitlines()) <= 80


def test_get_market_live_is_empty_without_live_champions(riskops_home: Path) -> None:
    from riskops.live.record import live_desk
    from riskops.settings import Settings

    assert live_desk(Settings()) == []
