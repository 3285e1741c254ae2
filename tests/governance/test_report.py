"""Validation reports: self-contained HTML, champion comparison, figures and their provenance."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from riskops.credit.documents import calibration_table
from riskops.governance.figures import collect_figures
from riskops.governance.report import comparison_blocks, generate


def _decodes_as_png(png: bytes) -> tuple[int, int]:
    import matplotlib.image as mpimg

    image = mpimg.imread(io.BytesIO(png), format="png")
    return image.shape[1], image.shape[0]


def test_report_is_self_contained_and_logged_to_the_run(governed, settings_of, tmp_path) -> None:
    from riskops import tracking

    # Given v1 of the governed home
    out, card = tmp_path / "report.html", tmp_path / "card.md"
    # When its report and card are generated and logged
    result = generate(settings_of, "credit_pd", governed.non_monotone, out=out, card_path=card)
    html = out.read_text()
    # Then every image is embedded as a PNG data URI, one per figure, and nothing is external
    sources = re.findall(r"<img src=\"([^\"]*)\"", html)
    assert len(sources) == len(result["figures"]) >= 8
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*(src|href)=\"(https?:)?//", html)
    assert "<iframe" in html
    assert result["evidently_embedded"]
    # and the credit plots of the run are the ones shown
    keys = {f["key"]: f["source"] for f in result["figures"]}
    assert keys["roc"] == "artifact plots/roc_curve.png"
    assert keys["grades"] == "artifact plots/grade_default_rates.png"
    assert keys["shap_summary"] == "artifact shap/shap_beeswarm.png"
    # and the documents are artifacts of the version's run, identical to the written files,
    # in a folder of their own (the copies logged at registration and promotion stay as they were)
    folders = {uri.rsplit("/", 2)[-2] for uri in result["logged"].values()}
    assert len(folders) == 1 and next(iter(folders)).startswith("report-")
    folder = f"governance/{folders.pop()}"
    logged = tracking.list_artifacts(settings_of, result["run_id"], folder)
    assert sorted(logged) == [
        f"{folder}/model_card.html",
        f"{folder}/model_card.md",
        f"{folder}/validation_report.html",
    ]
    copy = tracking.download(
        settings_of, result["run_id"], f"{folder}/model_card.md", tmp_path / "dl"
    )
    assert copy.read_text() == card.read_text()


def test_comparison_with_the_current_champion_uses_its_own_run(governed, facts_of) -> None:
    # Given v1, trained without a champion, while v2 is champion now
    facts = facts_of(governed.non_monotone)
    champion = facts_of(governed.champion)
    # When the comparison is built
    table = comparison_blocks(facts)[-1]
    # Then v2's own run metrics stand next to v1's, with the change
    header = list(table.columns)
    assert header[2] == f"current champion v{governed.champion} (own run)"
    auc = next(r for r in table.rows if r[0] == "auc")
    assert float(auc[1]) == pytest.approx(facts.metrics["auc"], rel=1e-3)
    assert float(auc[2]) == pytest.approx(champion.metrics["auc"], rel=1e-3)
    assert float(auc[3]) == pytest.approx(
        facts.metrics["auc"] - champion.metrics["auc"], rel=1e-2, abs=1e-4
    )


@pytest.mark.parametrize(
    ("champion_auc", "champion_brier"), [(0.80, 0.20), (0.87, 0.12), (0.86, 0.1362)]
)
def test_same_window_reading_agrees_with_the_champion_gate(
    governed, facts_of, champion_auc: float, champion_brier: float
) -> None:
    """The report's reading of each gated metric is the gate's verdict on the same numbers."""
    from riskops.gates import champion_gates

    # Given v1's evidence with a champion scored on the same window
    facts = facts_of(governed.non_monotone)
    evidence = {
        **facts.gate_evidence,
        "champion": {
            "version": 99,
            "run_id": "x",
            "metrics": {"auc": champion_auc, "brier": champion_brier},
        },
    }
    facts = replace(facts, gate_evidence=evidence)
    # When the report compares and the gate judges
    rows = {r[0]: r for r in comparison_blocks(facts)[-1].rows}
    verdicts = {g.gate.split(":")[1]: g.passed for g in champion_gates(evidence, facts.policy)}
    # Then "worse beyond tolerance" appears exactly where the gate fails
    for metric, passed in verdicts.items():
        assert (rows[metric][-1] != "worse beyond tolerance") == passed, rows[metric]
    assert rows["auc"][2] == f"{champion_auc:.4g}"


def test_missing_plots_are_drawn_from_the_logged_evidence(governed, facts_of) -> None:
    # Given v1's artifacts without the run's own calibration and grade plots
    facts = facts_of(governed.non_monotone)
    for name in ("calibration_curve.png", "grade_default_rates.png"):
        (facts.local_dir / "plots" / name).unlink()
    # When the figures are collected
    figures = {f.key: f for f in collect_figures(facts)}
    # Then both are drawn from the tables the run logged, and say so
    assert figures["calibration"].source == (
        "generated from gate_evidence.json evidence.calibration_curve"
    )
    assert figures["grades"].source == "generated from gate_evidence.json evidence.grades"
    for key in ("calibration", "grades"):
        width, height = _decodes_as_png(figures[key].png)
        assert width > 100
        assert height > 100
    assert figures["roc"].source == "artifact plots/roc_curve.png"


def test_calibration_table_known_values() -> None:
    # Given four applicants in two PD bins: (0.1, 0.2) never default, (0.3, 0.4) always do
    table = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], bins=2)
    assert table["predicted"].tolist() == pytest.approx([0.15, 0.35])
    assert table["observed"].tolist() == [0.0, 1.0]
    assert table["n"].tolist() == [2, 2]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.floats(0.001, 0.999)), min_size=20, max_size=200),
    st.integers(2, 10),
)
def test_calibration_bins_preserve_counts_and_means(rows, bins) -> None:
    """Bins partition the sample: counts add up and the weighted means are the overall means."""
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    table = calibration_table(y, p, bins)
    assert table["n"].sum() == len(rows)
    weights = table["n"] / len(rows)
    assert float((weights * table["predicted"]).sum()) == pytest.approx(p.mean())
    assert float((weights * table["observed"]).sum()) == pytest.approx(y.mean())


def test_report_command_for_the_champion(governed, tmp_path: Path) -> None:
    from riskops.cli.app import app

    # Given the champion v2
    out, card = tmp_path / "r.html", tmp_path / "c.md"
    # When the command runs without --version (the champion is the default) and without logging
    result = CliRunner().invoke(
        app,
        [
            "report",
            "credit_pd",
            "--out",
            str(out),
            "--card",
            str(card),
            "--no-log",
            "--json",
        ],
    )
    # Then it writes both files, logs nothing and says the version is champion
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["model"] == {"name": "credit_pd", "version": governed.champion}
    assert payload["logged"] == {}
    assert out.exists()
    assert card.read_text().startswith(f"# credit_pd v{governed.champion}")
    assert f"v{governed.champion} is the current champion." in out.read_text()


def test_report_of_an_unknown_version_exits_2(governed, tmp_path: Path) -> None:
    from riskops.cli.app import app

    result = CliRunner().invoke(
        app, ["report", "credit_pd", "--version", "99", "--out", str(tmp_path / "x.html"), "--json"]
    )
    assert result.exit_code == 2
    assert json.loads(result.output.strip().splitlines()[-1])["error"]["type"] == "NotFoundError"


def test_challenger_is_compared_with_the_champion_on_its_own_window(governed, facts_of) -> None:
    # Given v3, whose gate evidence holds champion v2 scored on v3's window
    facts = facts_of(governed.challenger)
    same_window = facts.gate_evidence["champion"]["metrics"]
    # When the comparison is built
    table = comparison_blocks(facts)[-1]
    # Then that like-for-like column is the one shown (v2 is also the current champion)
    assert list(table.columns)[2] == f"champion v{governed.champion} (same window)"
    assert len(table.columns) == 6
    rows = {r[0]: r for r in table.rows}
    assert float(rows["auc"][2]) == pytest.approx(same_window["auc"], rel=1e-3)
    # and the gated metrics come first, each with the policy's direction and tolerance
    assert [r[0] for r in table.rows[:2]] == ["auc", "brier"]
    assert rows["brier"][4] == "lower is better; tolerance 0.005"
    assert rows["auc"][5] in ("better", "within tolerance", "worse beyond tolerance")
