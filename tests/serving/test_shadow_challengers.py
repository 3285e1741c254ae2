"""A challenger that passes on its training window but answers live traffic differently is
refused at its promotion by the shadow window, over real HTTP (issue 30's must-show).

Two challengers of one credit champion (v1, the default training on the bundled
applicants), each trained by the real lifecycle after v1 became champion, so that both are
gated against it:

* v2, the **reweighted** challenger: trained on the bundled applicants with 90% of the
  defaulters who have a past payment record (``Records == "yes"``) left out of its sample,
  as a lender's biased sample would. On its own training window it passes every offline
  gate (its held-out AUC even beats the champion's there, and its outputs' PSI against the
  champion's on that window is small), but it gives the applicants with records PDs far
  below the champion's.
* v3, the **control**: the same training as the champion's with another seed.

The live traffic is applicants with a payment record (600 of them, one per request, more
than the policy's 500 paired answers). ``riskops promote`` refuses v2, naming the shadow
gates of prediction drift and grade PSI with their measured values, while every offline gate
passes; the same traffic does not make those gates refuse v3. (Both are also refused by the
live inputs' data drift against their training data: applicants with a record are not the
bundled mix. That gate does not tell the two apart; prediction drift and grade PSI do.)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.conftest import home_environment, start_service, stop_service, wait_ready
from tests.serving.test_shadow import MAX_PENDING, NAME, _shadow, _wait_for

LIVE_REQUESTS = 600
SHADOW_GATES = ("shadow_prediction_drift", "shadow_grade_psi")


def _reweighted_sample(folder: Path) -> Path:
    """The bundled applicants without 90% of the defaulters who have a payment record."""
    import numpy as np

    from riskops.data.credit import load_credit

    frame = load_credit().frame
    rng = np.random.default_rng(0)
    left_out = (
        frame["Records"].eq("yes") & frame["Status"].eq("bad") & (rng.random(len(frame)) > 0.1)
    )
    path = folder / "records_reweighted.csv"
    frame[~left_out].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def challengers(
    tmp_path_factory: pytest.TempPathFactory, trained_home_template: Path
) -> Iterator[Any]:
    """A service whose credit champion is v1, with two challengers trained against it:
    v2 reweighted, v3 the control."""
    from riskops.data import DataSource
    from riskops.families.base import TrainOptions

    root = tmp_path_factory.mktemp("challengers")
    home = root / "home"
    shutil.copytree(trained_home_template, home, symlinks=True)
    with home_environment(home) as settings:
        from riskops.lifecycle import Lifecycle

        life = Lifecycle(settings)
        assert life.promote(NAME, 1, force=True, reason="challenger test fixture").promoted
        source = DataSource(
            domain="credit",
            path=_reweighted_sample(root),
            target="Status",
            positive_label="bad",
        )
        reweighted = life.train("credit", source=source)
        control = life.train("credit", options=TrainOptions(seed=7))
        assert (reweighted.version, control.version) == (2, 3)
        assert life.shadow(NAME, 2, reason="challenger test").outcome == "shadow_started"
        service = start_service(home, {"RISKOPS_SHADOW_MAX_PENDING": str(MAX_PENDING)})
        try:
            wait_ready(service)
            yield service, life
        finally:
            stop_service(service)


def _applicants_with_records(n: int) -> list[dict[str, Any]]:
    """``n`` bundled applicants (seeded, with replacement) who have a payment record."""
    import pandas as pd

    from riskops.data.credit import load_credit

    data = load_credit()
    rows = data.X[data.frame["Records"].eq("yes")].sample(n, random_state=3, replace=True)
    return [
        {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


def _in_shadow(service: Any, life: Any, version: int) -> None:
    """Put ``version`` in shadow (unless it is) and wait until the service names it."""
    if life.loader.state(NAME).shadow != version:
        assert life.shadow(NAME, version, reason="challenger test").outcome == "shadow_started"
    _wait_for(
        lambda: (s := _shadow(service)) is not None and s["version"] == version,
        f"the service shadows v{version}",
        service,
    )


def _live_traffic(service: Any) -> None:
    """600 applicants with a payment record, one per request, in groups smaller than the
    shadow's in-flight bound, each group scored before the next (none dropped)."""
    applicants = _applicants_with_records(LIVE_REQUESTS)
    with httpx.Client(base_url=service.url, timeout=60) as client:
        for start in range(0, LIVE_REQUESTS, MAX_PENDING // 2):
            for applicant in applicants[start : start + MAX_PENDING // 2]:
                answer = client.post("/credit/score", json={"applicants": [applicant]})
                assert answer.status_code == 200, answer.text
            _wait_for(
                lambda: (
                    (s := _shadow(service))["scored"] + s["dropped"] + s["failed"] == s["requests"]
                ),
                "the group scored",
                service,
            )


def _promote(version: int) -> tuple[int, dict[str, Any]]:
    """``riskops promote NAME --version N --json``: its exit code and its gates by name."""
    from typer.testing import CliRunner

    from riskops.cli import app

    result = CliRunner().invoke(app, ["promote", NAME, "--version", str(version), "--json"])
    report = json.loads(result.stdout.strip().splitlines()[-1])["report"]
    return result.exit_code, {r["gate"]: r for r in report["results"]}


def test_a_challenger_differing_on_live_traffic_is_refused_by_the_shadow_window(
    challengers: Any,
) -> None:
    service, life = challengers
    # Given the reweighted challenger in shadow, scoring the live applicants with records
    _in_shadow(service, life, 2)
    _live_traffic(service)
    # When its promotion is asked for with the real CLI
    code, gates = _promote(2)
    # Then it is refused (exit 3)
    assert code == 3, gates
    failed = {g for g, r in gates.items() if not r["passed"]}
    # naming the shadow window's prediction drift and grade PSI with their measured values
    # (and the live inputs' data drift against the training data: applicants with a record
    # differ from the bundled mix, which the control's refusal below shares)
    assert failed == {*SHADOW_GATES, "shadow_data_drift"}, {g: gates[g]["reason"] for g in failed}
    window = gates["shadow_window"]
    assert window["evaluated"] and window["observed"] >= LIVE_REQUESTS
    for gate in SHADOW_GATES:
        assert gates[gate]["evaluated"]
        assert gates[gate]["observed"] > gates[gate]["threshold"] == 0.25
        assert f"{gates[gate]['observed']:.3f}" in gates[gate]["reason"]
    # while it passes on its training window: every offline gate, the champion comparison
    # and the offline prediction drift on that window included
    assert gates["champion:auc"]["passed"] and gates["prediction_drift"]["passed"]
    assert gates["prediction_drift"]["observed"] < 0.25
    for gate in (*SHADOW_GATES, "shadow_data_drift"):
        print(f"\nreweighted v2 {gate}: {gates[gate]['reason']}")
    # And the trail recorded the refusal with those reasons
    refusal = [r for r in life.trail.records(NAME) if r.action == "refuse"][-1]
    assert refusal.version == 2
    assert any("PSI of challenger vs champion PDs" in reason for reason in refusal.body["reasons"])


def test_a_control_challenger_on_the_same_traffic_is_not_refused_by_those_gates(
    challengers: Any,
) -> None:
    service, life = challengers
    # Given the control challenger in shadow, on the same kind of live traffic
    _in_shadow(service, life, 3)
    _live_traffic(service)
    # When its promotion is asked for
    code, gates = _promote(3)
    # Then the shadow window is large enough to conclude, and neither its prediction drift
    # nor its grade PSI refuses it
    assert gates["shadow_window"]["evaluated"]
    assert gates["shadow_window"]["observed"] >= LIVE_REQUESTS
    for gate in SHADOW_GATES:
        assert gates[gate]["evaluated"] and gates[gate]["passed"], gates[gate]["reason"]
        assert gates[gate]["observed"] < 0.1
    # and what refuses it is the live inputs' drift alone, which the reweighted
    # challenger's refusal shared: its offline gates pass, as the reweighted one's did
    failed = {g for g, r in gates.items() if not r["passed"]}
    assert failed == {"shadow_data_drift"}, {g: gates[g]["reason"] for g in failed}
    assert code == 3
    for gate in (*SHADOW_GATES, "shadow_data_drift"):
        print(f"\ncontrol v3 {gate}: {gates[gate]['reason']}")
