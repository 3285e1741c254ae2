"""The drift gate runs Evidently's current API and decides as Evidently's full preset does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from riskops.drift import data_drift

ROOT = Path(__file__).resolve().parents[1]


def _frames(shifted: int, rows: int = 1500, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def make(offset: float) -> pd.DataFrame:
        data = {f"x{i}": rng.normal(offset if i < shifted else 0.0, 1.0, rows) for i in range(5)}
        data["grade"] = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
        return pd.DataFrame(data)

    return make(0.0), make(1.0)


def test_same_share_and_columns_as_evidently_full_preset(tmp_path: Path) -> None:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    # Given 3 of 6 columns shifted by one standard deviation (no sampling: 1,500 rows a side)
    reference, current = _frames(shifted=3)
    # When the gate and Evidently's DataDriftPreset both look at them
    gate = data_drift(reference, current, drift_share=0.5, html_path=tmp_path / "drift.html")
    preset = Report([DataDriftPreset(drift_share=0.5)]).run(
        current_data=current, reference_data=reference
    )
    share_metric, *per_column = preset.dict()["metrics"]
    share = share_metric["value"]["share"]
    # Then the drifted share and the decision are the preset's, and the shifted columns are named
    assert gate.share_of_drifted_columns == share == 0.5
    assert gate.dataset_drift is True
    assert gate.drifted_columns == ["x0", "x1", "x2"]
    assert gate.columns["x0"]["stattest"] == "Wasserstein distance (normed)"
    assert gate.columns["grade"]["stattest"] == "Jensen-Shannon distance"
    # and every column has the preset's stattest, threshold and score, to the last digit
    assert {
        m["config"]["column"]: (m["config"]["method"], m["config"]["threshold"], m["value"])
        for m in per_column
    } == {c: (v["stattest"], v["threshold"], v["score"]) for c, v in gate.columns.items()}
    # and Evidently's HTML report was written, while the JSON form leaves the snapshot out
    assert (tmp_path / "drift.html").stat().st_size > 10_000
    assert "snapshot" not in gate.to_dict()


def test_gate_metric_is_evidently_value_drift_without_its_figures() -> None:
    # Given drifted data, measured by the gate and by Evidently's own ValueDrift (plots=True)
    reference, current = _frames(shifted=2)
    gate = data_drift(reference, current)
    full = data_drift(reference, current, plots=True)
    # Then scores, stattests, thresholds and test outcomes are identical
    assert gate.columns == full.columns
    assert gate.drifted_columns == full.drifted_columns == ["x0", "x1"]
    # and each gate column shows Evidently's drift counter only, where ValueDrift adds figures
    gate_widgets = {w.type for r in gate.snapshot.metric_results.values() for w in r.widget}
    full_widgets = {w.type for r in full.snapshot.metric_results.values() for w in r.widget}
    assert gate_widgets == {"counter"}
    assert full_widgets == {"counter", "tabs"}
    counters = [r.widget[0].params["counters"][0] for r in gate.snapshot.metric_results.values()]
    assert {c["value"] for c in counters} == {f"Drift in column '{c}'" for c in reference}
    assert any(c["label"].startswith("Data drift detected.") for c in counters)
    # and Evidently's own ValueDrift keeps its calculation (the gate's metric did not rebind it)
    from evidently.metrics import ValueDrift
    from evidently.metrics.column_statistics import ValueDriftCalculation

    assert ValueDrift(column="x0").to_calculation().__class__ is ValueDriftCalculation


def test_gate_snapshot_opens_in_plain_evidently_without_riskops(tmp_path: Path) -> None:
    # Given the gate's snapshot saved in Evidently's snapshot format
    reference, current = _frames(shifted=1)
    gate = data_drift(reference, current)
    path = tmp_path / "gate.json"
    path.write_text(gate.snapshot.dumps())
    statuses = [str(t["status"]) for t in gate.snapshot.dict()["tests"]]
    # When a fresh Python that never imports RiskOps loads it with Evidently and renders it
    script = (
        "import json, sys\n"
        "from evidently.core.report import Snapshot\n"
        "s = Snapshot.load('gate.json')\n"
        "s.save_html('again.html')\n"
        "print(json.dumps({'tests': [str(t['status']) for t in s.dict()['tests']],\n"
        "  'riskops': any(m.startswith('riskops') for m in sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    # Then the tests are the gate's, RiskOps was not needed, and the HTML has the columns
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"tests": statuses, "riskops": False}
    assert "Drift in column" in (tmp_path / "again.html").read_text()


def test_no_drift_without_a_shift() -> None:
    reference, current = _frames(shifted=0)
    gate = data_drift(reference, current, drift_share=0.5)
    assert gate.share_of_drifted_columns == 0.0
    assert gate.dataset_drift is False


def test_nothing_uses_evidently_legacy() -> None:
    # Evidently's maintainers point users to the current API; so does RiskOps.
    sources = [
        p
        for folder in ("platform", "pipelines", "services", "bench")
        for p in (ROOT / folder).rglob("*.py")
    ]
    assert sources
    offenders = [str(p) for p in sources if "evidently.legacy" in p.read_text()]
    assert offenders == []


def test_each_check_becomes_a_run_of_the_model_in_the_evidently_workspace(settings) -> None:
    from evidently.ui.workspace import Workspace

    from riskops import drift_history

    # Given two monitoring checks of credit_pd, the second on shifted data
    reference, current = _frames(shifted=0)
    _, shifted = _frames(shifted=4, seed=5)
    # (as the monitor measures them: Evidently's own ValueDrift, with its figures)
    first = data_drift(reference, current, plots=True)
    second = data_drift(reference, shifted, plots=True)
    # When both are recorded
    ids = [
        drift_history.record_check(settings, "credit_pd", result, run_name=f"check {i}")
        for i, result in enumerate((first, second))
    ]
    # Then the workspace under RISKOPS_HOME holds one credit_pd project with both runs,
    # whose dashboard plots every column's drift score over time
    workspace = Workspace(str(settings.home / "evidently"))
    [project] = workspace.search_project("credit_pd")
    runs = {str(r) for r in workspace.list_runs(project.id)}
    assert runs == set(ids)
    [panel] = project.dashboard.model().panels
    assert {v.metric_labels["column"] for v in panel.values} == set(reference.columns)
    # and the stored run holds one drift metric per column, as the gate computed them
    stored = workspace.get_run(project.id, ids[1])
    assert stored is not None
    assert len(stored.metric_results) == len(reference.columns)
    # of Evidently's ValueDrift type, the type the dashboard panel selects
    assert {
        r.metric_value_location.metric.params["type"] for r in stored.metric_results.values()
    } == {"evidently:metric_v2:ValueDrift"}
