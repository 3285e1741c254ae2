"""Online states of every market champion kind: incremental = batch, checkpoints, refusals.

Each state, advanced one return at a time, must issue the forecast the fitted estimator's
own batch method gives on the whole history (``_forecast_values`` for the VaR models,
``forecast_variance`` for the volatility models), and a state checkpointed to JSON text
and restored mid-series must go on exactly as if it had never stopped.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.data.market import load_market
from riskops.errors import BadInputError
from riskops.market.online import (
    Forecast,
    HARState,
    HistoryState,
    ObservationRejected,
    OnlineState,
    QuantileVaRState,
    linear_quantile,
    online_state,
    restore_state,
)
from riskops.market.var import FilteredHistoricalVaR, GarchTVaR, HistoricalVaR, QuantileVaR
from riskops.market.volatility import GarchVolatility, HARVolatility

TRAIN_DAYS = 1500
LIVE_DAYS = 250
LEVELS = (0.95, 0.99)
RTOL = 1e-12
"""Rounding only: running sums against window means, lfilter against a scalar loop."""


@pytest.fixture(scope="module")
def data() -> tuple[pd.Series, pd.Series]:
    returns = load_market().series()
    return returns.iloc[:TRAIN_DAYS], returns.iloc[TRAIN_DAYS : TRAIN_DAYS + LIVE_DAYS]


SPECS = {
    "garch_t": lambda: GarchTVaR(),
    "gjr_t": lambda: GarchTVaR(o=1),
    "fhs": lambda: FilteredHistoricalVaR(),
    "fhs_window": lambda: FilteredHistoricalVaR(window=250),
    "historical": lambda: HistoricalVaR(window=250),
    "quantile": lambda: QuantileVaR(n_estimators=40, es_folds=1),
    "garch_vol": lambda: GarchVolatility(o=1, dist="t"),
    "egarch_vol": lambda: GarchVolatility(vol="EGARCH", o=1, dist="t"),
    "har_lightgbm": lambda: HARVolatility(n_estimators=40),
    "har_linear": lambda: HARVolatility(regressor="linear"),
}


@pytest.fixture(scope="module")
def fitted(data) -> dict[str, object]:
    train, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: make().fit(train) for name, make in SPECS.items()}


def _arch_residuals(estimator: FilteredHistoricalVaR, full: np.ndarray, first: int) -> np.ndarray:
    """Standardised residuals of days ``first..`` with the fitted parameters, from arch's
    own fixed-parameter filter (an independent computation of the rolled residuals)."""
    fit = estimator.fit_
    model = arch_model(full, mean="Constant", vol="GARCH", p=1, o=fit.o, q=1, dist=fit.dist)
    forecast = model.forecast(fit.params, horizon=1, start=0, reindex=False).variance["h.1"]
    sigma2 = forecast.to_numpy()[first - 1 : -1]  # row t - 1 forecasts day t
    return (full[first:] - fit.params[0]) / np.sqrt(sigma2)


def batch_forecast(estimator: object, train: np.ndarray, live: np.ndarray) -> tuple:
    """What the estimator's batch method gives after ``train`` and ``live``."""
    full = np.concatenate([train, live])
    if isinstance(estimator, GarchVolatility | HARVolatility):
        return (float(estimator.forecast_variance(pd.Series(full))[0]),)
    if type(estimator) is FilteredHistoricalVaR and live.size:
        # The live residuals join the scenario set (the online state rolls it forward).
        rolled = copy.copy(estimator)
        residuals = _arch_residuals(estimator, full, train.size)
        rolled.std_resid_ = np.concatenate([estimator.std_resid_, residuals])
        estimator = rolled
    var, es = estimator._forecast_values(full, LEVELS)
    return tuple(var), tuple(es)


def online_forecast(forecast: Forecast) -> tuple:
    if forecast.var:
        return forecast.var, forecast.es
    return (forecast.variance,)


@pytest.mark.parametrize("name", list(SPECS))
def test_incremental_equals_batch_day_by_day(name, fitted, data) -> None:
    # Given the state of a fitted champion, built from its training returns
    estimator = fitted[name]
    train, live = (s.to_numpy() for s in data)
    state = online_state(estimator, levels=LEVELS)
    assert state.seq == 0
    np.testing.assert_allclose(
        np.ravel(online_forecast(state.forecast())),
        np.ravel(batch_forecast(estimator, train, live[:0])),
        rtol=RTOL,
    )
    # When it absorbs 250 live days of the S&P 500, one at a time
    checked = range(0, LIVE_DAYS, 1 if name not in ("quantile", "har_lightgbm") else 25)
    for k, r in enumerate(live, start=1):
        forecast = state.update(r)
        # Then every forecast is the batch method's on the history so far
        if k - 1 in checked or k == LIVE_DAYS:
            np.testing.assert_allclose(
                np.ravel(online_forecast(forecast)),
                np.ravel(batch_forecast(estimator, train, live[:k])),
                rtol=RTOL,
                err_msg=f"{name} after {k} live days",
            )
    assert state.seq == LIVE_DAYS


CHEAP = ["garch_t", "fhs_window", "historical", "garch_vol", "egarch_vol", "har_linear"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(CHEAP),
    live=st.lists(st.floats(-12.0, 12.0, allow_subnormal=False), min_size=1, max_size=30),
)
def test_incremental_equals_batch_for_any_returns(name, live, fitted, data) -> None:
    # Given any sequence of plausible percent returns after the training span
    estimator = fitted[name]
    train = data[0].to_numpy()
    state = online_state(estimator, levels=LEVELS)
    for r in live:
        forecast = state.update(r)
    # Then the last forecast is the batch forecast on the whole history
    np.testing.assert_allclose(
        np.ravel(online_forecast(forecast)),
        np.ravel(batch_forecast(estimator, train, np.array(live))),
        rtol=1e-10,
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(list(SPECS)), cut=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_checkpoint_restore_mid_series_gives_identical_forecasts(name, cut, seed, fitted) -> None:
    # Given a state checkpointed to JSON text after `cut` live returns (as a database row)
    estimator = fitted[name]
    live = np.random.default_rng(seed).standard_t(4, size=45)
    straight = online_state(estimator, levels=LEVELS)
    stopped = online_state(estimator, levels=LEVELS)
    for day, r in enumerate(live[:cut]):
        straight.update(r, seq=day + 1)
        stopped.update(r, seq=day + 1)
    text = json.dumps(stopped.to_dict())
    # When it is restored with the same estimator and both go on
    resumed = OnlineState.from_dict(json.loads(text), estimator)
    assert resumed.forecast() == straight.forecast()
    pairs = [
        (straight.update(r), resumed.update(r, seq=cut + i + 1)) for i, r in enumerate(live[cut:])
    ]
    # Then every later forecast is identical, bit for bit, sequence numbers included
    assert all(a == b for a, b in pairs)
    assert resumed.seq == len(live)


def test_checkpoint_is_plain_json_and_small(fitted) -> None:
    # Given the state of the FHS champion after a year of live days
    state = online_state(fitted["fhs"])
    for r in np.random.default_rng(1).normal(0, 1, size=250):
        state.update(r)
    data = state.to_dict()
    # Then its checkpoint is plain JSON holding the live residuals only (the training
    # ones come with the model), not the history
    text = json.dumps(data, allow_nan=False)
    assert len(data["state"]["live_residuals"]) == 250
    assert len(text) < 20_000
    assert data["seq"] == 250 and data["kind"] == "filtered_historical_var"


def test_checkpoint_of_another_model_is_refused(fitted, data) -> None:
    # Given a checkpoint of a GARCH-t VaR state
    checkpoint = online_state(fitted["garch_t"]).to_dict()
    # When it is restored on a model with other fitted parameters, or another kind
    other = GarchTVaR().fit(data[0].iloc[:-10])
    with pytest.raises(BadInputError, match="other fitted parameters"):
        restore_state(other, checkpoint)
    with pytest.raises(BadInputError, match="cannot resume"):
        restore_state(fitted["historical"], checkpoint)
    # or is tampered with
    broken = json.loads(json.dumps(checkpoint))
    broken["state"]["recursion"]["s2"] = [1.0, 2.0]
    with pytest.raises(BadInputError, match="lags"):
        restore_state(fitted["garch_t"], broken)
    with pytest.raises(BadInputError, match="layout version"):
        restore_state(fitted["garch_t"], checkpoint | {"schema": 99})


@pytest.mark.parametrize(
    ("observation", "kwargs", "reason"),
    [
        (float("nan"), {}, "invalid"),
        (float("inf"), {}, "invalid"),
        (-100.0, {}, "invalid"),
        ("1.5", {}, "invalid"),
        ({"close": 101.0}, {}, "invalid"),
        (0.5, {"seq": 1}, "duplicate"),
        (0.5, {"seq": 3}, "gap"),
        (0.5, {"timestamp": "2020-01-02"}, "duplicate"),
        (0.5, {"timestamp": "2020-01-01"}, "out_of_order"),
        (0.5, {"timestamp": "not a date"}, "invalid"),
    ],
)
def test_refused_observations_change_nothing(observation, kwargs, reason, fitted) -> None:
    # Given a state that absorbed observation 1, stamped 2020-01-02
    state = online_state(fitted["garch_t"])
    state.update({"ret": 0.3}, seq=1, timestamp="2020-01-02")
    before = state.to_dict()
    # When a bad, duplicate, out-of-order or skipping observation arrives
    with pytest.raises(ObservationRejected) as refused:
        state.update(observation, **kwargs)
    # Then it is refused with its reason (a 4xx / dead letter, never a crash) and the
    # state is untouched
    assert refused.value.reason == reason
    assert refused.value.to_dict()["reason"] == reason
    assert state.to_dict() == before
    # and the next good observation is absorbed
    assert state.update(0.1, seq=2, timestamp="2020-01-03").seq == 2


def test_forecast_dict_is_json_by_level_tag(fitted) -> None:
    forecast = online_state(fitted["garch_t"], levels=(0.975, 0.99)).forecast()
    out = json.loads(json.dumps(forecast.to_dict(), allow_nan=False))
    assert set(out["var"]) == {"97.5", "99"}
    assert out["es"]["99"] >= out["var"]["99"] > out["var"]["97.5"] > 0
    assert out["horizon"] == 1 and out["seq"] == 0
    assert forecast.var_at(0.99) == out["var"]["99"]
    with pytest.raises(BadInputError):
        forecast.var_at(0.95)


def test_quantile_state_refuses_untrained_levels(fitted) -> None:
    with pytest.raises(BadInputError, match="trained for levels"):
        online_state(fitted["quantile"], levels=(0.975,))


def test_subclass_and_user_models_get_the_exact_fallback(data) -> None:
    # Given a user's VaR model subclassing a built-in (its forecast may differ)
    class Shifted(HistoricalVaR):
        def _forecast_values(self, y, levels):
            var, es = super()._forecast_values(y, levels)
            return var + 1.0, es + 1.0

    train, live = data
    model = Shifted(window=100).fit(train)
    state = online_state(model)
    # Then it gets the history state, whose forecasts are the model's own
    assert isinstance(state, HistoryState)
    for r in live.iloc[:5]:
        forecast = state.update(r)
    var, _ = model._forecast_values(np.r_[train.to_numpy(), live.iloc[:5]], LEVELS)
    assert forecast.var == tuple(var)
    restored = restore_state(model, json.loads(json.dumps(state.to_dict())))
    assert restored.forecast() == forecast


def test_estimator_is_not_modified(fitted, data) -> None:
    estimator = fitted["fhs_window"]
    residuals = estimator.std_resid_.copy()
    state = online_state(estimator)
    for r in data[1]:
        state.update(r)
    np.testing.assert_array_equal(estimator.std_resid_, residuals)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False), min_size=1, max_size=60
    ),
    p=st.floats(0.0, 1.0),
)
def test_linear_quantile_is_numpy_quantile(values, p) -> None:
    # The sorted-window quantile is NumPy's, to the last bit
    ordered = np.sort(np.array(values))
    assert linear_quantile(ordered, p) == np.quantile(np.array(values), p)


def test_feature_rows_equal_the_batch_features(fitted, data) -> None:
    # Tree models are piecewise constant, so equal forecasts alone would not show a small
    # error in a feature: the feature rows themselves must be the batch ones, every day.
    from riskops.market.var import quantile_features
    from riskops.market.volatility import har_features

    train, live = (s.to_numpy() for s in data)
    quantile = online_state(fitted["quantile"])
    har = online_state(fitted["har_lightgbm"])
    assert isinstance(quantile, QuantileVaRState) and isinstance(har, HARState)
    for k, r in enumerate(live, start=1):
        quantile.update(r)
        har.update(r)
        y = np.concatenate([train, live[:k]])
        expected_q = quantile_features(y[-60:], fitted["quantile"].lags).iloc[-1]
        np.testing.assert_allclose(quantile.features()[0], expected_q.to_numpy(), rtol=RTOL)
        sq, ab, neg = y[-40:] ** 2, np.abs(y[-40:]), np.where(y[-40:] < 0, y[-40:] ** 2, 0.0)
        expected_h = har_features(sq, ab, neg)[fitted["har_lightgbm"].feature_names_].iloc[-1]
        np.testing.assert_allclose(har.features()[0], expected_h.to_numpy(), rtol=RTOL)


@pytest.mark.parametrize(
    "name", ["fhs", "fhs_window", "garch_t", "historical", "garch_vol", "har_linear"]
)
def test_batch_replay_is_the_online_record(name, fitted, data) -> None:
    # Given the online record of a champion over 250 live days (forecast issued, then the day)
    from riskops.market.online import batch_forecasts
    from riskops.market.rolling import level_tag

    estimator = fitted[name]
    train, live = data
    state = online_state(estimator, levels=LEVELS)
    issued = []
    for r in live:
        issued.append(state.forecast())
        state.update(r)
    # Then the batch replay (no state: the model's own batch method each day) gives the
    # same forecasts, hence the same exceptions, day by day
    replay = batch_forecasts(estimator, pd.concat([train, live]), start=TRAIN_DAYS, levels=LEVELS)
    assert replay.index.equals(live.index)
    if issued[0].var:
        for j, lv in enumerate(LEVELS):
            np.testing.assert_allclose(
                replay[f"var_{level_tag(lv)}"], [f.var[j] for f in issued], rtol=RTOL
            )
            np.testing.assert_allclose(
                replay[f"es_{level_tag(lv)}"], [f.es[j] for f in issued], rtol=RTOL
            )
    else:
        np.testing.assert_allclose(replay["variance"], [f.variance for f in issued], rtol=RTOL)


_FIELD_VALUES = (
    st.none()
    | st.floats()  # NaN and infinities become null
    | st.floats(allow_nan=False).map(np.float64)
    | st.integers(-(2**40), 2**40)
    | st.integers(-(2**31), 2**31).map(np.int64)
    | st.booleans()
    | st.booleans().map(np.bool_)
    | st.text(max_size=5)
)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(_FIELD_VALUES, min_size=5, max_size=5),
    levels=st.lists(st.sampled_from([0.95, 0.975, 0.99]), max_size=3, unique=True),
    quantiles=st.lists(_FIELD_VALUES, min_size=6, max_size=6),
)
def test_a_forecast_is_written_out_as_the_ledger_always_recorded_it(
    values: list[Any], levels: list[float], quantiles: list[Any]
) -> None:
    # The forecasts rows hash this dict's JSON: the fast conversion of its fields must
    # give what the general one gives (floats, numpy scalars, non-finite values as None).
    from riskops.market.rolling import level_tag

    def general(value: Any) -> Any:
        if isinstance(value, float | np.floating):
            value = float(value)
            return value if math.isfinite(value) else None
        if isinstance(value, np.integer | np.bool_):
            return value.item()
        return value

    mean, variance, score, percentile, alert = values
    n = len(levels)
    forecast = Forecast(
        "k", 3, "2020-01-01T00:00:00", 1, tuple(levels), tuple(quantiles[:n]),
        tuple(quantiles[3 : 3 + n]), mean, variance, score, percentile, alert,
        (("f", quantiles[5]),), None,
    )  # fmt: skip
    expected = {name: general(v) for name, v in zip(forecast._fields, forecast, strict=True)}
    expected["levels"] = list(levels)
    for name, given_values in (("var", quantiles[:n]), ("es", quantiles[3 : 3 + n])):
        pairs = zip(levels, given_values, strict=True)
        expected[name] = {level_tag(lv): general(v) for lv, v in pairs}
    expected["features"] = {"f": general(quantiles[5])}
    got = forecast.to_dict()
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert [type(got[k]) for k in sorted(got)] == [type(expected[k]) for k in sorted(expected)]
