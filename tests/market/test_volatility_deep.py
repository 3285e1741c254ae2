"""Deep sequence volatility models.

Skipped without PyTorch on a developer's machine; in CI (``CI=true``) ``make test`` installs
the CPU wheel and ``tests/conftest.py`` fails the run if any of these tests is skipped.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

pytest.importorskip("torch")

from riskops.data.market import load_market
from riskops.families.base import TrainOptions
from riskops.market.deep import LSTMVolatility, TransformerVolatility
from riskops.market.evaluation import qlike
from riskops.market.volatility import GarchVolatility
from riskops.volatility.family import VolatilityFamily

pytestmark = pytest.mark.deep


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.Series, np.ndarray]:
    sim = GarchVolatility().simulate(1300, params=[0.03, 0.03, 0.12, 0.85], random_state=23)
    returns = pd.Series(sim["data"].to_numpy(), index=pd.bdate_range("2014-01-01", periods=1300))
    return returns, sim["volatility"].to_numpy() ** 2


SMALL = {"epochs": 6, "batch_size": 64, "random_state": 1}


@pytest.mark.parametrize("kind", [LSTMVolatility, TransformerVolatility])
def test_learns_the_variance_dynamics(kind, simulated) -> None:
    returns, true_variance = simulated
    # Given 1000 training days of a clustered series
    model = kind(**SMALL).fit(returns.iloc[:1000])
    # Then the training QLIKE fell, and held-out forecasts track the true variance and
    # beat the constant (unconditional) forecast
    assert model.train_loss_[-1] < model.train_loss_[0]
    forecast = model.predict(returns.to_frame("ret"))[999:-1]
    realised = returns.iloc[1000:].to_numpy() ** 2
    assert np.corrcoef(forecast, true_variance[1000:])[0, 1] > 0.7
    assert qlike(realised, forecast) < qlike(realised, np.full(300, realised.mean()))


@pytest.mark.parametrize("kind", [LSTMVolatility, TransformerVolatility])
def test_sklearn_contract_and_determinism(kind, simulated) -> None:
    returns, _ = simulated
    spec = kind(**SMALL)
    assert clone(spec).get_params() == spec.get_params()
    first = clone(spec).fit(returns.iloc[:600])
    second = clone(spec).fit(returns.iloc[:600])
    frame = returns.iloc[-100:].to_frame("ret")
    assert_allclose(first.predict(frame), second.predict(frame), rtol=1e-5)
    restored = pickle.loads(pickle.dumps(first))
    assert_allclose(restored.predict(frame), first.predict(frame))
    # The weights are NumPy arrays: skops stores the model without trusting a torch class
    import skops.io as sio

    from riskops.families import trusted_types

    data = sio.dumps(first)
    assert set(sio.get_untrusted_types(data=data)) <= set(trusted_types())
    assert not any("torch" in t for t in sio.get_untrusted_types(data=data))
    loaded = sio.loads(data, trusted=list(trusted_types()))
    assert_allclose(loaded.predict(frame), first.predict(frame), rtol=1e-12, atol=0)
    assert_allclose(loaded.forecast_variance(horizon=5), first.forecast_variance(horizon=5))
    path = first.forecast_variance(returns.iloc[-100:], horizon=5)
    assert path.shape == (5,)
    assert path[0] == pytest.approx(first.predict(frame)[-1], rel=1e-5)
    assert np.all(path > 0)


def test_predictions_are_causal(simulated) -> None:
    returns, _ = simulated
    model = LSTMVolatility(**SMALL).fit(returns.iloc[:600])
    shocked = returns.iloc[:700].copy()
    shocked.iloc[650] = 12.0
    base = model.predict(returns.iloc[:700].to_frame("ret"))
    moved = model.predict(shocked.to_frame("ret"))
    assert_allclose(base[:650], moved[:650])
    assert moved[650] > base[650]


def test_family_trains_a_transformer(tmp_path: Path) -> None:
    full = load_market(bundled="sp500")
    dataset = full.window(start=full.returns.index[-900])
    options = TrainOptions(
        model="transformer", extra={"eval_days": 100, "refit_every": 100}, seed=3
    )
    outcome = VolatilityFamily().fit(dataset, options, tmp_path)
    assert outcome.metrics["n_eval"] == 100
    assert outcome.evidence["params"]["epochs"] == 15
    assert outcome.estimator.predict(outcome.input_example).shape == (250,)
