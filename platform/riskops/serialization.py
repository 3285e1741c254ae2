"""How a model is serialised: skops (no code runs on load) where it can be, else a pickle.

``skops`` rebuilds an object only from types on an explicit allow-list, so a tampered file
cannot execute code on load the way a pickle's ``__reduce__`` can. LightGBM boosters travel
inside it in LightGBM's own text format (their ``__getstate__`` is the model string).

A model is written with skops when every type skops does not trust by default is on the
allow-list (the union of the installed families' ``trusted_types``,
:func:`riskops.families.trusted_types`) *and* the round trip predicts the input example
identically; anything else -- a user's own estimator class, say -- is written with
cloudpickle, and is then loaded only after its SHA-256 matched the audited one
(:meth:`riskops.registry.Registry.load_version`).
The allow-list is the families', never the one a model file carries in its ``MLmodel``.

Every built-in model is stored with skops: credit (LightGBM PD), the four anomaly detectors,
the VaR models and the volatility models (GARCH family, HAR, LSTM and Transformer). The
market models keep their fitted state as plain data (:class:`PlainState`): pandas objects
become arrays with their index, the arch specification stays in the hyperparameters and the
estimates in ``params_``, and arch's model and result objects (Cython state skops cannot
represent) are caches rebuilt from them on demand and never saved; the deep models keep
their weights as NumPy arrays, so no torch class is trusted. Still pickled: user estimators
(and wrappers of them) with types outside the list.

Trusting a type lets skops build it, not vouch for its content: scikit-learn's tree and
KD-tree index arrays are used without bounds checks, so a crafted file could crash the
process. That is why every model file is hash-verified against the audit trail *before*
either format is loaded.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

SKOPS = "skops"
CLOUDPICKLE = "cloudpickle"

_ARRAY_BACKENDS = tuple(
    f"sklearn.externals.array_api_compat.{backend}" for backend in ("torch", "cupy", "dask", "jax")
)


_SKOPS_IMPORT = threading.Lock()
"""Serialises the first import of skops: the service loads its champions in a thread pool,
and a second thread that finds ``skops.io`` in ``sys.modules`` while the first is still
executing it gets a partially initialised module (``no attribute 'load'``)."""
_skops_module: ModuleType | None = None


class _SkipArrayBackends(importlib.abc.MetaPathFinder):
    """Refuses scikit-learn's array-API wrappers of other libraries while skops imports."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.startswith(_ARRAY_BACKENDS):
            raise ImportError(f"{fullname}: not needed to list scikit-learn's estimators")
        return None


def skops_io() -> ModuleType:
    """``skops.io``, imported without scikit-learn's array-API wrappers of other libraries.

    At import skops lists every scikit-learn estimator (``all_estimators``), whose package
    walk imports each subpackage, among them the wrappers of PyTorch, CuPy, Dask and JAX.
    Where PyTorch is installed that made the import take 5.5–8 s instead of 2.2 s in every
    process that saves or loads a model. The wrappers hold no estimator (the list is the
    same, 208 types, test_serialization checks it) and stay importable afterwards.
    """
    global _skops_module
    if _skops_module is not None:
        return _skops_module
    with _SKOPS_IMPORT:
        if "skops.io" not in sys.modules:
            skip = _SkipArrayBackends()
            sys.meta_path.insert(0, skip)
            try:
                import skops.io  # noqa: F401
            finally:
                sys.meta_path.remove(skip)
        # Not sys.modules[...]: an import in progress elsewhere (another library importing
        # skops) is waited for by the import system's module lock, not returned half-built.
        _skops_module = importlib.import_module("skops.io")
        return _skops_module


def choose_format(estimator: Any, example: Any, predict_fn: str, trusted: Sequence[str]) -> str:
    """``skops`` when the estimator round-trips through it on ``trusted`` types (the
    families' :attr:`~riskops.families.base.Family.trusted_types`), else cloudpickle."""
    import numpy as np

    sio = skops_io()

    try:
        data = sio.dumps(estimator)
        if set(sio.get_untrusted_types(data=data)) - set(trusted):
            return CLOUDPICKLE
        restored = sio.loads(data, trusted=list(trusted))
        before = np.asarray(getattr(estimator, predict_fn)(example), dtype=float)
        after = np.asarray(getattr(restored, predict_fn)(example), dtype=float)
        if before.shape != after.shape or not np.allclose(before, after, equal_nan=True):
            return CLOUDPICKLE
    except Exception:  # anything skops cannot represent stays a (hash-verified) pickle
        return CLOUDPICKLE
    return SKOPS


def load_skops(path: str, trusted: Sequence[str]) -> Any:
    """Load a skops file, trusting only ``trusted`` (and skops's own defaults)."""
    return skops_io().load(path, trusted=list(trusted))


# -- plain state: what RiskOps's own estimators put in a pickle or a skops file -------------

_PANDAS = "__pandas__"
"""Key that marks a pandas object stored as plain data in an estimator's state."""


def _plain_index(index: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        return {
            _PANDAS: "RangeIndex",
            "start": int(index.start),
            "stop": int(index.stop),
            "step": int(index.step),
            "name": index.name,
        }
    if isinstance(index, pd.DatetimeIndex):
        tz = None if index.tz is None else str(index.tz)
        naive = index if index.tz is None else index.tz_convert("UTC").tz_localize(None)
        return {
            _PANDAS: "DatetimeIndex",
            "values": np.asarray(naive.values),  # datetime64: np.save needs no pickle
            "tz": tz,
            "freq": index.freqstr,
            "name": index.name,
        }
    if type(index) is not pd.Index:
        raise TypeError(f"no plain form for a {type(index).__name__}")
    values = index.to_numpy()
    if values.dtype == object:
        if not all(isinstance(v, str) for v in values):
            raise TypeError("an object index must hold strings only")
        return {_PANDAS: "Index", "values": [str(v) for v in values], "name": index.name}
    return {_PANDAS: "Index", "values": values, "name": index.name}


def _restore_index(data: dict[str, Any]) -> Any:
    import pandas as pd

    kind = data[_PANDAS]
    if kind == "RangeIndex":
        return pd.RangeIndex(data["start"], data["stop"], data["step"], name=data["name"])
    if kind == "DatetimeIndex":
        index = pd.DatetimeIndex(data["values"], name=data["name"])
        if data["tz"] is not None:
            index = index.tz_localize("UTC").tz_convert(data["tz"])
        return index if data["freq"] is None else pd.DatetimeIndex(index, freq=data["freq"])
    return pd.Index(data["values"], name=data["name"])


def to_plain(value: Any) -> Any:
    """A pandas Series/DataFrame as a dict of NumPy arrays, lists and scalars; else as is."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.Series):
        if value.dtype == object:
            raise TypeError("no plain form for an object Series")
        return {
            _PANDAS: "Series",
            "values": np.asarray(value.to_numpy()),
            "index": _plain_index(value.index),
            "name": value.name,
        }
    if isinstance(value, pd.DataFrame):
        return {
            _PANDAS: "DataFrame",
            "columns": _plain_index(value.columns),
            "data": [to_plain(value.iloc[:, j]) for j in range(value.shape[1])],
            "index": _plain_index(value.index),
        }
    return value


def from_plain(value: Any) -> Any:
    """The inverse of :func:`to_plain`."""
    import pandas as pd

    if not (isinstance(value, dict) and _PANDAS in value):
        return value
    if value[_PANDAS] == "Series":
        index = _restore_index(value["index"])
        return pd.Series(value["values"], index=index, name=value["name"], copy=False)
    if value[_PANDAS] == "DataFrame":
        columns = _restore_index(value["columns"])
        data = {j: from_plain(col).to_numpy() for j, col in enumerate(value["data"])}
        frame = pd.DataFrame(data, index=_restore_index(value["index"]))
        frame.columns = columns
        return frame
    return _restore_index(value)


def _plain_or_same(value: Any) -> Any:
    # What has no plain form (an object Series, a MultiIndex in a user's subclass) stays as
    # it is: a pickle still holds it, and skops's refusal sends the model to cloudpickle.
    try:
        return to_plain(value)
    except TypeError:
        return value


class PlainState:
    """Mixin: an estimator whose persisted state is plain data (arrays, lists, scalars).

    pandas objects hold Cython state (their block managers) that skops cannot represent,
    and ``arch``'s model and result objects likewise; so fitted pandas attributes are
    written as arrays with their index (:func:`to_plain`) and rebuilt on load, and the
    attributes named in ``_transient_state`` (caches such as arch objects, rebuilt on
    demand from the plain parameters) are left out, the way
    :class:`~riskops.anomaly.models.IsolationForestDetector` leaves out its tree explainer.
    The same state goes into a pickle, so both formats load the same estimator.
    """

    _transient_state: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()  # type: ignore[assignment]
        return {
            key: _plain_or_same(value)
            for key, value in state.items()
            if key not in self._transient_state
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        restored = {key: from_plain(value) for key, value in state.items()}
        setter = getattr(super(), "__setstate__", None)
        if setter is not None:
            setter(restored)
        else:
            self.__dict__.update(restored)
