"""Sequential alarms on a VaR exception sequence, with a known false-alarm rate.

Two detectors watch the daily exceptions (1 when the loss exceeded the VaR) of a live model:

:class:`BernoulliCusum`
    The Bernoulli CUSUM of Reynolds and Stoumbos (1999): with in-control exception
    probability ``p0 = 1 - level`` and an out-of-control ``p1 > p0`` to detect,
    ``B_t = max(0, B_{t-1} + X_t - gamma)`` and an alarm when ``B_t >= h``. The reference
    value ``gamma = ln((1 - p0)/(1 - p1)) / ln(p1 (1 - p0) / (p0 (1 - p1)))`` makes it the
    repeated sequential probability ratio test of ``p0`` against ``p1`` (Page, 1954), the
    optimal detector of that change (Moustakides, 1986). As Reynolds and Stoumbos do,
    ``gamma`` is rounded to ``1/m`` with ``m`` an integer (``p1`` moves slightly:
    ``p1_effective``), so that ``m B_t`` is an integer and the run length is a finite
    Markov chain: its average (ARL) is then *exact* (Brook and Evans, 1972), and the
    threshold is the smallest whose in-control ARL reaches a target
    (:func:`design_bernoulli_cusum`). After an alarm the statistic restarts at 0.
:class:`ZoneChangeDetector`
    The Basel traffic light (Basel Committee, 1996) over the last 250 exceptions; an alarm
    when the zone worsens (green to yellow, yellow to red, green to red). It has no tuning
    and no closed-form run length; ``bench/bench_live.py`` simulates it.

A correctly calibrated VaR has independent Bernoulli(``p0``) exceptions whatever the
returns' dynamics (Christoffersen, 1998: the hits of the true conditional quantile are
i.i.d.), so the in-control ARL holds under GARCH returns too; the benchmark checks it by
simulation, and measures the run length with *estimated* parameters, which is shorter.

References
----------
Reynolds, M. R. and Stoumbos, Z. G. (1999), A CUSUM chart for monitoring a proportion when
inspecting continuously, Journal of Quality Technology 31(1), 87-108.
Brook, D. and Evans, D. A. (1972), An approach to the probability distribution of cusum run
length, Biometrika 59(3), 539-549.
Page, E. S. (1954), Continuous inspection schemes, Biometrika 41(1/2), 100-115.
Moustakides, G. V. (1986), Optimal stopping times for detecting changes in distributions,
Annals of Statistics 14(4), 1379-1387.
Feller, W. (1968), An Introduction to Probability Theory and its Applications, vol. 1, 3rd
ed., section XIII.7 (waiting times for success runs; the test's closed form).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import optimize, sparse, special
from scipy.sparse import linalg as sparse_linalg

from riskops.errors import BadInputError

__all__ = [
    "BernoulliCusum",
    "CusumDesign",
    "CusumStep",
    "ZoneChangeDetector",
    "ZoneStep",
    "bernoulli_cusum_arl",
    "bernoulli_cusum_path",
    "cusum_reference",
    "design_bernoulli_cusum",
    "steady_state_arl",
    "traffic_light_bounds",
]

ZONES = ("green", "yellow", "red")
MAX_STATES = 200_000
"""Largest Markov chain solved (``m * h`` states); beyond it the design is refused."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Result:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise BadInputError(f"{name}: must be a probability in (0, 1), got {value!r}")
    return value


def cusum_reference(p0: float, p1: float) -> float:
    """Reynolds and Stoumbos' (1999) reference value ``gamma`` for ``p0`` against ``p1``.

    ``gamma = r1 / r2``, ``r1 = ln((1 - p0) / (1 - p1))``,
    ``r2 = ln(p1 (1 - p0) / (p0 (1 - p1)))``: the log-likelihood ratio of a day is
    ``r2 (X - gamma)``, so the CUSUM of ``X - gamma`` is Page's CUSUM in units of ``r2``.
    It lies between ``p0`` and ``p1``.
    """
    p0, p1 = _probability("p0", p0), _probability("p1", p1)
    if not p1 > p0:
        raise BadInputError(f"p1: must exceed p0 (an increase to detect), got p0={p0}, p1={p1}")
    r1 = math.log((1.0 - p0) / (1.0 - p1))
    r2 = math.log(p1 * (1.0 - p0) / (p0 * (1.0 - p1)))
    return r1 / r2


def _transition(p: float, m: int, threshold: int) -> sparse.csr_matrix:
    """Sub-stochastic transition matrix among the non-alarm states ``0 .. threshold - 1``
    of ``S_t = max(0, S_{t-1} + m X_t - 1)``, ``X_t ~ Bernoulli(p)``."""
    states = np.arange(threshold)
    up = states + m - 1
    down = np.maximum(states - 1, 0)
    keep_up = up < threshold
    rows = np.concatenate([states[keep_up], states])
    cols = np.concatenate([up[keep_up], down])
    data = np.concatenate([np.full(int(keep_up.sum()), p), np.full(threshold, 1.0 - p)])
    return sparse.csr_matrix((data, (rows, cols)), shape=(threshold, threshold))


def _check_chain(m: int, threshold: int) -> tuple[int, int]:
    m, threshold = int(m), int(threshold)
    if m < 2:
        raise BadInputError(f"m: the reference 1/m needs m >= 2, got {m}")
    if threshold < 1:
        raise BadInputError(f"threshold: must be at least 1, got {threshold}")
    if threshold > MAX_STATES:
        raise BadInputError(f"threshold: {threshold} states exceed {MAX_STATES}")
    return m, threshold


def _arl_vector(p: float, m: int, threshold: int) -> np.ndarray:
    """ARL from every non-alarm state: ``(I - Q) L = 1`` (Brook and Evans, 1972)."""
    Q = _transition(p, m, threshold)
    system = sparse.identity(threshold, format="csc") - Q.tocsc()
    return np.asarray(sparse_linalg.spsolve(system, np.ones(threshold)), dtype=float)


def bernoulli_cusum_arl(p: float, m: int, threshold: int, start: int = 0) -> float:
    """Exact average run length of the scaled Bernoulli CUSUM.

    ``S_t = max(0, S_{t-1} + m X_t - 1)`` (``m`` times Reynolds and Stoumbos' ``B_t`` with
    ``gamma = 1/m``) alarms when ``S_t >= threshold``; with ``X_t`` i.i.d. Bernoulli(``p``)
    the statistic is a Markov chain on ``0 .. threshold - 1`` and the expected number of
    days to the first alarm from ``start`` solves ``(I - Q) L = 1``.

    Parameters
    ----------
    p
        Exception probability per day.
    m, threshold
        The design (``gamma = 1/m``, ``h = threshold / m``).
    start
        Initial value of ``S`` (0: zero-state ARL).
    """
    p = _probability("p", p)
    m, threshold = _check_chain(m, threshold)
    if not 0 <= int(start) < threshold:
        raise BadInputError(f"start: must be in [0, {threshold}), got {start}")
    return float(_arl_vector(p, m, threshold)[int(start)])


def steady_state_arl(p_in: float, p_out: float, m: int, threshold: int) -> float:
    """ARL after a change that happens once the chart has run in control for a long time.

    The statistic then has the in-control chain's quasi-stationary distribution (its
    distribution given no alarm yet, as time grows: the left Perron vector of ``Q``); the
    ARL at ``p_out`` is averaged over it. This is the detection delay of a model that was
    right at promotion and drifts later, the "steady-state" ARL of the SPC literature.
    """
    p_in, p_out = _probability("p_in", p_in), _probability("p_out", p_out)
    m, threshold = _check_chain(m, threshold)
    Q = _transition(p_in, m, threshold).T.tocsr()
    pi = np.full(threshold, 1.0 / threshold)
    # Power iteration: the gap between Q's two largest eigenvalues is that of a chain
    # which forgets its start in a few hundred days, so a few thousand steps converge.
    for _ in range(20_000):
        nxt = Q @ pi
        nxt /= nxt.sum()
        if np.max(np.abs(nxt - pi)) < 1e-15:
            pi = nxt
            break
        pi = nxt
    return float(pi @ _arl_vector(p_out, m, threshold))


@dataclass(frozen=True)
class CusumDesign(_Result):
    """A Bernoulli CUSUM for exceptions of a VaR at ``level``, with its exact run lengths.

    ``m`` and ``threshold`` define the detector (``gamma = 1/m``, alarm when ``m B_t >=
    threshold``, i.e. ``B_t >= h = threshold / m``). ``arl0``: exact zero-state average
    days to a false alarm at ``p0``; ``arl1``: zero-state average days to the alarm at
    ``p1``; ``steady_state_arl1``: the same for a change after a long in-control run.
    """

    level: float
    p0: float
    p1: float
    p1_effective: float
    m: int
    threshold: int
    h: float
    target_arl0: float
    arl0: float
    arl1: float
    steady_state_arl1: float
    reference: str = "Reynolds and Stoumbos (1999); exact ARL by Brook and Evans (1972)"


def design_bernoulli_cusum(
    level: float = 0.99, p1: float | None = None, target_arl0: float = 1000.0
) -> CusumDesign:
    """The Bernoulli CUSUM whose exact in-control ARL is the smallest at or above a target.

    Parameters
    ----------
    level
        VaR confidence level watched: ``p0 = 1 - level``.
    p1
        Exception probability to detect; default ``2 p0`` (a 99% VaR that covers 98%).
    target_arl0
        Average days to a false alarm for a correctly calibrated model (e.g. 1000, about
        four trading years).

    Returns
    -------
    CusumDesign
    """
    p0 = _probability("level", 1.0 - float(level))
    p1 = 2.0 * p0 if p1 is None else _probability("p1", p1)
    if not target_arl0 > 1:
        raise BadInputError(f"target_arl0: must exceed 1 day, got {target_arl0!r}")
    m = max(2, round(1.0 / cusum_reference(p0, p1)))
    # The p1 whose reference is exactly 1/m (gamma increases with p1).
    p1_eff = float(
        optimize.brentq(lambda q: cusum_reference(p0, q) - 1.0 / m, p0 * (1 + 1e-9), 1 - 1e-12)
    )

    def arl0(threshold: int) -> float:
        return float(_arl_vector(p0, m, threshold)[0])

    # ARL0 grows with the threshold: double, then bisect for the smallest that reaches it.
    high = m
    while arl0(high) < target_arl0:
        high *= 2
        if high > MAX_STATES:
            raise BadInputError(f"target_arl0: {target_arl0} needs more than {MAX_STATES} states")
    low = high // 2 if high > m else 1
    while low < high:
        mid = (low + high) // 2
        if arl0(mid) >= target_arl0:
            high = mid
        else:
            low = mid + 1
    threshold = high
    return CusumDesign(
        level=float(level),
        p0=p0,
        p1=p1,
        p1_effective=p1_eff,
        m=int(m),
        threshold=int(threshold),
        h=threshold / m,
        target_arl0=float(target_arl0),
        arl0=arl0(threshold),
        arl1=float(_arl_vector(p1, m, threshold)[0]),
        steady_state_arl1=steady_state_arl(p0, p1, m, threshold),
    )


@dataclass(frozen=True)
class CusumStep(_Result):
    """One day of the CUSUM: the scaled statistic the day reached, whether it alarmed (the
    statistic then restarts at 0), days seen and alarms so far."""

    statistic: int
    alarm: bool
    n: int
    alarms: int


class BernoulliCusum:
    """The Bernoulli CUSUM as a live detector (see the module docstring).

    Parameters
    ----------
    design
        From :func:`design_bernoulli_cusum`.
    statistic, n, alarms
        A resumed state (see :meth:`to_dict`).
    """

    def __init__(self, design: CusumDesign, statistic: int = 0, n: int = 0, alarms: int = 0):
        self.design = design
        self._m = int(design.m)
        self._threshold = int(design.threshold)
        if not 0 <= int(statistic) < self._threshold:
            raise BadInputError(f"statistic: must be in [0, {self._threshold}), got {statistic}")
        self.statistic = int(statistic)
        self.n = int(n)
        self.alarms = int(alarms)

    def update(self, hit: bool | int) -> CusumStep:
        """Absorb one day's exception indicator; alarm (and restart at 0) at the threshold."""
        if hit not in (0, 1, True, False):
            raise BadInputError(f"hit: must be 0/1 or a boolean, got {hit!r}")
        value = max(0, self.statistic + self._m * int(hit) - 1)
        self.n += 1
        alarm = value >= self._threshold
        self.alarms += int(alarm)
        self.statistic = 0 if alarm else value
        # The step reports the value reached (at or above the threshold on an alarm day).
        return CusumStep(statistic=value, alarm=alarm, n=self.n, alarms=self.alarms)

    @property
    def b(self) -> float:
        """Reynolds and Stoumbos' statistic ``B_t = statistic / m``."""
        return self.statistic / self._m

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the design and the running state."""
        return {
            "design": self.design.to_dict(),
            "statistic": self.statistic,
            "n": self.n,
            "alarms": self.alarms,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BernoulliCusum:
        try:
            design = CusumDesign(**dict(data["design"]))
            return cls(design, int(data["statistic"]), int(data["n"]), int(data["alarms"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"cusum checkpoint: malformed ({exc})") from None


def bernoulli_cusum_path(hits: Any, design: CusumDesign) -> tuple[np.ndarray, np.ndarray]:
    """The scaled statistic each day reached and the alarm days (restarting after each),
    for a whole exception sequence: what :class:`BernoulliCusum` gives day by day."""
    detector = BernoulliCusum(design)
    h = np.asarray(hits)
    if h.ndim != 1:
        raise BadInputError("hits: must be one-dimensional")
    steps = [detector.update(bool(x)) for x in h.tolist()]
    path = np.array([s.statistic for s in steps], dtype=int)
    alarms = np.array([i for i, s in enumerate(steps) if s.alarm], dtype=int)
    return path, alarms


# -- the traffic light as a detector ---------------------------------------------------


def traffic_light_bounds(
    n: int, level: float, green_below: float = 0.95, red_from: float = 0.9999
) -> tuple[int, int]:
    """Exception counts where the yellow and the red zones start for ``n`` days at ``level``.

    The same rule as :func:`riskops.backtests.traffic_light`: yellow from the smallest
    count ``x >= 1`` with ``P(X <= x) >= 0.95`` under Binomial(``n``, ``1 - level``), red
    from the smallest with ``P(X <= x) >= 0.9999`` (250 days at 99%: 5 and 10).
    """
    n = int(n)
    if n < 1:
        raise BadInputError(f"n: must be at least 1 day, got {n}")
    p = 1.0 - float(level)
    counts = np.arange(n + 1)
    cumulative = special.bdtr(counts, n, p)
    yellow = int(np.argmax((cumulative >= green_below) & (counts >= 1)))
    red_candidates = (cumulative >= red_from) & (counts >= 1)
    red = int(np.argmax(red_candidates)) if red_candidates.any() else n + 1
    if not ((cumulative >= green_below) & (counts >= 1)).any():
        yellow = n + 1
    return yellow, max(red, yellow)


@dataclass(frozen=True)
class ZoneStep(_Result):
    """One day of the zone rule: the zone over the window (``None`` until it is full),
    the zone before the day, and whether the day made it worse (the alarm)."""

    zone: str | None
    previous: str | None
    alarm: bool
    exceptions: int
    n: int


class ZoneChangeDetector:
    """The Basel traffic light over the last ``days`` exceptions, alarming when it worsens.

    Parameters
    ----------
    level
        VaR level of the exceptions.
    days
        Window (250, the Basel Committee's).
    hits
        Exceptions before the live ones, oldest first (e.g. the last 250 days of the
        promotion backtest), so that the window is full from the first live day; without
        them the zone is not evaluated (``None``) until ``days`` live days have passed,
        because the traffic light of a few days is meaningless (one exception in ten days
        is already "yellow").
    """

    def __init__(self, level: float = 0.99, days: int = 250, hits: Sequence[Any] = ()) -> None:
        self.level = float(level)
        self.days = int(days)
        if self.days < 1:
            raise BadInputError(f"days: must be at least 1, got {days}")
        self._yellow, self._red = traffic_light_bounds(self.days, self.level)
        self.window: deque[int] = deque(maxlen=self.days)
        for h in hits:
            self.window.append(int(bool(h)))
        self.exceptions = int(sum(self.window))
        self.zone = self._zone()
        self.n = 0
        self.alarms = 0

    def _zone(self) -> str | None:
        if len(self.window) < self.days:
            return None
        if self.exceptions >= self._red:
            return "red"
        if self.exceptions >= self._yellow:
            return "yellow"
        return "green"

    def update(self, hit: bool | int) -> ZoneStep:
        """Absorb one day's exception indicator."""
        if hit not in (0, 1, True, False):
            raise BadInputError(f"hit: must be 0/1 or a boolean, got {hit!r}")
        if len(self.window) == self.days:
            self.exceptions -= self.window[0]
        self.window.append(int(bool(hit)))
        self.exceptions += int(bool(hit))
        previous = self.zone
        self.zone = self._zone()
        self.n += 1
        rank = {None: -1, "green": 0, "yellow": 1, "red": 2}
        baseline = 0 if previous is None else rank[previous]
        alarm = self.zone is not None and rank[self.zone] > baseline
        self.alarms += int(alarm)
        return ZoneStep(
            zone=self.zone,
            previous=previous,
            alarm=alarm,
            exceptions=self.exceptions,
            n=len(self.window),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "days": self.days,
            "window": list(self.window),
            "zone": self.zone,
            "n": self.n,
            "alarms": self.alarms,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ZoneChangeDetector:
        try:
            detector = cls(float(data["level"]), int(data["days"]), list(data["window"]))
            detector.zone = data["zone"]
            detector.n = int(data["n"])
            detector.alarms = int(data["alarms"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"zone checkpoint: malformed ({exc})") from None
        if detector.zone not in (None, *ZONES):
            raise BadInputError(f"zone checkpoint: unknown zone {detector.zone!r}")
        return detector
