"""The market shadow window's comparative backtest and its gate, as pure functions
(:mod:`riskops.market.shadow_backtest`): counts against a plain recount, the window's facts,
the policy's rule parsed or refused naming the field, and a gate that fails closed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.errors import BadInputError
from riskops.market.shadow_backtest import (
    ShadowBacktestRule,
    shadow_backtest_gate,
    shadow_rule,
    var_shadow_backtest,
    volatility_shadow_backtest,
)
from riskops.policy import Policy


def _rows(ret: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": "s",
            "day": pd.bdate_range("2021-01-04", periods=ret.size),
            "ret": ret,
            "var_95_champion": champion,
            "var_99_champion": 1.5 * champion,
            "var_95_challenger": challenger,
            "var_99_challenger": 1.5 * challenger,
        }
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 120), scale=st.floats(0.3, 2.0))
def test_exceptions_are_a_plain_recount_of_returns_below_minus_var(
    seed: int, n: int, scale: float
) -> None:
    # Given returns and two VaRs on the same days
    rng = np.random.default_rng(seed)
    ret = rng.standard_t(5, n)
    champion = np.full(n, 1.6)
    challenger = scale * champion
    # When the shadow backtest runs
    facts = var_shadow_backtest(_rows(ret, champion, challenger))
    # Then each version's exceptions are the days its VaR was exceeded
    assert facts["exceptions"]["champion"]["95"] == int((ret < -champion).sum())
    assert facts["exceptions"]["challenger"]["99"] == int((ret < -1.5 * challenger).sum())
    assert facts["window"]["days"] == n and facts["window"]["series"] == ["s"]
    # And a VaR equal to the champion's has the same tick loss: nothing to prefer (p = 0.5)
    same = var_shadow_backtest(_rows(ret, champion, champion))
    assert same["loss"]["95"]["p_challenger_worse"] == 0.5
    assert same["exceptions"]["challenger"] == same["exceptions"]["champion"]


def test_a_window_below_the_minimum_is_not_evaluated_and_says_so() -> None:
    # Given 40 days judged by a rule needing 250
    ret = np.random.default_rng(0).normal(size=40)
    facts = var_shadow_backtest(_rows(ret, np.full(40, 1.6), np.full(40, 0.1)))
    rule = ShadowBacktestRule(alpha=0.01, min_days=250)
    # When the gate reads it
    [result] = shadow_backtest_gate({"shadow": {"comparison": facts}}, rule=rule)
    # Then it passes as "not evaluated", visibly, with the window
    assert result.passed and not result.evaluated
    assert result.reason.startswith("not evaluated: window too small (40 days < 250)")
    assert "2021-01-04" in result.reason


def test_a_nan_loss_p_value_refuses() -> None:
    # Given volatility facts whose Diebold-Mariano p-value is NaN
    ret = np.random.default_rng(1).normal(size=30)
    frame = pd.DataFrame(
        {
            "series": "s",
            "day": pd.bdate_range("2021-01-04", periods=30),
            "ret": ret,
            "variance_champion": 1.0,
            "variance_challenger": 1.0,
        }
    )
    facts = volatility_shadow_backtest(frame)
    facts["loss"]["qlike"]["p_challenger_worse"] = float("nan")
    # When the gate reads them
    results = shadow_backtest_gate(
        {"shadow": {"comparison": facts}}, rule=ShadowBacktestRule(min_days=10)
    )
    # Then the loss gate fails closed
    loss = next(r for r in results if r.gate == "shadow_backtest_loss_qlike")
    assert not loss.passed


def test_a_bad_rule_names_the_field() -> None:
    policy = Policy(family="var", rules={"shadow_comparison": {"alpha": 2, "min_days": 250}})
    with pytest.raises(BadInputError, match=r"rules\.shadow_comparison\.alpha"):
        shadow_rule(policy)
