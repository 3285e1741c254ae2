"""Sequential alarms: exact run lengths against closed forms and simulation, the zone rule."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops import backtests as bt
from riskops.errors import BadInputError
from riskops.stats.sequential import (
    BernoulliCusum,
    ZoneChangeDetector,
    bernoulli_cusum_arl,
    bernoulli_cusum_path,
    cusum_reference,
    design_bernoulli_cusum,
    steady_state_arl,
    traffic_light_bounds,
)


@pytest.mark.parametrize("p", [0.01, 0.05, 0.3, 0.7])
def test_run_of_two_is_fellers_waiting_time(p) -> None:
    # With m = 2 and threshold 2 the CUSUM moves +1 on an exception and -1 (floored at 0)
    # otherwise, so it alarms at the first two exceptions in a row. Feller (1968, XIII.7,
    # eq. 7.7): the mean waiting time for a run of r successes is (1 - p^r) / (q p^r);
    # for r = 2, (1 + p) / p^2.
    assert bernoulli_cusum_arl(p, 2, 2) == pytest.approx((1 + p) / p**2, rel=1e-12)


@pytest.mark.parametrize(("m", "threshold"), [(5, 1), (5, 4), (69, 68)])
def test_one_exception_alarms_when_the_threshold_is_below_m(m, threshold) -> None:
    # Below m the first exception alarms: the run length is geometric, mean 1 / p
    assert bernoulli_cusum_arl(0.01, m, threshold) == pytest.approx(100.0, rel=1e-12)


def test_arl_against_simulation() -> None:
    # Given a design for a 95% VaR with an in-control ARL near 200 days
    design = design_bernoulli_cusum(0.95, target_arl0=200)
    rng = np.random.default_rng(2024)
    for p, exact in ((design.p0, design.arl0), (design.p1, design.arl1)):
        # When 4,000 run lengths are simulated with i.i.d. exceptions at p
        runs = _simulate_run_lengths(rng, p, design.m, design.threshold, reps=4000)
        # Then their mean is the Markov chain's ARL within four standard errors
        error = runs.std(ddof=1) / math.sqrt(runs.size)
        assert abs(runs.mean() - exact) < 4 * error, (p, runs.mean(), exact, error)


def _simulate_run_lengths(
    rng: np.random.Generator, p: float, m: int, threshold: int, reps: int
) -> np.ndarray:
    statistic = np.zeros(reps, dtype=np.int64)
    length = np.zeros(reps, dtype=np.int64)
    running = np.ones(reps, dtype=bool)
    day = 0
    while running.any():
        day += 1
        hits = rng.random(reps) < p
        statistic = np.where(running, np.maximum(statistic + m * hits - 1, 0), statistic)
        stopped = running & (statistic >= threshold)
        length[stopped] = day
        running &= ~stopped
    return length.astype(float)


def test_steady_state_arl_is_geometric_under_no_change() -> None:
    # Started from its quasi-stationary distribution, the in-control chain alarms each day
    # with the same probability 1 - lambda (lambda: the largest eigenvalue of Q), so the
    # steady-state ARL without a change is exactly 1 / (1 - lambda).
    m, threshold, p = 10, 25, 0.04
    states = np.arange(threshold)
    Q = np.zeros((threshold, threshold))
    for s in states:
        if s + m - 1 < threshold:
            Q[s, s + m - 1] += p
        Q[s, max(s - 1, 0)] += 1 - p
    lam = float(np.max(np.linalg.eigvals(Q).real))
    assert steady_state_arl(p, p, m, threshold) == pytest.approx(1 / (1 - lam), rel=1e-9)


def test_design_reaches_the_target_with_the_smallest_threshold() -> None:
    design = design_bernoulli_cusum(0.99, target_arl0=1000)
    assert design.arl0 >= 1000
    assert bernoulli_cusum_arl(design.p0, design.m, design.threshold - 1) < 1000
    # Reynolds and Stoumbos' reference value, rounded to 1/m
    assert design.m == round(1 / cusum_reference(0.01, 0.02))
    assert cusum_reference(0.01, design.p1_effective) == pytest.approx(1 / design.m, rel=1e-9)
    # a correct model waits years for a false alarm, a 98% one months for the true one
    assert design.arl1 < design.arl0 / 3
    json.dumps(design.to_dict(), allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(hits=st.lists(st.booleans(), min_size=1, max_size=400), m=st.integers(2, 30))
def test_detector_is_reynolds_stoumbos_statistic(hits, m) -> None:
    # B_t = max(0, B_{t-1} + X_t - 1/m), alarm at B_t >= h, restart at 0 after it, computed
    # in exact rational arithmetic, gives the same alarms as the scaled integer detector.
    from fractions import Fraction

    design = design_bernoulli_cusum(0.95, target_arl0=50)
    design = type(design)(**(design.to_dict() | {"m": m, "threshold": 3 * m, "h": 3.0}))
    b, alarms, reached = Fraction(0), [], []
    for day, hit in enumerate(hits):
        b = max(Fraction(0), b + int(hit) - Fraction(1, m))
        reached.append(b * m)
        if b >= 3:
            alarms.append(day)
            b = Fraction(0)
    path, found = bernoulli_cusum_path(np.array(hits), design)
    assert found.tolist() == alarms
    assert path.tolist() == reached


def test_detector_checkpoint_round_trip() -> None:
    design = design_bernoulli_cusum(0.99, target_arl0=500)
    hits = np.random.default_rng(5).random(3000) < 0.02
    straight, stopped = BernoulliCusum(design), BernoulliCusum(design)
    for h in hits[:1000]:
        straight.update(h)
        stopped.update(h)
    resumed = BernoulliCusum.from_dict(json.loads(json.dumps(stopped.to_dict())))
    assert all(straight.update(h) == resumed.update(h) for h in hits[1000:])
    assert resumed.alarms == straight.alarms > 0
    with pytest.raises(BadInputError):
        straight.update(2)


def test_traffic_light_bounds_are_basel_table_2() -> None:
    # Basel Committee (1996), Table 2: 250 days at 99%, green 0-4, yellow 5-9, red 10+
    assert traffic_light_bounds(250, 0.99) == (5, 10)


@pytest.mark.parametrize("n", [20, 100, 250, 1000])
@pytest.mark.parametrize("level", [0.95, 0.975, 0.99])
def test_traffic_light_bounds_agree_with_the_backtest(n, level) -> None:
    yellow, red = traffic_light_bounds(n, level)
    for x in range(min(n, 60) + 1):
        hits = np.zeros(n, dtype=bool)
        hits[:x] = True
        expected = "red" if x >= red else "yellow" if x >= yellow else "green"
        assert bt.traffic_light(hits, level).zone == expected, x


def test_zone_detector_alarms_when_the_zone_worsens() -> None:
    # Given the promotion backtest's last 250 days with four 99% exceptions (green)
    backtest = np.zeros(250, dtype=bool)
    backtest[[10, 60, 120, 200]] = True
    detector = ZoneChangeDetector(0.99, hits=backtest)
    assert detector.zone == "green"
    # When a fifth exception comes: yellow, an alarm
    step = detector.update(True)
    assert (step.zone, step.previous, step.alarm, step.exceptions) == ("yellow", "green", True, 5)
    # More exceptions within yellow raise nothing new; the tenth is red, an alarm again
    steps = [detector.update(True) for _ in range(5)]
    assert [s.alarm for s in steps] == [False, False, False, False, True]
    assert steps[-1].zone == "red"
    # Quiet days that drop old exceptions out of the window bring it back without alarm
    later = [detector.update(False) for _ in range(250)]
    assert later[-1].zone == "green" and not any(s.alarm for s in later)
    resumed = ZoneChangeDetector.from_dict(json.loads(json.dumps(detector.to_dict())))
    assert resumed.update(True) == detector.update(True)


def test_zone_detector_waits_for_a_full_window() -> None:
    detector = ZoneChangeDetector(0.99)
    steps = [detector.update(i == 0) for i in range(250)]
    assert all(s.zone is None for s in steps[:-1]) and not any(s.alarm for s in steps[:-1])
    assert steps[-1].zone == "green"
