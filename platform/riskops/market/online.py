"""Online state of the market champions: one new observation in, the next forecast out.

A served champion is a fitted estimator: its parameters are fixed until the next promotion.
What changes from day to day is the *state* those parameters act on -- a GARCH model's last
residual and variance, a historical-simulation window, the last few weeks of returns a
LightGBM or HAR model reads its features from. :func:`online_state` builds that state from
a fitted estimator, and :meth:`OnlineState.update` advances it by one observation at a cost
that does not grow with the history: no refit and no re-filtering of the whole series.

============================  ==============================================================
Estimator                     State advanced by one return
============================  ==============================================================
``GarchVolatility``           arch's variance recursion with the fitted parameters: GARCH,
                              GJR-GARCH and EGARCH, any orders, any innovation distribution,
                              arch's rescaling
``GarchTVaR``                 the same recursion (its built-in estimator's or its
                              ``volatility``'s); VaR and ES from the fitted t quantiles
``FilteredHistoricalVaR``     the recursion, and the standardised residuals: each new
                              return's residual joins the scenario set (its last
                              ``window`` residuals when the model has a window)
``HistoricalVaR``             the last ``window`` returns, kept sorted
``QuantileVaR``               the last 60 returns (the window its features are computed
                              on); the fitted LightGBM quantile models predict
``HARVolatility``             the last month of returns; the fitted regressor predicts
``LSTMVolatility`` and        the last ``lookback`` days of network inputs; the fitted
``TransformerVolatility``     network predicts
anomaly detectors             :class:`riskops.anomaly.online.AnomalyState`, an
                              :class:`OnlineState` of the anomaly family's own, built by its
                              ``online`` hook: the last quarter of bars; the features of the
                              new day; the fitted detector scores them
any other model               :class:`HistoryState`: the whole history, re-forecast by the
                              model's own batch method at each observation (exact but
                              linear in the history: the fallback, named as such)
============================  ==============================================================

Every state gives the forecast the estimator's batch method gives on the same history
(``_forecast_values``/``forecast``, ``forecast_variance``), to rounding: the tests check it
on the bundled S&P 500, and the GARCH recursions against arch's own fixed-parameter filter
to 1e-10. One deliberate extension: filtered historical simulation *rolls its residual
set forward* (each live day's standardised residual, computed with the fixed parameters,
joins the scenarios), where the batch forecast keeps the training residuals; a refit
would add them too, so the live scenario set is the one a refit on the same days would
draw from.

Two conventions of arch's that the recursion keeps: the variance before the first return
is the *backcast*, the exponentially weighted (0.94) mean of the first 75 squared
residuals around the fitted mean (what ``arch_model(...).forecast(params)`` and the
platform's ``forecast_variance`` use), so a state needs at least 75 returns of history and
its backcast never changes afterwards; and arch's loose variance bounds (1e-6 and 1e6
times an EWMA of the whole sample, a guard for the optimiser) are not applied, because they
depend on the whole sample and never bind on a fitted model's path.

A state is checkpointed as plain JSON (:meth:`OnlineState.to_dict`: floats, lists and
strings, no pickle) and restored with the same estimator (:meth:`OnlineState.from_dict`);
a fingerprint of the fitted parameters refuses a checkpoint made for another model.
``seq`` counts the observations absorbed since the state was built (from the training
returns, ``seq == 0``); an update may carry the sequence number and the timestamp the
caller gave it, and a duplicate, an out-of-order or a missing observation is refused with
:class:`ObservationRejected` (``reason``: ``duplicate``, ``out_of_order``, ``gap`` or
``invalid``) before anything changes.

Observations are daily percent returns (``100 * pct_change``, the platform's
convention), as a number or a mapping with a ``ret`` key.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd

from riskops.errors import BadInputError

__all__ = [
    "BACKCAST_DAYS",
    "CHECKPOINT_SCHEMA",
    "LEVELS",
    "FilteredHistoricalState",
    "Forecast",
    "GarchTVaRState",
    "GarchVolatilityState",
    "HARState",
    "HistoricalState",
    "HistoryState",
    "ObservationRejected",
    "OnlineState",
    "QuantileVaRState",
    "SequenceState",
    "batch_forecasts",
    "linear_quantile",
    "online_state",
    "restore_state",
]

CHECKPOINT_SCHEMA = 1
"""Version of the checkpoint layout written by :meth:`OnlineState.to_dict`."""
LEVELS = (0.95, 0.99)
"""VaR/ES levels a state forecasts unless told otherwise (the VaR family's)."""
BACKCAST_DAYS = 75
"""arch's backcast window: a GARCH-type state needs at least this many returns."""
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LNSIGMA_MAX = math.log(sys.float_info.max)
"""arch's cap on an EGARCH log variance (its compiled recursion's)."""
QUANTILE_WINDOW = 60
"""Returns :class:`~riskops.market.var.QuantileVaR` computes its forecast features on."""
EWMA_ALPHA = 0.06
"""RiskMetrics' EWMA weight (lambda 0.94) of the quantile model's ``ewma_vol`` feature."""


class ObservationRejected(BadInputError):
    """An observation the state refused, unchanged. ``reason`` says why (a counted outcome).

    ``invalid``: not a finite percent return (or a bad timestamp); ``duplicate``: its
    sequence number or timestamp was already absorbed; ``out_of_order``: its timestamp is
    before the last one absorbed; ``gap``: its sequence number skips one.
    """

    REASONS: ClassVar[tuple[str, ...]] = ("invalid", "duplicate", "out_of_order", "gap")

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"reason": self.reason}


class Forecast(NamedTuple):
    """What a state issues after absorbing observation ``seq`` (immutable).

    ``horizon`` 1: a forecast of observation ``seq + 1`` (VaR/ES per level, positive losses in
    percent; the return's mean and variance, percent and percent², where the model has
    them). ``horizon`` 0: a score of observation ``seq`` itself (anomaly detectors:
    ``score``, its ``percentile`` among the training scores and the ``alert`` flag, with
    the ``features`` it was computed from). Fields a model does not produce are ``None``
    or empty; ``note`` says why a value is missing (e.g. the features' warm-up). A named
    tuple rather than a frozen dataclass: one is issued per observation, and a tuple is
    built several times faster.
    """

    kind: str
    seq: int
    timestamp: str | None
    horizon: int = 1
    levels: tuple[float, ...] = ()
    var: tuple[float, ...] = ()
    es: tuple[float, ...] = ()
    mean: float | None = None
    variance: float | None = None
    score: float | None = None
    percentile: float | None = None
    alert: bool | None = None
    features: tuple[tuple[str, float], ...] | None = None
    note: str | None = None

    def var_at(self, level: float) -> float:
        """The VaR at ``level`` (one of ``levels``)."""
        return self.var[self._position(level)]

    def es_at(self, level: float) -> float:
        """The ES at ``level`` (one of ``levels``)."""
        return self.es[self._position(level)]

    def _position(self, level: float) -> int:
        for i, lv in enumerate(self.levels):
            if abs(lv - float(level)) < 1e-12:
                return i
        raise BadInputError(f"level: {level} is not among the forecast's levels {self.levels}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: VaR and ES keyed by level tag (``"99"``, ``"97.5"``)."""
        from riskops.market.rolling import level_tag

        out: dict[str, Any] = {
            name: _plain(value) for name, value in zip(self._fields, self, strict=True)
        }
        out["levels"] = list(self.levels)
        for name, values in (("var", self.var), ("es", self.es)):
            out[name] = {
                level_tag(lv): _plain(v) for lv, v in zip(self.levels, values, strict=True)
            }
        features = self.features
        out["features"] = None if features is None else {k: _plain(v) for k, v in features}
        return out


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is float:  # the common cases first: one is called per field per observation
        return value if math.isfinite(value) else None
    if value is None or kind is str or kind is int or kind is bool or kind is tuple:
        return value
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _floats_out(values: Any) -> list[float | None]:
    """A float sequence as JSON (non-finite values, e.g. missing inputs, become ``None``)."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float).ravel()]


def _floats_in(values: Any, name: str) -> np.ndarray:
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        raise BadInputError(f"checkpoint: {name} must be a list of numbers") from None


def _digest(static: Mapping[str, Any]) -> str:
    text = json.dumps(static, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _array_digest(values: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype=float).tobytes()).hexdigest()


def _timestamp(value: Any) -> pd.Timestamp:
    try:
        when = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ObservationRejected("invalid", f"timestamp: not a date or time: {value!r}") from None
    if pd.isna(when):
        raise ObservationRejected("invalid", f"timestamp: missing: {value!r}")
    return when


def _return_value(observation: Any) -> float:
    if isinstance(observation, Mapping):
        if "ret" not in observation:
            raise ObservationRejected(
                "invalid", "observation: a mapping needs the key 'ret' (percent return)"
            )
        observation = observation["ret"]
    if isinstance(observation, bool | str | bytes):
        raise ObservationRejected(
            "invalid", f"ret: must be a number (percent return), got {observation!r}"
        )
    try:
        r = float(observation)
    except (TypeError, ValueError):
        raise ObservationRejected(
            "invalid", f"ret: must be a number (percent return), got {observation!r}"
        ) from None
    # Written so that NaN fails too: a percent return is finite and above -100.
    if not -100.0 < r <= 1000.0:
        raise ObservationRejected(
            "invalid", f"ret: must be a finite percent return in (-100, 1000], got {r!r}"
        )
    return r


def _levels(levels: Sequence[float] | float) -> tuple[float, ...]:
    from riskops.market.var import _levels as checked

    return checked(levels)


def _training_returns(estimator: Any, history: Any) -> np.ndarray:
    from riskops.market.volatility import as_returns

    if history is None:
        returns = getattr(estimator, "returns_", None)
        if returns is None:
            raise BadInputError(
                f"history: {type(estimator).__name__} keeps no training returns (fitted "
                "outside fit()?); pass the history to condition on"
            )
        return np.asarray(returns, dtype=float)
    return as_returns(history, name="history").to_numpy(dtype=float)


# -- the state machine ------------------------------------------------------------------


class OnlineState(ABC):
    """A fitted estimator's live state: ``update`` one observation, ``forecast``, checkpoint.

    Build one with :func:`online_state`; restore one with :meth:`from_dict`. Subclasses
    implement ``_setup`` (the fixed parts, from the estimator: parameters, precomputed
    quantiles), ``_start`` (the state after a history), ``_advance`` (one value in),
    ``_forecast``, and ``_dump``/``_load`` (the changing parts as plain JSON).
    """

    kind: ClassVar[str]
    horizon: ClassVar[int] = 1

    estimator: Any
    levels: tuple[float, ...]
    seq: int
    last_timestamp: pd.Timestamp | None
    fingerprint: str
    _current: Forecast
    _stamped: tuple[pd.Timestamp, str] | None = None

    def __init__(self, estimator: Any, *, levels: Sequence[float] = LEVELS, history: Any = None):
        self._prepare(estimator, levels)
        self._start(history)
        self._current = self._forecast()

    def _prepare(self, estimator: Any, levels: Sequence[float]) -> None:
        self.estimator = estimator
        self.levels = self._accepted_levels(levels)
        self.seq = 0
        self.last_timestamp = None
        static = self._setup(estimator)
        self.fingerprint = _digest(
            {"kind": self.kind, "levels": list(self.levels), "model": static}
        )

    def _accepted_levels(self, levels: Sequence[float]) -> tuple[float, ...]:
        return _levels(levels)

    # -- public ----------------------------------------------------------------------

    def update(
        self, observation: Any, *, timestamp: Any = None, seq: int | None = None
    ) -> Forecast:
        """Absorb one observation and return the forecast issued after it.

        Parameters
        ----------
        observation
            A percent return (or a mapping with ``ret``); an anomaly state takes a bar.
        timestamp
            When the observation was made; refused if not after the last one absorbed.
        seq
            The caller's sequence number for this series; must be ``self.seq + 1``.

        Raises
        ------
        ObservationRejected
            Before anything changes, with its ``reason``.
        """
        when = self._admit(timestamp, seq)
        value = self._read(observation)
        self._advance(value)
        self.seq += 1
        if when is not None:
            self.last_timestamp = when
        self._current = self._forecast()
        return self._current

    def forecast(self) -> Forecast:
        """The forecast issued after the last observation (or after the history)."""
        return self._current

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint: plain JSON, restored by :meth:`from_dict` with the same estimator."""
        return {
            "schema": CHECKPOINT_SCHEMA,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "levels": list(self.levels),
            "seq": self.seq,
            "timestamp": self._stamp(),
            "state": self._dump(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], estimator: Any) -> OnlineState:
        """Restore a checkpoint of ``estimator``'s state as this class (called on
        :class:`OnlineState` itself: as the built-in state class of the estimator; see
        :func:`restore_state`)."""
        if cls is OnlineState:
            return restore_state(estimator, data)
        return _restore_as(cls, estimator, data)

    # -- internals -------------------------------------------------------------------

    def _admit(self, timestamp: Any, seq: int | None) -> pd.Timestamp | None:
        if seq is not None:
            if isinstance(seq, bool) or not isinstance(seq, int | np.integer):
                raise ObservationRejected("invalid", f"seq: must be an integer, got {seq!r}")
            if seq <= self.seq:
                raise ObservationRejected(
                    "duplicate", f"seq: {seq} was already absorbed (state is at {self.seq})"
                )
            if seq > self.seq + 1:
                raise ObservationRejected(
                    "gap", f"seq: {seq} skips {seq - self.seq - 1} observation(s) after {self.seq}"
                )
        if timestamp is None:
            return None
        when = _timestamp(timestamp)
        last = self.last_timestamp
        if last is not None:
            try:
                later = when > last
                same = when == last
            except TypeError:
                raise ObservationRejected(
                    "invalid",
                    f"timestamp: {timestamp!r} cannot be compared with {last} (time zone)",
                ) from None
            if same:
                raise ObservationRejected("duplicate", f"timestamp: {when} was already absorbed")
            if not later:
                raise ObservationRejected(
                    "out_of_order", f"timestamp: {when} is before the last observation, {last}"
                )
        return when

    def _read(self, observation: Any) -> Any:
        return _return_value(observation)

    def _stamp(self) -> str | None:
        when = self.last_timestamp
        if when is None:
            return None
        # The same timestamp is written out by the forecast and by the checkpoint of every
        # observation, and a Timestamp's isoformat is slow: once per timestamp.
        cached = self._stamped
        if cached is not None and cached[0] is when:
            return cached[1]
        text = when.isoformat()
        self._stamped = (when, text)
        return text

    @abstractmethod
    def _setup(self, estimator: Any) -> dict[str, Any]:
        """Fixed parts from the estimator; returns what identifies the fitted model."""

    @abstractmethod
    def _start(self, history: Any) -> None:
        """The state after ``history`` (``None``: the training returns)."""

    @abstractmethod
    def _advance(self, value: Any) -> None:
        """Absorb one validated observation."""

    @abstractmethod
    def _forecast(self) -> Forecast:
        """The forecast of the current state."""

    @abstractmethod
    def _dump(self) -> dict[str, Any]:
        """The changing parts, plain JSON."""

    @abstractmethod
    def _load(self, data: Mapping[str, Any]) -> None:
        """Set the changing parts from ``_dump``'s output."""


# -- GARCH-type recursions ----------------------------------------------------------------


class _GarchRecursion:
    """arch's GARCH(p, o, q) variance recursion (power 2) with fixed parameters.

    ``sigma2_t = omega + sum_j alpha_j e_{t-j}^2 + sum_j gamma_j e_{t-j}^2 1{e_{t-j} < 0}
    + sum_j beta_j sigma2_{t-j}`` with ``e_t = r_t - mu``; before the first return the
    squared residual and the variance are the backcast and the asymmetric term half of it,
    as in arch's ``garch_recursion``, whose order of operations this follows.
    """

    __slots__ = ("alpha", "asym", "backcast", "beta", "gamma", "mu", "next", "omega", "s2", "sq")

    def __init__(
        self,
        mu: float,
        omega: float,
        alpha: Sequence[float],
        gamma: Sequence[float],
        beta: Sequence[float],
    ) -> None:
        self.mu = float(mu)
        self.omega = float(omega)
        self.alpha = tuple(float(a) for a in alpha)
        self.gamma = tuple(float(g) for g in gamma)
        self.beta = tuple(float(b) for b in beta)
        self.backcast = math.nan
        self.sq: list[float] = []
        self.asym: list[float] = []
        self.s2: list[float] = []
        self.next = math.nan

    def static(self) -> dict[str, Any]:
        return {
            "vol": "GARCH",
            "mu": self.mu,
            "omega": self.omega,
            "alpha": list(self.alpha),
            "gamma": list(self.gamma),
            "beta": list(self.beta),
        }

    def _step_value(self) -> float:
        value = self.omega
        for a, x in zip(self.alpha, self.sq, strict=True):
            value += a * x
        for g, x in zip(self.gamma, self.asym, strict=True):
            value += g * x
        for b, x in zip(self.beta, self.s2, strict=True):
            value += b * x
        return value

    def start(self, y: np.ndarray) -> None:
        e = np.asarray(y, dtype=float) - self.mu
        if e.size < BACKCAST_DAYS:
            raise BadInputError(
                f"history: a GARCH-type state needs at least {BACKCAST_DAYS} returns (arch's "
                f"backcast window), got {e.size}"
            )
        # arch's GARCH.backcast, operation for operation.
        tau = min(BACKCAST_DAYS, e.shape[0])
        w = 0.94 ** np.arange(tau)
        w = w / sum(w)
        self.backcast = float(np.sum((np.absolute(e[:tau]) ** 2.0) * w))
        self.sq = [self.backcast] * len(self.alpha)
        self.asym = [0.5 * self.backcast] * len(self.gamma)
        self.s2 = [self.backcast] * len(self.beta)
        self.next = self._step_value()
        for value in e.tolist():
            self.step(value)

    def step(self, e: float) -> float:
        """Absorb the residual ``e`` of the day whose variance was ``next``; the new ``next``."""
        e2 = e * e
        if self.s2:
            self.s2.insert(0, self.next)
            self.s2.pop()
        if self.sq:
            self.sq.insert(0, e2)
            self.sq.pop()
        if self.asym:
            self.asym.insert(0, e2 if e < 0 else 0.0)
            self.asym.pop()
        self.next = self._step_value()
        return self.next

    def advance(self, r: float) -> float:
        return self.step(r - self.mu)

    def dump(self) -> dict[str, Any]:
        return {
            "backcast": self.backcast,
            "sq": list(self.sq),
            "asym": list(self.asym),
            "s2": list(self.s2),
            "next": self.next,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        self.backcast = float(data["backcast"])
        self.sq = [float(v) for v in data["sq"]]
        self.asym = [float(v) for v in data["asym"]]
        self.s2 = [float(v) for v in data["s2"]]
        self.next = float(data["next"])
        shapes = (len(self.sq), len(self.asym), len(self.s2))
        if shapes != (len(self.alpha), len(self.gamma), len(self.beta)):
            raise BadInputError("checkpoint: GARCH lags do not match the model's orders")


class _EgarchRecursion:
    """arch's EGARCH(p, o, q) recursion with fixed parameters (Nelson, 1991).

    ``ln sigma2_t = omega + sum_j alpha_j (|z_{t-j}| - sqrt(2/pi)) + sum_j gamma_j z_{t-j}
    + sum_j beta_j ln sigma2_{t-j}`` with ``z_t = e_t / sigma_t``; before the first return
    the shock terms are absent and the log variance is the log of the backcast, and the log
    variance is capped as arch caps it (``egarch_recursion``).
    """

    __slots__ = (
        "absz",
        "alpha",
        "backcast",
        "beta",
        "gamma",
        "lnnext",
        "lns2",
        "mu",
        "next",
        "omega",
        "z",
    )

    def __init__(
        self,
        mu: float,
        omega: float,
        alpha: Sequence[float],
        gamma: Sequence[float],
        beta: Sequence[float],
    ) -> None:
        self.mu = float(mu)
        self.omega = float(omega)
        self.alpha = tuple(float(a) for a in alpha)
        self.gamma = tuple(float(g) for g in gamma)
        self.beta = tuple(float(b) for b in beta)
        self.backcast = math.nan
        self.absz: list[float] = []
        self.z: list[float] = []
        self.lns2: list[float] = []
        self.lnnext = math.nan
        self.next = math.nan

    def static(self) -> dict[str, Any]:
        return {
            "vol": "EGARCH",
            "mu": self.mu,
            "omega": self.omega,
            "alpha": list(self.alpha),
            "gamma": list(self.gamma),
            "beta": list(self.beta),
        }

    def _step_value(self) -> None:
        value = self.omega
        # A shock term before the sample is absent in arch; adding +0.0 leaves the sum exact.
        for a, x in zip(self.alpha, self.absz, strict=True):
            value += a * x
        for g, x in zip(self.gamma, self.z, strict=True):
            value += g * x
        for b, x in zip(self.beta, self.lns2, strict=True):
            value += b * x
        self.lnnext = min(value, _LNSIGMA_MAX)
        self.next = math.exp(self.lnnext)

    def start(self, y: np.ndarray) -> None:
        e = np.asarray(y, dtype=float) - self.mu
        if e.size < BACKCAST_DAYS:
            raise BadInputError(
                f"history: a GARCH-type state needs at least {BACKCAST_DAYS} returns (arch's "
                f"backcast window), got {e.size}"
            )
        tau = min(BACKCAST_DAYS, e.shape[0])
        w = 0.94 ** np.arange(tau)
        w = w / sum(w)
        self.backcast = float(np.log(np.sum((np.absolute(e[:tau]) ** 2.0) * w)))
        self.absz = [0.0] * len(self.alpha)
        self.z = [0.0] * len(self.gamma)
        self.lns2 = [self.backcast] * len(self.beta)
        self._step_value()
        for value in e.tolist():
            self.step(value)

    def step(self, e: float) -> float:
        z = e / math.sqrt(self.next)
        if self.lns2:
            self.lns2.insert(0, self.lnnext)
            self.lns2.pop()
        if self.absz:
            self.absz.insert(0, abs(z) - _SQRT_2_OVER_PI)
            self.absz.pop()
        if self.z:
            self.z.insert(0, z)
            self.z.pop()
        self._step_value()
        return self.next

    def advance(self, r: float) -> float:
        return self.step(r - self.mu)

    def dump(self) -> dict[str, Any]:
        return {
            "backcast": self.backcast,
            "absz": list(self.absz),
            "z": list(self.z),
            "lns2": list(self.lns2),
            "lnnext": self.lnnext,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        self.backcast = float(data["backcast"])
        self.absz = [float(v) for v in data["absz"]]
        self.z = [float(v) for v in data["z"]]
        self.lns2 = [float(v) for v in data["lns2"]]
        if (len(self.absz), len(self.z), len(self.lns2)) != (
            len(self.alpha),
            len(self.gamma),
            len(self.beta),
        ):
            raise BadInputError("checkpoint: EGARCH lags do not match the model's orders")
        self.lnnext = float(data["lnnext"])
        self.next = math.exp(self.lnnext)


_Recursion = _GarchRecursion | _EgarchRecursion


def _arch_recursion(model: Any) -> tuple[_Recursion, float]:
    """The recursion of a fitted :class:`~riskops.market.volatility.GarchVolatility`, in its
    (possibly rescaled) units, and the scale factor."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "params_")
    p, o, q = int(model.p), int(model.o), int(model.q)
    values = [float(v) for v in np.asarray(model.params_, dtype=float)]
    constant = str(model.mean).lower() == "constant"
    mu = values[0] if constant else 0.0
    vol = values[int(constant) : int(constant) + 1 + p + o + q]
    omega, alpha, gamma, beta = vol[0], vol[1 : 1 + p], vol[1 + p : 1 + p + o], vol[1 + p + o :]
    kind = _EgarchRecursion if str(model.vol).lower() == "egarch" else _GarchRecursion
    return kind(mu, omega, alpha, gamma, beta), float(getattr(model, "scale_", 1.0) or 1.0)


def _builtin_recursion(fit: Any) -> _GarchRecursion:
    """The recursion of :func:`~riskops.market.rolling.fit_garch`'s GARCH(1,1)/GJR(1,1,1)."""
    theta = [float(v) for v in fit.params]
    o = int(fit.o)
    return _GarchRecursion(theta[0], theta[1], [theta[2]], [theta[3]] if o else [], [theta[3 + o]])


# -- sorted windows (historical simulation) -------------------------------------------------


def linear_quantile(ordered: np.ndarray, p: float) -> float:
    """``numpy.quantile(x, p)`` (linear interpolation) of the sorted array ``ordered``.

    The same arithmetic as NumPy's ``_quantile`` and ``_lerp``, so the result is identical
    to NumPy's, without its partition of the whole sample.
    """
    n = ordered.shape[0]
    h = (n - 1) * p
    if h >= n - 1:
        return float(ordered[n - 1])
    lo = math.floor(h)
    t = h - lo
    a = float(ordered[lo])
    b = float(ordered[lo + 1])
    d = b - a
    return b - d * (1 - t) if t >= 0.5 else a + d * t


class _SortedWindow:
    """The last ``size`` values (all when ``size`` is None), in arrival order and sorted.

    The sorted values live at the front of a buffer with spare room (doubled when full), so
    that adding one is a binary search and one in-place shift, never a new array.
    """

    __slots__ = ("arrival", "buffer", "count", "size")

    def __init__(self, values: Any, size: int | None) -> None:
        array = np.asarray(values, dtype=float)
        if size is not None:
            array = array[-size:]
        self.size = size
        self.arrival: deque[float] = deque(array.tolist())
        self.count = int(array.size)
        self.buffer = np.empty(max(2 * self.count, 16))
        self.buffer[: self.count] = np.sort(array)

    @property
    def sorted(self) -> np.ndarray:
        return self.buffer[: self.count]

    def push(self, x: float) -> None:
        s = self.buffer
        n = self.count
        self.arrival.append(x)
        i = int(s[:n].searchsorted(x))
        if self.size is not None and len(self.arrival) > self.size:
            old = self.arrival.popleft()
            j = int(s[:n].searchsorted(old))
            # Remove-then-insert as one in-place shift (NumPy buffers overlapping copies).
            if i <= j:
                s[i + 1 : j + 1] = s[i:j]
                s[i] = x
            else:
                s[j : i - 1] = s[j + 1 : i]
                s[i - 1] = x
            return
        if n == s.size:
            self.buffer = s = np.concatenate([s, np.empty(s.size)])
        s[i + 1 : n + 1] = s[i:n]
        s[i] = x
        self.count = n + 1

    def tail(self, p: float) -> tuple[float, float]:
        """Lower ``p``-quantile and mean of the values at or below it (``_empirical_tail``)."""
        s = self.buffer[: self.count]
        q = linear_quantile(s, p)
        k = int(s.searchsorted(q, side="right"))
        # add.reduce then a division: what ndarray.mean computes, without its overhead
        return q, float(np.add.reduce(s[:k]) / k) if k else q


# -- states of the VaR models -----------------------------------------------------------------


class _VaRState(OnlineState):
    """Common output of the VaR states: VaR and ES per level (and mean/variance if known)."""

    def _issue(
        self,
        var: Sequence[float],
        es: Sequence[float],
        mean: float | None = None,
        variance: float | None = None,
    ) -> Forecast:
        return Forecast(
            kind=self.kind,
            seq=self.seq,
            timestamp=self._stamp(),
            horizon=1,
            levels=self.levels,
            var=tuple(var),
            es=tuple(es),
            mean=mean,
            variance=variance,
        )


class _FilteredState(_VaRState):
    """A VaR state driven by a GARCH-type recursion (built-in estimator or ``volatility``)."""

    _recursion: _Recursion
    _scale: float
    _mu: float

    def _setup_recursion(self, estimator: Any) -> dict[str, Any]:
        fit = getattr(estimator, "fit_", None)
        if fit is not None:
            self._recursion, self._scale = _builtin_recursion(fit), 1.0
            self._mu = self._recursion.mu
        else:
            vol = getattr(estimator, "volatility_", None)
            if vol is None:
                raise BadInputError(f"{type(estimator).__name__}: not fitted")
            self._recursion, self._scale = _arch_recursion(vol)
            # arch's estimates are in its rescaled units when it rescaled the data.
            self._mu = float(estimator.params_.get("mu", 0.0)) / self._scale
        return self._recursion.static() | {"scale": self._scale}

    def _start_recursion(self, history: Any) -> np.ndarray:
        y = _training_returns(self.estimator, history)
        self._recursion.start(y * self._scale)
        return y

    def _sigma_variance(self) -> tuple[float, float]:
        variance = self._recursion.next / (self._scale * self._scale)
        return math.sqrt(variance), variance


class GarchTVaRState(_FilteredState):
    """Online :class:`~riskops.market.var.GarchTVaR`: the recursion, the fitted t quantiles."""

    kind = "garch_t_var"

    def _setup(self, estimator: Any) -> dict[str, Any]:
        from riskops.market.rolling import std_t_quantile_es

        static = self._setup_recursion(estimator)
        nu = float(estimator.params_["nu"])
        self._tails = [std_t_quantile_es(1.0 - lv, nu) for lv in self.levels]
        return static | {"nu": nu}

    def _start(self, history: Any) -> None:
        self._start_recursion(history)

    def _advance(self, value: float) -> None:
        self._recursion.advance(value * self._scale)

    def _forecast(self) -> Forecast:
        sigma, variance = self._sigma_variance()
        mu = self._mu
        var = [-(mu + sigma * q) for q, _ in self._tails]
        es = [-mu + sigma * tail for _, tail in self._tails]
        return self._issue(var, es, mu, variance)

    def _dump(self) -> dict[str, Any]:
        return {"recursion": self._recursion.dump()}

    def _load(self, data: Mapping[str, Any]) -> None:
        self._recursion.load(data["recursion"])


class FilteredHistoricalState(_FilteredState):
    """Online :class:`~riskops.market.var.FilteredHistoricalVaR`, its residual set rolled forward.

    The scenario set starts as the model's in-sample standardised residuals (its last
    ``window`` when it has a window); each live return adds its residual ``(r - mu) /
    sigma``, ``sigma`` being the recursion's forecast for that day, and a windowed set drops
    its oldest. The checkpoint holds the live residuals only (the window's worth at most):
    the training ones come with the estimator.
    """

    kind = "filtered_historical_var"

    def _setup(self, estimator: Any) -> dict[str, Any]:
        static = self._setup_recursion(estimator)
        window = getattr(estimator, "window", None)
        self._window = None if window is None else int(window)
        self._base = np.asarray(estimator.std_resid_, dtype=float)
        return static | {"window": self._window, "residuals": _array_digest(self._base)}

    def _start(self, history: Any) -> None:
        self._start_recursion(history)
        self._residuals = _SortedWindow(self._base, self._window)
        self._live: deque[float] = deque(maxlen=self._window)

    def _advance(self, value: float) -> None:
        sigma = math.sqrt(self._recursion.next)
        z = (value * self._scale - self._recursion.mu) / sigma
        self._recursion.advance(value * self._scale)
        self._residuals.push(z)
        self._live.append(z)

    def _forecast(self) -> Forecast:
        sigma, variance = self._sigma_variance()
        mu = self._mu
        pairs = [self._residuals.tail(1.0 - lv) for lv in self.levels]
        var = [-(mu + sigma * q) for q, _ in pairs]
        es = [-(mu + sigma * m) for _, m in pairs]
        return self._issue(var, es, mu, variance)

    def _dump(self) -> dict[str, Any]:
        return {"recursion": self._recursion.dump(), "live_residuals": list(self._live)}

    def _load(self, data: Mapping[str, Any]) -> None:
        self._recursion.load(data["recursion"])
        live = _floats_in(data["live_residuals"], "live_residuals")
        values = np.concatenate([self._base, live])
        self._residuals = _SortedWindow(values, self._window)
        self._live = deque(live.tolist(), maxlen=self._window)


class HistoricalState(_VaRState):
    """Online :class:`~riskops.market.var.HistoricalVaR`: the last ``window`` returns, sorted."""

    kind = "historical_var"

    def _setup(self, estimator: Any) -> dict[str, Any]:
        self._window = int(estimator.window)
        if self._window < 2:
            raise BadInputError(f"window must be at least 2, got {estimator.window!r}")
        return {"window": self._window}

    def _start(self, history: Any) -> None:
        self._returns = _SortedWindow(_training_returns(self.estimator, history), self._window)

    def _advance(self, value: float) -> None:
        self._returns.push(value)

    def _forecast(self) -> Forecast:
        pairs = [self._returns.tail(1.0 - lv) for lv in self.levels]
        return self._issue([-q for q, _ in pairs], [-m for _, m in pairs])

    def _dump(self) -> dict[str, Any]:
        return {"window": list(self._returns.arrival)}

    def _load(self, data: Mapping[str, Any]) -> None:
        self._returns = _SortedWindow(_floats_in(data["window"], "window"), self._window)


class QuantileVaRState(_VaRState):
    """Online :class:`~riskops.market.var.QuantileVaR`: features of the last 60 returns.

    The batch forecast computes :func:`~riskops.market.var.quantile_features` on the last 60
    returns (the EWMA volatility starts afresh at the first of them); this state keeps those
    60 returns and computes the last row's features directly, then each level's fitted
    LightGBM booster predicts.
    """

    kind = "quantile_var"

    def _accepted_levels(self, levels: Sequence[float]) -> tuple[float, ...]:
        chosen = _levels(levels)
        trained = sorted(float(lv) for lv in self.estimator.models_)
        missing = [lv for lv in chosen if lv not in trained]
        if missing:
            raise BadInputError(f"QuantileVaR was trained for levels {trained}, not {missing}")
        return chosen

    def _setup(self, estimator: Any) -> dict[str, Any]:
        self._lags = int(estimator.lags)
        self._trained = sorted(float(lv) for lv in estimator.models_)
        self._boosters = [estimator.models_[lv].booster_ for lv in self._trained]
        self._ratios = [float(estimator.es_ratio_[lv]) for lv in self.levels]
        self._positions = [self._trained.index(lv) for lv in self.levels]
        models = {
            str(lv): hashlib.sha256(b.model_to_string().encode()).hexdigest()
            for lv, b in zip(self._trained, self._boosters, strict=True)
        }
        return {"lags": self._lags, "models": models, "es_ratio": self._ratios}

    def _start(self, history: Any) -> None:
        y = _training_returns(self.estimator, history)
        if y.size < 22:
            raise BadInputError("history: QuantileVaR needs at least 22 returns")
        self._returns: deque[float] = deque(y[-QUANTILE_WINDOW:].tolist(), maxlen=QUANTILE_WINDOW)

    def _advance(self, value: float) -> None:
        self._returns.append(value)

    def features(self) -> np.ndarray:
        """The forecast's feature row, in the model's ``feature_names_`` order."""
        y = np.fromiter(self._returns, dtype=float, count=len(self._returns))
        sq = y * y
        lags = [y[-k] for k in range(1, self._lags + 1)]
        ewma = sq[0]
        # pandas' ewm(alpha, adjust=False) recursion, started at the window's first day.
        for x in sq[1:].tolist():
            ewma = (1.0 - EWMA_ALPHA) * ewma + EWMA_ALPHA * x
        row = [*lags, abs(y[-1]), math.sqrt(sq[-5:].mean()), math.sqrt(sq[-22:].mean())]
        row.append(math.sqrt(ewma))
        return np.array([row], dtype=float)

    def _forecast(self) -> Forecast:
        X = self.features()
        raw = np.array([-float(b.predict(X, num_threads=1)[0]) for b in self._boosters])
        raw = np.maximum.accumulate(raw)  # VaR never decreases with the level
        var = [float(raw[i]) for i in self._positions]
        es = [max(v * k, v) for v, k in zip(var, self._ratios, strict=True)]
        return self._issue(var, es)

    def _dump(self) -> dict[str, Any]:
        return {"returns": list(self._returns)}

    def _load(self, data: Mapping[str, Any]) -> None:
        values = _floats_in(data["returns"], "returns")
        self._returns = deque(values.tolist(), maxlen=QUANTILE_WINDOW)


# -- states of the volatility models ------------------------------------------------------------


class _VarianceState(OnlineState):
    """Common output of the volatility states: the next day's variance (and mean)."""

    def _accepted_levels(self, levels: Sequence[float]) -> tuple[float, ...]:
        return ()  # a variance forecast has no VaR levels

    def _issue(self, variance: float, mean: float | None = None) -> Forecast:
        return Forecast(
            kind=self.kind,
            seq=self.seq,
            timestamp=self._stamp(),
            horizon=1,
            mean=mean,
            variance=variance,
        )


class GarchVolatilityState(_VarianceState):
    """Online :class:`~riskops.market.volatility.GarchVolatility` (GARCH, GJR, EGARCH)."""

    kind = "garch_volatility"

    def _setup(self, estimator: Any) -> dict[str, Any]:
        self._recursion, self._scale = _arch_recursion(estimator)
        return self._recursion.static() | {"scale": self._scale}

    def _start(self, history: Any) -> None:
        self._recursion.start(_training_returns(self.estimator, history) * self._scale)

    def _advance(self, value: float) -> None:
        self._recursion.advance(value * self._scale)

    def _forecast(self) -> Forecast:
        scale = self._scale
        return self._issue(self._recursion.next / (scale * scale), self._recursion.mu / scale)

    def _dump(self) -> dict[str, Any]:
        return {"recursion": self._recursion.dump()}

    def _load(self, data: Mapping[str, Any]) -> None:
        self._recursion.load(data["recursion"])


class HARState(_VarianceState):
    """Online :class:`~riskops.market.volatility.HARVolatility`: the last month of returns.

    The features of the last day (:func:`~riskops.market.volatility.har_features`: daily,
    weekly and monthly means of squared and negative squared returns, the last absolute
    returns) need only the last ``max(weekly, monthly, abs_lags)`` returns.
    """

    kind = "har_volatility"

    def _setup(self, estimator: Any) -> dict[str, Any]:
        self._weekly, self._monthly = int(estimator.weekly), int(estimator.monthly)
        self._abs_lags = int(estimator.abs_lags)
        self._keep = max(self._weekly, self._monthly, self._abs_lags, 1)
        names = list(estimator.feature_names_)
        self._floor = float(estimator.floor_)
        model = estimator.model_
        if estimator.regressor == "linear":
            self._coef = np.asarray(model.coef_, dtype=float).ravel()
            self._intercept = float(np.ravel(model.intercept_)[0])
            self._booster = None
            identity = {"coef": self._coef.tolist(), "intercept": self._intercept}
        else:
            self._booster = model.booster_
            text = self._booster.model_to_string()
            identity = {"model": hashlib.sha256(text.encode()).hexdigest()}
        all_names = ["rv_d", "rv_w", "rv_m", "lev_d", "lev_w"]
        all_names += [f"abs_{lag}" for lag in range(1, self._abs_lags + 1)]
        self._columns = [all_names.index(n) for n in names]
        return identity | {
            "features": names,
            "floor": self._floor,
            "windows": [self._weekly, self._monthly, self._abs_lags],
        }

    def _start(self, history: Any) -> None:
        y = _training_returns(self.estimator, history)
        self._returns: deque[float] = deque(y[-self._keep :].tolist(), maxlen=self._keep)

    def _advance(self, value: float) -> None:
        self._returns.append(value)

    def features(self) -> np.ndarray:
        """The last day's HAR features, in the model's ``feature_names_`` order."""
        r = np.fromiter(self._returns, dtype=float, count=len(self._returns))
        sq = r * r
        neg = np.where(r < 0, sq, 0.0)
        ab = np.abs(r)
        n = r.size
        row = [sq[-1], sq[-self._weekly :].mean(), sq[-self._monthly :].mean(), neg[-1]]
        row.append(neg[-self._weekly :].mean())
        # Before the first day the earliest absolute return stands in (har_features' bfill).
        row += [ab[-lag] if lag <= n else ab[0] for lag in range(1, self._abs_lags + 1)]
        return np.array([[row[j] for j in self._columns]], dtype=float)

    def _forecast(self) -> Forecast:
        X = self.features()
        if self._booster is None:
            value = float(X[0] @ self._coef + self._intercept)
        else:
            value = float(self._booster.predict(X, num_threads=1)[0])
        return self._issue(max(value, self._floor))

    def _dump(self) -> dict[str, Any]:
        return {"returns": list(self._returns)}

    def _load(self, data: Mapping[str, Any]) -> None:
        values = _floats_in(data["returns"], "returns")
        self._returns = deque(values.tolist(), maxlen=self._keep)


class SequenceState(_VarianceState):
    """Online LSTM/Transformer volatility (:mod:`riskops.market.deep`): the last ``lookback``
    days of network inputs, and the fitted network built once."""

    kind = "sequence_volatility"

    def _setup(self, estimator: Any) -> dict[str, Any]:
        from riskops.market import deep

        self._deep = deep
        self._lookback = int(estimator.lookback)
        self._scale_ = float(estimator.scale_)
        self._pad = np.asarray(estimator.pad_, dtype=np.float32)
        self._network = estimator._fitted_network()
        weights = {k: _array_digest(v) for k, v in sorted(estimator.state_dict_.items())}
        return {
            "network": type(estimator).__name__,
            "weights": weights,
            "scale": self._scale_,
            "lookback": self._lookback,
        }

    def _start(self, history: Any) -> None:
        y = _training_returns(self.estimator, history)
        inputs = self._deep._inputs(y[-self._lookback :], self._scale_)
        self._inputs: deque[np.ndarray] = deque(list(inputs), maxlen=self._lookback)

    def _advance(self, value: float) -> None:
        self._inputs.append(self._deep._inputs(np.array([value]), self._scale_)[0])

    def _forecast(self) -> Forecast:
        import torch

        rows = list(self._inputs)
        missing = self._lookback - len(rows)
        window = np.vstack([self._pad] * missing + rows).astype(np.float32)
        with torch.no_grad():
            log_h = self._network(torch.from_numpy(window[None])).numpy().astype(float)
        return self._issue(float(np.exp(log_h)[0] * self._scale_**2))

    def _dump(self) -> dict[str, Any]:
        return {"inputs": [_floats_out(row) for row in self._inputs]}

    def _load(self, data: Mapping[str, Any]) -> None:
        rows = [_floats_in(row, "inputs").astype(np.float32) for row in data["inputs"]]
        self._inputs = deque(rows, maxlen=self._lookback)


# -- the fallback ---------------------------------------------------------------------------------


class HistoryState(OnlineState):
    """Any other model: the whole history, re-forecast by the model's batch method.

    Exact for every model that honours the platform's protocols (a
    :class:`~riskops.market.var.VaRModel` subclass, a volatility model with
    ``forecast_variance``), but each update costs what the batch forecast costs on the
    whole history, and the checkpoint holds that history: the fallback for a user's
    own model, never used for a built-in.
    """

    kind = "history"

    def _accepted_levels(self, levels: Sequence[float]) -> tuple[float, ...]:
        return _levels(levels) if self._is_var(self.estimator) else ()

    @staticmethod
    def _is_var(estimator: Any) -> bool:
        return callable(getattr(estimator, "_forecast_values", None))

    def _setup(self, estimator: Any) -> dict[str, Any]:
        if not self._is_var(estimator) and not callable(
            getattr(estimator, "forecast_variance", None)
        ):
            raise BadInputError(
                f"{type(estimator).__name__}: no online state (it is neither a VaR model nor "
                "a volatility model with forecast_variance)"
            )
        params = (
            {
                k: v
                for k, v in estimator.get_params(deep=False).items()
                if v is None or isinstance(v, str | int | float | bool)
            }
            if hasattr(estimator, "get_params")
            else {}
        )
        return {"model": f"{type(estimator).__module__}.{type(estimator).__qualname__}"} | {
            "params": params
        }

    def _start(self, history: Any) -> None:
        self._history = _training_returns(self.estimator, history).tolist()

    def _advance(self, value: float) -> None:
        self._history.append(value)

    def _forecast(self) -> Forecast:
        y = np.asarray(self._history, dtype=float)
        if self._is_var(self.estimator):
            var, es = self.estimator._forecast_values(y, self.levels)
            return Forecast(
                kind=self.kind,
                seq=self.seq,
                timestamp=self._stamp(),
                levels=self.levels,
                var=tuple(float(v) for v in var),
                es=tuple(float(v) for v in es),
            )
        variance = self.estimator.forecast_variance(pd.Series(y, name="ret"), horizon=1)
        return Forecast(
            kind=self.kind,
            seq=self.seq,
            timestamp=self._stamp(),
            variance=float(np.asarray(variance, dtype=float).ravel()[0]),
        )

    def _dump(self) -> dict[str, Any]:
        return {"history": list(self._history)}

    def _load(self, data: Mapping[str, Any]) -> None:
        self._history = _floats_in(data["history"], "history").tolist()


# -- factories -------------------------------------------------------------------------------------


def _state_class(estimator: Any) -> type[OnlineState]:
    """The state class of a fitted estimator. Built-ins match by exact type: a subclass may
    forecast differently, so it gets the exact (slow) :class:`HistoryState`."""
    module = type(estimator).__module__
    name = type(estimator).__name__
    if module == "riskops.market.volatility":
        from riskops.market.volatility import GarchVolatility, HARVolatility

        if type(estimator) is GarchVolatility:
            return GarchVolatilityState
        if type(estimator) is HARVolatility:
            return HARState
    if module == "riskops.market.var":
        from riskops.market import var

        exact: dict[type, type[OnlineState]] = {
            var.GarchTVaR: GarchTVaRState,
            var.FilteredHistoricalVaR: FilteredHistoricalState,
            var.HistoricalVaR: HistoricalState,
            var.QuantileVaR: QuantileVaRState,
        }
        if type(estimator) in exact:
            return exact[type(estimator)]
    if module == "riskops.market.deep" and name in ("LSTMVolatility", "TransformerVolatility"):
        return SequenceState
    return HistoryState


def online_state(
    estimator: Any, *, levels: Sequence[float] = LEVELS, history: Any = None
) -> OnlineState:
    """The live state of a fitted market champion, conditioned on its history.

    Parameters
    ----------
    estimator
        A fitted VaR or volatility model of the platform (or a user's model: see
        :class:`HistoryState`). It is never modified. (A family with states of its own, such
        as the anomaly family, builds them in its
        :meth:`~riskops.families.base.Family.online` hook, the one way the live path asks.)
    levels
        VaR/ES levels of the forecasts (VaR models only; QuantileVaR: among its trained
        levels).
    history
        What the state starts from: percent returns to condition on instead of the
        training returns (``None``).

    Returns
    -------
    OnlineState
        At ``seq == 0``; its ``forecast()`` is the estimator's batch forecast after the
        history.
    """
    return _state_class(estimator)(estimator, levels=levels, history=history)


def batch_forecasts(
    estimator: Any, returns: Any, *, start: int, levels: Sequence[float] = LEVELS
) -> pd.DataFrame:
    """What an online state issues over ``returns[start:]``, computed in batch, without one.

    The offline counterpart of a live record, for checking it day by day: each day's
    forecast comes from the estimator's own batch method on the history before the day,
    with the fitted parameters fixed (a VaR model's ``_forecast_values``; a volatility
    model's ``variance_path``), and for filtered historical simulation the scenario set
    extended by the residuals of the days since ``start``, computed here from the whole
    path of the fixed-parameter filter. (:class:`~riskops.market.rolling.RollingBacktest`
    with no refit keeps the training residuals instead: on 1,000 days of the S&P 500 one
    95% exception in 38 differed.) The state it mirrors is
    ``online_state(estimator, levels=levels, history=returns[:start])`` fed the rest.

    Returns
    -------
    pandas.DataFrame
        :class:`~riskops.market.rolling.RollingBacktest`'s layout, indexed by day: ``ret``
        and ``var_{lvl}``/``es_{lvl}`` for a VaR model; ``ret`` and ``variance`` for a
        volatility model. Built-in models only (a user's model: replay its
        :class:`HistoryState`).
    """
    import copy

    from riskops.market.rolling import garch_backcast, garch_variance, level_tag
    from riskops.market.volatility import as_returns

    series = as_returns(returns)
    y = series.to_numpy(dtype=float)
    start = int(start)
    if not 2 <= start < y.size:
        raise BadInputError(f"start: must be in [2, {y.size}), got {start}")
    cls = _state_class(estimator)
    out = pd.DataFrame({"ret": y[start:]}, index=series.index[start:])
    if cls in (GarchVolatilityState, HARState, SequenceState):
        path = np.asarray(estimator.variance_path(series), dtype=float)
        out["variance"] = path[start - 1 : -1]  # row t - 1 forecasts day t
        return out
    if cls not in (GarchTVaRState, FilteredHistoricalState, HistoricalState, QuantileVaRState):
        raise BadInputError(f"{type(estimator).__name__}: no batch replay (not a built-in model)")
    chosen = _levels(levels)
    residuals = np.empty(0)
    if cls is FilteredHistoricalState:
        if getattr(estimator, "fit_", None) is not None:
            theta = estimator.fit_.params
            sigma2, _ = garch_variance(theta, y, garch_backcast(y - theta[0]), estimator.fit_.o)
            residuals = (y - theta[0]) / np.sqrt(sigma2)
        else:
            vol = estimator.volatility_
            path = np.asarray(vol.variance_path(series), dtype=float)
            mu = float(estimator.params_.get("mu", 0.0)) / float(getattr(vol, "scale_", 1.0))
            residuals = np.full(y.size, np.nan)
            residuals[1:] = (y[1:] - mu) / np.sqrt(path[:-1])
    var = np.empty((y.size - start, len(chosen)))
    es = np.empty_like(var)
    rolled = copy.copy(estimator)
    for i, t in enumerate(range(start, y.size)):
        if cls is FilteredHistoricalState:
            rolled.std_resid_ = np.concatenate([estimator.std_resid_, residuals[start:t]])
        var[i], es[i] = rolled._forecast_values(y[:t], chosen)
    for j, level in enumerate(chosen):
        out[f"var_{level_tag(level)}"] = var[:, j]
        out[f"es_{level_tag(level)}"] = es[:, j]
    return out


def restore_state(estimator: Any, data: Mapping[str, Any]) -> OnlineState:
    """Rebuild a state from :meth:`OnlineState.to_dict`'s checkpoint and its estimator, as the
    built-in state class of the estimator (a family's own state class:
    ``TheState.from_dict(data, estimator)``).

    Raises
    ------
    BadInputError
        When the checkpoint is malformed, of another layout version or kind, or was made
        for other fitted parameters (its fingerprint differs): a state is never resumed
        on a model it does not belong to.
    """
    return _restore_as(_state_class(estimator), estimator, data)


def _restore_as(cls: type[OnlineState], estimator: Any, data: Mapping[str, Any]) -> OnlineState:
    if not isinstance(data, Mapping):
        raise BadInputError("checkpoint: must be a mapping (OnlineState.to_dict's output)")
    missing = [
        k for k in ("schema", "kind", "fingerprint", "levels", "seq", "state") if k not in data
    ]
    if missing:
        raise BadInputError(f"checkpoint: missing keys {missing}")
    if data["schema"] != CHECKPOINT_SCHEMA:
        raise BadInputError(
            f"checkpoint: layout version {data['schema']!r}, this code reads {CHECKPOINT_SCHEMA}"
        )
    if data["kind"] != cls.kind:
        raise BadInputError(
            f"checkpoint: a {data['kind']!r} state cannot resume on a {type(estimator).__name__}"
            f" (whose state is {cls.kind!r})"
        )
    state = cls.__new__(cls)
    state._prepare(estimator, [float(v) for v in data["levels"]] or LEVELS)
    if state.fingerprint != data["fingerprint"]:
        raise BadInputError(
            "checkpoint: made for other fitted parameters than this model's (fingerprint "
            f"{str(data['fingerprint'])[:12]}..., model {state.fingerprint[:12]}...)"
        )
    seq = data["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise BadInputError(f"checkpoint: seq must be a non-negative integer, got {seq!r}")
    try:
        state._load(data["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"checkpoint: malformed state ({exc})") from None
    state.seq = seq
    stamp = data.get("timestamp")
    state.last_timestamp = None if stamp is None else pd.Timestamp(stamp)
    state._current = state._forecast()
    return state
