"""Prefect conventions, through a real Prefect API (a ``prefect server start``): a refused
promotion is a Failed flow run named for the refusal, with artifacts of the gate results and
the MLflow run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_refused_promotion_is_a_failed_run_with_its_gate_results(
    prefect_api: str, riskops_home: Path
) -> None:
    from prefect.client.orchestration import get_client

    from pipelines.flows import promote_flow, train_flow
    from riskops.data.credit import load_credit
    from riskops.data.scenarios import shifted_credit

    # Given a credit challenger trained on deliberately shifted data
    shifted = riskops_home / "shifted.csv"
    shifted_credit(load_credit()).to_csv(shifted, index=False)
    source = {"domain": "credit", "path": shifted, "target": "Status", "positive_label": "bad"}
    trained = train_flow("credit", source=source, recent={"domain": "credit"})
    name, version = trained["model"]["name"], trained["model"]["version"]
    # When the promote flow gates it
    state = promote_flow(name, version, return_state=True)
    # Then the flow run failed, in a state named for the refusal that carries the decision
    assert state.is_failed()
    assert state.name == "Refused"
    assert "data_drift" in (state.message or "")
    decision = state.result(raise_on_failure=False)
    assert decision["promoted"] is False

    async def artifacts() -> dict[str, object]:
        async with get_client() as client:
            return {a.key: a for a in await client.read_artifacts() if a.key}

    # and the run published a table of the gate results and a link to the MLflow run
    published = asyncio.run(artifacts())
    gates = published["gates-credit-pd"]
    assert gates.type == "table"
    assert "data_drift" in str(gates.data) and "FAIL" in str(gates.data)
    link = published["mlflow-run-credit-pd"]
    assert link.type == "markdown"  # Prefect stores a link artifact as Markdown
    assert trained["run_id"] in str(link.data)
