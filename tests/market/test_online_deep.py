"""Online state of the deep volatility models (LSTM, Transformer): incremental = batch.

Skipped without PyTorch on a developer's machine; in CI (``CI=true``) ``make test`` installs
the CPU wheel and ``tests/conftest.py`` fails the run if any of these tests is skipped.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from riskops.market.deep import LSTMVolatility, TransformerVolatility
from riskops.market.online import SequenceState, online_state, restore_state
from riskops.market.volatility import GarchVolatility

pytestmark = pytest.mark.deep

SMALL = {"epochs": 3, "batch_size": 64, "random_state": 1}


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    sim = GarchVolatility().simulate(700, params=[0.03, 0.03, 0.12, 0.85], random_state=7)
    return pd.Series(sim["data"].to_numpy(), index=pd.bdate_range("2015-01-01", periods=700))


@pytest.mark.parametrize("kind", [LSTMVolatility, TransformerVolatility])
def test_sequence_state_equals_batch_and_resumes(kind, returns) -> None:
    # Given a deep model fitted on 600 days and its online state
    model = kind(**SMALL).fit(returns.iloc[:600])
    state = online_state(model)
    assert isinstance(state, SequenceState)
    assert state.forecast().variance == pytest.approx(
        float(model.forecast_variance(returns.iloc[:600])[0]), rel=1e-6
    )
    # When the next 100 days arrive one at a time (checkpointed to JSON after 40)
    live = returns.iloc[600:]
    for k, r in enumerate(live, start=1):
        forecast = state.update(r)
        # Then each forecast is the batch forecast on the history so far (float32 network)
        expected = float(model.forecast_variance(returns.iloc[: 600 + k])[0])
        assert forecast.variance == pytest.approx(expected, rel=1e-6)
        if k == 40:
            resumed = restore_state(model, json.loads(json.dumps(state.to_dict())))
    # and the state restored after 40 days ends where the uninterrupted one did, exactly
    for r in live.iloc[40:]:
        resumed.update(r)
    assert resumed.forecast() == state.forecast()
    assert np.isfinite(forecast.variance) and resumed.seq == len(live)
