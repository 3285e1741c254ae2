"""Figures drawn from logged data when a run has no plot of its own (market families).

The facts are built by hand around small seeded tables, so these tests need no tracking
store: they check which figure each family's documents hook gives governance, where it came
from, and that it decodes.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from riskops.governance.card import build_card
from riskops.governance.figures import collect_figures
from riskops.governance.report import render_markdown, render_report


def _size(png: bytes) -> tuple[int, int]:
    import matplotlib.image as mpimg

    image = mpimg.imread(io.BytesIO(png), format="png")
    return image.shape[1], image.shape[0]


@pytest.fixture
def days() -> pd.DatetimeIndex:
    return pd.bdate_range("2020-01-01", periods=300)


def test_var_plots_are_drawn_from_the_forecast_table(version_facts, days) -> None:
    # Given a VaR run that logged its rolling forecasts but no plot
    rng = np.random.default_rng(0)
    ret = rng.standard_t(5, len(days))
    forecasts = pd.DataFrame(
        {"ret": ret, "var_95": 1.645, "es_95": 2.06, "var_99": 2.326, "es_99": 2.67}, index=days
    )
    facts = version_facts(
        "var",
        files={"forecasts.parquet": forecasts},
        params={"asset": "sp500"},
        evidence={"backtests": {"95": {}, "99": {}}},
    )
    # When the figures are collected
    figures = collect_figures(facts)
    # Then both levels' breach plots and the traffic light are drawn from that table
    assert [f.key for f in figures] == ["exceedances_99", "exceedances_95", "traffic_light"]
    assert {f.source for f in figures} == {"generated from forecasts.parquet"}
    assert all(_size(f.png)[0] > 500 for f in figures)


def test_a_logged_plot_wins_over_drawing_one(version_facts, days) -> None:
    forecasts = pd.DataFrame({"ret": 0.0, "var_99": 2.3, "es_99": 2.6}, index=days)
    facts = version_facts(
        "var", files={"forecasts.parquet": forecasts}, evidence={"backtests": {"99": {}}}
    )
    logged = collect_figures(facts)[0].png
    (facts.local_dir / "exceedances_99.png").write_bytes(logged)
    facts.artifacts.append("exceedances_99.png")
    figure = collect_figures(facts)[0]
    assert figure.source == "artifact exceedances_99.png"
    assert figure.png == logged


def test_volatility_and_anomaly_plots_from_their_tables(version_facts, days) -> None:
    rng = np.random.default_rng(1)
    variance = np.exp(rng.normal(0, 0.3, len(days)))
    table = pd.DataFrame(
        {
            "realised": variance * rng.chisquare(1, len(days)),
            "forecast": variance,
            "benchmark": variance * 1.1,
            "fitted_through": days[0],
        },
        index=days,
    )
    metrics = {"qlike": 1.0, "qlike_benchmark": 1.1, "dm_stat": -2.0, "dm_pvalue": 0.04}
    vol = version_facts("volatility", files={"forecasts.parquet": table}, metrics=metrics)
    scores = pd.DataFrame(
        {"score": rng.random(len(days)), "holdout": days >= days[240]}, index=days
    )
    scores["alert"] = (scores["score"] > 0.99).astype(int)
    events = [{"date": str(days[10].date()), "name": "x", "in_top": True}]
    anomaly = version_facts(
        "anomaly",
        files={"scores.parquet": scores},
        evidence={"events": events, "alert_threshold": 0.99},
    )
    for facts, key, source in (
        (vol, "forecast_vs_realised", "forecasts.parquet"),
        (anomaly, "score_timeline", "scores.parquet"),
    ):
        (figure,) = collect_figures(facts)
        assert (figure.key, figure.source) == (key, f"generated from {source}")
        assert _size(figure.png)[0] > 500


def test_documents_render_for_a_version_with_almost_nothing_logged(version_facts) -> None:
    # Given a version whose run logged no evidence, plots, drift or gate report
    facts = version_facts("volatility")
    # When the card and the report are rendered / Then they say what is missing
    card = build_card(facts)
    markdown = render_markdown(card)
    html, embedded = render_report(facts, card, collect_figures(facts))
    assert "No gate report yet" in markdown
    assert "No SHAP artifacts were logged" in markdown
    assert "No data-drift evidence" in html
    assert "No champion to compare with" in html
    assert not embedded
    assert "<img" not in html
