"""Backtests of VaR and ES: published reference values and properties."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.backtests import (
    acerbi_szekely_z2,
    christoffersen_independence,
    conditional_coverage,
    exceedances,
    kupiec_pof,
    mcneil_frey,
    tick_loss,
    traffic_light,
)


def hits_from_runs(n: int, runs: list[int], first_gap: int | None = None) -> np.ndarray:
    """``n`` days whose exceptions come in the given runs, separated by quiet days and
    never on the first or last day (so the transition counts follow from the runs).
    ``first_gap`` fixes the number of quiet days before the first run."""
    quiet = n - sum(runs)
    gaps = len(runs) + 1
    assert quiet >= gaps
    sizes = [quiet // gaps + (1 if i < quiet % gaps else 0) for i in range(gaps)]
    if first_gap is not None:
        rest = quiet - first_gap
        sizes = [first_gap] + [
            rest // (gaps - 1) + (1 if i < rest % (gaps - 1) else 0) for i in range(gaps - 1)
        ]
    parts: list[bool] = []
    for gap, run in zip(sizes, [*runs, 0], strict=True):
        parts += [False] * gap + [True] * run
    out = np.array(parts, dtype=bool)
    assert out.size == n
    assert not out[0]
    assert not out[-1]
    return out


# --- MATLAB Risk Management Toolbox, varbacktest documentation -------------------------
# load VaRBacktestData; vbt = varbacktest(EquityIndex, Normal95):
#   summary(vbt): ObservedLevel 0.94535, Observations 1043, Failures 57, Expected 52.15,
#                 Ratio 1.093, FirstFailure 58
#   pof(vbt):  LRatioPOF 0.46147, PValuePOF 0.49694
#   cci(vbt):  LRatioCCI 0.25866, PValueCCI 0.61104, N00 932, N10 53, N01 53, N11 4
#   cc(vbt):   LRatioCC 0.72013, PValueCC 0.69763
#   tl(vbt):   TL green, Probability 0.77913, TypeI 0.26396, Increase 0
# https://www.mathworks.com/help/risk/varbacktest.summary.html, varbacktest.pof.html,
# varbacktest.cci.html, varbacktest.cc.html, varbacktest.tl.html
# The data file is not redistributable, so the hit series is rebuilt from the published
# counts: 57 exceptions in 1043 days, 4 of them right after another exception.
MATLAB_TOL = 1e-5  # the documentation prints five decimals


@pytest.fixture
def matlab_normal95() -> np.ndarray:
    runs = [2] * 4 + [1] * 49  # 53 runs (n01 = 53), 4 repeats (n11 = 4), 57 exceptions
    return hits_from_runs(1043, runs, first_gap=57)  # the first failure is on day 58


def test_matlab_fixture_has_published_counts(matlab_normal95: np.ndarray) -> None:
    ind = christoffersen_independence(matlab_normal95)
    assert (ind.n00, ind.n10, ind.n01, ind.n11) == (932, 53, 53, 4)
    assert ind.exceptions == 57


def test_pof_matches_matlab_varbacktest(matlab_normal95: np.ndarray) -> None:
    # Given MATLAB's Normal95 example; when the POF test runs; then its values match.
    res = kupiec_pof(matlab_normal95, 0.95)
    assert res.statistic == pytest.approx(0.46147, abs=MATLAB_TOL)
    assert res.pvalue == pytest.approx(0.49694, abs=MATLAB_TOL)
    assert res.passed
    assert res.observed_level == pytest.approx(0.94535, abs=MATLAB_TOL)
    assert res.expected == pytest.approx(52.15)
    assert res.ratio == pytest.approx(1.093, abs=5e-4)
    assert res.first_exception == 58
    assert (res.n, res.exceptions) == (1043, 57)


def test_independence_and_cc_match_matlab_varbacktest(matlab_normal95: np.ndarray) -> None:
    ind = christoffersen_independence(matlab_normal95)
    assert ind.statistic == pytest.approx(0.25866, abs=MATLAB_TOL)
    assert ind.pvalue == pytest.approx(0.61104, abs=MATLAB_TOL)
    cc = conditional_coverage(matlab_normal95, 0.95)
    assert cc.statistic == pytest.approx(0.72013, abs=MATLAB_TOL)
    assert cc.pvalue == pytest.approx(0.69763, abs=MATLAB_TOL)
    assert cc.passed
    assert ind.passed


def test_traffic_light_matches_matlab_varbacktest(matlab_normal95: np.ndarray) -> None:
    tl = traffic_light(matlab_normal95, 0.95)
    assert tl.zone == "green"
    assert tl.cumulative_probability == pytest.approx(0.77913, abs=MATLAB_TOL)
    assert tl.type1_error == pytest.approx(0.26396, abs=MATLAB_TOL)
    assert tl.plus_factor == 0.0


def test_summary_counts_match_matlab_normal99() -> None:
    # summary(vbt) for Normal99: ObservedLevel 0.9837, Failures 17, Expected 10.43,
    # Ratio 1.6299, FirstFailure 173 (same documentation page).
    hits = np.zeros(1043, dtype=bool)
    hits[172] = True
    hits[np.linspace(300, 1000, 16).astype(int)] = True
    res = kupiec_pof(hits, 0.99)
    assert res.observed_level == pytest.approx(0.9837, abs=1e-4)
    assert res.expected == pytest.approx(10.43)
    assert res.ratio == pytest.approx(1.6299, abs=1e-4)
    assert res.first_exception == 173


# --- R rugarch VaRTest / report(type = "VaR"), published outputs -------------------------
# rugarch's report prints LR statistics and p-values rounded to 3 decimals, so these are
# compared to that precision. Published (n, exceptions, alpha) -> LR.uc, p, LR.cc, p:
# * https://rforanalytics.com/11.4-var-forecasts-using-out-of-sample.html: sGARCH-std,
#   backtest length 154, alpha 5%, 6 exceedances: LR.uc 0.426 (p 0.514), LR.cc 0.916.
# * https://html.scirp.org/file/_8-2410529_10.htm (Table 10): backtest length 224, alpha
#   1%, 5 exceedances: LR.uc 2.544 (p 0.111); 7 exceedances: LR.uc 6.535 (p 0.011).
# The published LR.cc is reproduced with isolated exceptions (none on consecutive days,
# none on the first or last day), the configuration these reports imply.
RUGARCH_CASES = [
    (154, 6, 0.95, 0.426, 0.514, 0.916),
    (224, 5, 0.99, 2.544, 0.111, None),
    (224, 7, 0.99, 6.535, 0.011, None),
]


@pytest.mark.parametrize(("n", "x", "level", "uc", "uc_p", "cc"), RUGARCH_CASES)
def test_matches_rugarch_published_reports(
    n: int, x: int, level: float, uc: float, uc_p: float, cc: float | None
) -> None:
    hits = hits_from_runs(n, [1] * x)
    pof = kupiec_pof(hits, level)
    assert round(pof.statistic, 3) == pytest.approx(uc)
    assert round(pof.pvalue, 3) == pytest.approx(uc_p)
    if cc is not None:
        assert round(conditional_coverage(hits, level).statistic, 3) == pytest.approx(cc)


def test_rugarch_formula_on_clustered_hits() -> None:
    # rugarch's .LR.cc: l1 = (1-pUc)^(N00+N10) pUc^(N01+N11),
    # l2 = (1-p01)^N00 p01^N01 (1-p11)^N10 p11^N11, ind = -2 log(l1/l2), written out here.
    hits = hits_from_runs(500, [3, 1, 2, 1, 1, 2])
    ind = christoffersen_independence(hits)
    n00, n01, n10, n11 = ind.n00, ind.n01, ind.n10, ind.n11
    p01, p11 = n01 / (n00 + n01), n11 / (n10 + n11)
    puc = (n01 + n11) / (n00 + n01 + n10 + n11)
    l1 = (1 - puc) ** (n00 + n10) * puc ** (n01 + n11)
    l2 = (1 - p01) ** n00 * p01**n01 * (1 - p11) ** n10 * p11**n11
    assert ind.statistic == pytest.approx(-2 * np.log(l1 / l2), rel=1e-10)


# --- Basel Committee (1996), Supervisory framework for the use of "backtesting" ---------
# Table 2: 250 observations, 99% VaR. Exceptions -> zone, plus-factor, cumulative prob.
BASEL_TABLE_2 = [
    (0, "green", 0.00, 0.0811),
    (1, "green", 0.00, 0.2858),
    (2, "green", 0.00, 0.5432),
    (3, "green", 0.00, 0.7581),
    (4, "green", 0.00, 0.8922),
    (5, "yellow", 0.40, 0.9588),
    (6, "yellow", 0.50, 0.9863),
    (7, "yellow", 0.65, 0.9960),
    (8, "yellow", 0.75, 0.9989),
    (9, "yellow", 0.85, 0.9997),
    (10, "red", 1.00, 0.9999),
    (14, "red", 1.00, 1.0000),
]


@pytest.mark.parametrize(("x", "zone", "plus", "cumulative"), BASEL_TABLE_2)
def test_traffic_light_reproduces_basel_table_2(
    x: int, zone: str, plus: float, cumulative: float
) -> None:
    hits = np.zeros(250, dtype=bool)
    hits[np.linspace(0, 249, x).astype(int)] = True
    tl = traffic_light(hits, 0.99)
    assert (tl.zone, tl.exceptions) == (zone, x)
    assert tl.plus_factor == pytest.approx(plus)
    assert tl.multiplier == pytest.approx(3.0 + plus)
    # The table prints percentages with two decimals.
    assert tl.cumulative_probability == pytest.approx(cumulative, abs=5e-5 + 1e-12)


def test_traffic_light_generalises_by_probability() -> None:
    # Given 1000 days at 99% (10 expected); when 15 exceptions occur (P(X<=15) ~ 0.95)...
    tl = traffic_light(np.r_[np.ones(15), np.zeros(985)].astype(bool), 0.99)
    assert tl.zone == ("yellow" if tl.cumulative_probability >= 0.95 else "green")
    assert 0.0 <= tl.plus_factor <= 1.0
    # ...and 30 exceptions are far in the red.
    assert traffic_light(np.r_[np.ones(30), np.zeros(970)].astype(bool), 0.99).zone == "red"


# --- Properties --------------------------------------------------------------------------
hit_series = st.lists(st.booleans(), min_size=2, max_size=600).map(np.array)
levels = st.sampled_from([0.95, 0.99])


@settings(max_examples=150, deadline=None)
@given(hits=hit_series, level=levels)
def test_statistics_and_pvalues_are_well_formed(hits: np.ndarray, level: float) -> None:
    for res in (
        kupiec_pof(hits, level),
        christoffersen_independence(hits),
        conditional_coverage(hits, level),
    ):
        assert res.statistic >= 0.0
        assert 0.0 <= res.pvalue <= 1.0
        assert res.passed == (res.pvalue >= 0.05)
        json.dumps(res.to_dict())
    tl = traffic_light(hits, level)
    assert 0.0 <= tl.cumulative_probability <= 1.0
    assert 0.0 <= tl.type1_error <= 1.0


@settings(max_examples=60, deadline=None)
@given(data=st.data(), level=levels)
def test_zero_exceptions_are_green_and_pass_kupiec(data: st.DataObject, level: float) -> None:
    # "Reasonable n": at most about 1.9 expected exceptions (n <= 190 at 99%, 37 at 95%),
    # since Kupiec's test is two-sided and also rejects too few exceptions.
    n = data.draw(st.integers(min_value=5, max_value=190 if level == 0.99 else 37))
    hits = np.zeros(n, dtype=bool)
    assert traffic_light(hits, level).zone == "green"
    assert kupiec_pof(hits, level).passed


def test_zero_exceptions_in_a_basel_year_are_green_but_too_few_for_kupiec() -> None:
    # 0.99 ** 250 = 8.1%: green, but the two-sided POF rejects (LR = -500 ln 0.99 = 5.03).
    hits = np.zeros(250, dtype=bool)
    assert traffic_light(hits, 0.99).zone == "green"
    pof = kupiec_pof(hits, 0.99)
    assert pof.statistic == pytest.approx(-500 * np.log(0.99))
    assert not pof.passed


ZONE_RANK = {"green": 0, "yellow": 1, "red": 2}


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=20, max_value=1500), level=levels, data=st.data())
def test_more_exceptions_never_improve_the_zone(n: int, level: float, data: st.DataObject) -> None:
    x = data.draw(st.integers(min_value=0, max_value=n - 1))
    fewer = np.r_[np.ones(x), np.zeros(n - x)].astype(bool)
    more = np.r_[np.ones(x + 1), np.zeros(n - x - 1)].astype(bool)
    a, b = traffic_light(fewer, level), traffic_light(more, level)
    assert ZONE_RANK[b.zone] >= ZONE_RANK[a.zone]
    assert b.plus_factor >= a.plus_factor


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="boolean"):
        kupiec_pof(np.array([0, 2, 1]), 0.99)
    with pytest.raises(ValueError, match="level"):
        kupiec_pof(np.zeros(10, dtype=bool), 99)
    with pytest.raises(ValueError, match="empty"):
        traffic_light(np.array([], dtype=bool))


def test_exceedances_use_positive_losses() -> None:
    hits = exceedances([-3.0, -1.0, 2.0, -2.0], [2.0, 2.0, 2.0, 2.0])
    assert hits.tolist() == [True, False, False, False]


# --- Expected Shortfall ------------------------------------------------------------------
def test_z2_known_value() -> None:
    # Z2 = 1 - sum(L 1{L > VaR} / ES) / (T p): one exception of 3 with ES 2.5 over
    # 4 days at p = 0.25 gives 1 - (3 / 2.5) / 1 = -0.2.
    res = acerbi_szekely_z2(
        [-3.0, 1.0, 0.5, -1.0], [2.0] * 4, [2.5] * 4, 0.75, simulations=200, seed=1
    )
    assert res.statistic == pytest.approx(-0.2)
    assert res.exceptions == 1


def _t_sample(n: int, seed: int, df: float = 5.0) -> tuple[np.ndarray, float, float]:
    from scipy import stats

    rng = np.random.default_rng(seed)
    scale = np.sqrt((df - 2) / df)
    returns = stats.t.rvs(df, size=n, random_state=rng) * scale
    q = stats.t.ppf(0.025, df)
    var = -q * scale
    es = stats.t.pdf(q, df) / 0.025 * (df + q**2) / (df - 1) * scale
    return returns, var, es


def test_es_tests_accept_a_correct_es_and_reject_an_underestimated_one() -> None:
    # Given t(5) returns with their true 97.5% VaR and ES...
    returns, var, es = _t_sample(4000, seed=7)
    v, e = np.full(returns.size, var), np.full(returns.size, es)
    z2 = acerbi_szekely_z2(returns, v, e, 0.975, simulations=500, seed=3)
    mf = mcneil_frey(returns, v, e, bootstraps=500, seed=3)
    assert z2.passed
    assert mf.passed
    assert abs(z2.statistic) < 0.25
    # ...when VaR and ES are understated by 30%, both tests reject.
    z2_bad = acerbi_szekely_z2(returns, 0.7 * v, 0.7 * e, 0.975, simulations=500, seed=3)
    mf_bad = mcneil_frey(returns, 0.7 * v, 0.7 * e, bootstraps=500, seed=3)
    assert not z2_bad.passed
    assert z2_bad.statistic < 0
    assert not mf_bad.passed
    assert mf_bad.mean_residual > 0


def test_es_tests_are_seeded_and_handle_no_exceptions() -> None:
    returns, var, es = _t_sample(500, seed=2)
    v, e = np.full(returns.size, var), np.full(returns.size, es)
    a = acerbi_szekely_z2(returns, v, e, 0.975, simulations=300, seed=5)
    b = acerbi_szekely_z2(returns, v, e, 0.975, simulations=300, seed=5)
    assert a == b
    none = mcneil_frey(np.zeros(50), np.ones(50), np.full(50, 2.0))
    assert (none.exceptions, none.pvalue) == (0, 1.0)
    normal = mcneil_frey(returns, v, e, method="normal")
    assert 0.0 <= normal.pvalue <= 1.0


def test_tick_loss_is_minimised_near_the_true_quantile() -> None:
    returns, var, _ = _t_sample(20000, seed=11)
    losses = {k: tick_loss(returns, np.full(returns.size, k * var), 0.975) for k in (0.7, 1, 1.3)}
    assert losses[1] < losses[0.7]
    assert losses[1] < losses[1.3]
