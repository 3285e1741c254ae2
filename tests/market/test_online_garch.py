"""Online GARCH-type filters against arch's fixed-parameter filter on the same full series.

The online state starts from a history and absorbs one return at a time; arch filters the
whole series at once with the same fixed parameters (``arch_model(full).fix(params)``, and
``arch_model(full).forecast(params, start=0)``, which the platform's ``forecast_variance``
uses). They must agree to 1e-10 (relative) on every day.

Where the two arch paths differ: ``fix`` starts its recursion from the backcast of the
residuals around the *sample mean* of the series it is given, ``forecast(params)`` (and the
online state, and every forecast the platform serves) around the fitted mean ``mu``. The
sample mean of a growing series changes with each day, so no online filter can reproduce
``fix``'s backcast; the difference decays as ``beta ** t``. The property test therefore sets
``mu`` to arch's own sample mean (both backcasts then coincide and every day must agree),
and the fitted-model tests compare with ``fix`` on the live days, after 1,000 days of
history have made ``beta ** t`` negligible, and with ``forecast`` on every day.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.data.market import load_market
from riskops.errors import BadInputError
from riskops.market.online import online_state, restore_state
from riskops.market.var import FilteredHistoricalVaR, GarchTVaR
from riskops.market.volatility import GarchVolatility

TOLERANCE = 1e-10
TRAIN_DAYS = 1000
LIVE_DAYS = 400


@pytest.fixture(scope="module")
def sp500() -> pd.Series:
    return load_market().series()


@pytest.fixture(scope="module")
def split(sp500: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    full = sp500.iloc[: TRAIN_DAYS + LIVE_DAYS]
    return full.iloc[:TRAIN_DAYS], full.iloc[TRAIN_DAYS:], full


def _arch(full: pd.Series, vol: str, p: int, o: int, q: int, dist: str, mean: str = "Constant"):
    return arch_model(full, mean=mean, vol=vol, p=p, o=o, q=q, dist=dist, rescale=False)


def _online_path(model, live: pd.Series) -> np.ndarray:
    """Variance forecasts: element 0 after the history, element i after i live returns."""
    state = online_state(model)
    return np.array([state.forecast().variance] + [state.update(r).variance for r in live])


def _names(arch) -> list[str]:
    parts = (arch, arch.volatility, arch.distribution)
    return [name for part in parts for name in part.parameter_names()]


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a / b - 1.0)))


SPECS = [
    {"vol": "GARCH", "o": 0, "dist": "normal"},
    {"vol": "GARCH", "o": 0, "dist": "t"},
    {"vol": "GARCH", "o": 1, "dist": "t"},
    {"vol": "GARCH", "o": 1, "dist": "skewt"},
    {"vol": "EGARCH", "o": 1, "dist": "t"},
    {"vol": "EGARCH", "o": 0, "dist": "normal"},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['vol']}-o{s['o']}-{s['dist']}")
def test_fitted_volatility_models_equal_arch_fixed_filter(spec, split) -> None:
    # Given a GarchVolatility fitted on the first 1,000 days (every variant the volatility
    # family fits: GARCH, GJR, EGARCH; normal, t, skewed t)
    train, live, full = split
    model = GarchVolatility(p=1, q=1, **spec).fit(train)
    params = model.params_.to_numpy()
    # When its online state absorbs the next 400 returns one at a time
    online = _online_path(model, live)
    # Then each day's variance equals arch's fixed-parameter filter of the full series...
    arch = _arch(full, spec["vol"], 1, spec["o"], 1, spec["dist"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fixed = arch.fix(params).conditional_volatility.to_numpy() ** 2
        forecast = arch.forecast(params, horizon=1, start=0, reindex=False).variance
    # (online[i] forecasts day TRAIN_DAYS + i; fix's variance of that day is fixed[...])
    assert _relative(online[:-1], fixed[TRAIN_DAYS:]) < TOLERANCE
    # ...and arch's one-step forecasts on every live day, the last one included
    assert _relative(online, forecast["h.1"].to_numpy()[TRAIN_DAYS - 1 :]) < TOLERANCE
    # and the platform's own batch forecast after the full series
    assert online[-1] == pytest.approx(model.forecast_variance(full)[0], rel=TOLERANCE)


def test_rescaled_model_is_filtered_in_arch_units(split) -> None:
    # Given decimal returns, which arch rescales (x100) when asked to
    train, live, full = (s / 100.0 for s in split)
    model = GarchVolatility(dist="t", rescale=True).fit(train)
    assert model.scale_ == pytest.approx(100.0)
    # When the online state absorbs decimal returns
    online = _online_path(model, live)
    # Then its variances are the batch forecasts, in the data's (decimal) units
    batch = model.variance_path(full).to_numpy()[TRAIN_DAYS - 1 :]
    assert _relative(online, batch) < TOLERANCE


@pytest.mark.parametrize(
    "estimator",
    [GarchTVaR(), GarchTVaR(o=1), FilteredHistoricalVaR(), FilteredHistoricalVaR(dist="normal")],
    ids=["garch_t", "gjr_t", "fhs_gjr_t", "fhs_gjr_normal"],
)
def test_var_models_filter_like_arch(estimator, split) -> None:
    # Given a VaR model on the built-in GARCH estimator (fit_garch: arch's model)
    train, live, full = split
    estimator.fit(train)
    fit = estimator.fit_
    arch = _arch(full, "GARCH", 1, fit.o, 1, fit.dist)
    # When its state absorbs the live returns
    state = online_state(estimator)
    online = np.array([state.forecast().variance] + [state.update(r).variance for r in live])
    # Then the variance it scales the VaR by is arch's fixed-parameter filter's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fixed = arch.fix(fit.params).conditional_volatility.to_numpy() ** 2
    assert _relative(online[:-1], fixed[TRAIN_DAYS:]) < TOLERANCE


def test_garch_t_var_with_arch_volatility(split) -> None:
    # Given GarchTVaR estimated by an arch-based GJR-GARCH-t instead of the built-in
    train, live, full = split
    estimator = GarchTVaR(volatility=GarchVolatility(o=1, dist="t")).fit(train)
    state = online_state(estimator)
    for r in live:
        state.update(r)
    # Then the live forecast is the model's batch forecast on the full series
    var, es = estimator._forecast_values(full.to_numpy(), state.levels)
    assert np.allclose(state.forecast().var, var, rtol=TOLERANCE, atol=0)
    assert np.allclose(state.forecast().es, es, rtol=TOLERANCE, atol=0)


# -- property: any admissible parameter set, any orders ------------------------------------


@st.composite
def garch_parameters(draw: st.DrawFn) -> tuple[str, int, int, int, list[float]]:
    vol = draw(st.sampled_from(["GARCH", "EGARCH"]))
    p = draw(st.integers(1, 2))
    o = draw(st.integers(0, 1))
    q = draw(st.integers(1, 2))
    # Shares of the persistence among the q lags (hypothesis favours 0.0; keep them apart)
    unit = st.floats(0.2, 1.0)
    if vol == "GARCH":
        alpha = [draw(st.floats(0.01, 0.15)) for _ in range(p)]
        gamma = [draw(st.floats(0.02, 0.2)) for _ in range(o)]
        # Persistence below 0.995, shared among the q lags
        room = 0.995 - sum(alpha) - 0.5 * sum(gamma)
        share = [draw(unit) for _ in range(q)]
        # Fitted models are persistent; a high beta also keeps the backcast's influence
        # measurable on the days compared, so an error before the sample would show.
        total = draw(st.floats(0.6, 1.0)) * room
        beta = [total * s / sum(share) for s in share]
        omega = draw(st.floats(0.005, 0.1))
    else:
        alpha = [draw(st.floats(0.02, 0.3)) for _ in range(p)]
        gamma = [draw(st.floats(-0.2, -0.01)) for _ in range(o)]
        total = draw(st.floats(0.7, 0.99))
        share = [draw(unit) for _ in range(q)]
        beta = [total * s / sum(share) for s in share]
        # Log variance near the data's (about 0.2 = log 1.2 percent squared)
        omega = (1.0 - sum(beta)) * draw(st.floats(-0.5, 0.8))
    return vol, p, o, q, [omega, *alpha, *gamma, *beta]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spec=garch_parameters(),
    start=st.integers(0, 3000),
    history=st.integers(75, 300),
    live=st.integers(1, 150),
)
def test_any_parameter_set_equals_arch_fix_on_every_day(sp500, spec, start, history, live) -> None:
    # Given a GARCH or EGARCH model of any orders with fixed parameters, on a stretch of
    # the S&P 500, whose mean is arch's own sample mean of that stretch (so that arch's
    # fix and the online state start from the same backcast)
    vol, p, o, q, vol_params = spec
    full = sp500.iloc[start : start + history + live].reset_index(drop=True)
    arch = _arch(full, vol, p, o, q, "normal")
    # arch's starting value of a constant mean, operation for operation (ConstantMean)
    mu = float(np.linalg.pinv(np.ones((len(full), 1))).dot(full.to_numpy())[0])
    params = np.array([mu, *vol_params])
    model = GarchVolatility(vol=vol, p=p, o=o, q=q, dist="normal")
    model.params_ = pd.Series(params, index=_names(arch))
    model.scale_ = 1.0
    # When the state starts after `history` days and absorbs the rest one at a time
    state = online_state(model, history=full.iloc[:history])
    online = [state.forecast().variance] + [state.update(r).variance for r in full.iloc[history:]]
    # Then every day's variance is arch's fixed-parameter filter's, to 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fixed = arch.fix(params).conditional_volatility.to_numpy() ** 2
        forecast = arch.forecast(params, horizon=1, start=0, reindex=False).variance["h.1"]
    assert _relative(np.array(online[:-1]), fixed[history:]) < TOLERANCE
    assert _relative(np.array(online), forecast.to_numpy()[history - 1 :]) < TOLERANCE


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=garch_parameters(), cut=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_checkpoint_mid_series_resumes_identically(sp500, spec, cut, seed) -> None:
    # Given a state that absorbed `cut` returns and was checkpointed to JSON text
    vol, p, o, q, vol_params = spec
    history = sp500.iloc[:300]
    arch = _arch(history, vol, p, o, q, "t")
    model = GarchVolatility(vol=vol, p=p, o=o, q=q, dist="t")
    model.params_ = pd.Series([0.05, *vol_params, 8.0], index=_names(arch))
    model.scale_ = 1.0
    model.returns_ = history
    live = np.random.default_rng(seed).standard_t(5, size=60)
    straight = online_state(model)
    resumed = online_state(model)
    for r in live[:cut]:
        resumed.update(r)
    text = json.dumps(resumed.to_dict())
    resumed = restore_state(model, json.loads(text))
    # When both absorb the remaining returns
    for r in live[:cut]:
        straight.update(r)
    pairs = [(straight.update(r), resumed.update(r)) for r in live[cut:]]
    # Then the forecasts are identical, bit for bit, and so are the sequence numbers
    assert all(a == b for a, b in pairs)
    assert straight.seq == resumed.seq == len(live)


@pytest.mark.parametrize(
    ("vol", "params"),
    [("GARCH", [0.02, 0.03, 0.12, 0.90]), ("EGARCH", [0.0, 0.15, -0.10, 0.97])],
)
def test_before_the_sample_as_arch(sp500, vol, params) -> None:
    # Given a persistent asymmetric model started after only 75 days (the least a state
    # takes), so that what the recursion assumes before the first day still shows...
    full = sp500.iloc[:200].reset_index(drop=True)
    arch = _arch(full, vol, 1, 1, 1, "normal")
    mu = float(np.linalg.pinv(np.ones((len(full), 1))).dot(full.to_numpy())[0])
    values = np.array([mu, *params])
    model = GarchVolatility(vol=vol, o=1, dist="normal")
    model.params_ = pd.Series(values, index=_names(arch))
    model.scale_ = 1.0
    state = online_state(model, history=full.iloc[:75])
    online = [state.forecast().variance] + [state.update(r).variance for r in full.iloc[75:]]
    # ...then it is arch's: the backcast for the squared residual and the variance, half of
    # it for the asymmetric term (GJR), no shock term before the sample (EGARCH)
    fixed = arch.fix(values).conditional_volatility.to_numpy() ** 2
    assert _relative(np.array(online[:-1]), fixed[75:]) < TOLERANCE
    # (and the check is sensitive: the first compared day still carries 1e-5 of day 0)
    assert params[-1] ** 75 > 1e-5


def test_too_short_a_history_is_refused(sp500) -> None:
    model = GarchVolatility().fit(sp500.iloc[:500])
    with pytest.raises(BadInputError, match="at least 75 returns"):
        online_state(model, history=sp500.iloc[:74])
