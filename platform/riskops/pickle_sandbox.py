"""A user's pickled model, read without running its code in a RiskOps process.

Unpickling runs whatever a file's ``__reduce__`` says: a model logged with plain MLflow in
the ``pickle`` or ``cloudpickle`` format, unpickled in the CLI's process, ran there with
``RISKOPS_AUDIT_KEY`` (and the registry's credentials) in its environment. So such a file is
unpickled only when the user says ``--trust-pickle``, and then only in a separate Python
(:mod:`riskops.pickle_sandbox_child`):

* its environment is built from nothing: ``PATH``, the locale, and ``HOME``/``TMPDIR`` set
  to a scratch folder -- no ``RISKOPS_*``, ``MLFLOW_*``, cloud or token variables; it runs
  in isolated mode (``python -I``: no ``PYTHON*`` variables, no user site, no working
  directory on ``sys.path``), in its own session, with no file descriptor of the parent;
* while it runs, the parent is not dumpable (``PR_SET_DUMPABLE``), so a process of the same
  (non-root) user cannot read the parent's ``/proc/<pid>/environ`` or memory;
* it returns data, not objects: the unfitted specification as JSON (class path and
  hyperparameters, recursively), which the parent rebuilds only from classes of
  scikit-learn, LightGBM and XGBoost (and types of NumPy and the builtins) -- the fitted
  state, and anything else the file holds, stays in the child and dies with it.

What this is not: a jail. The child runs as the same user and can read and write what that
user can (the home's files included). ``--trust-pickle`` means "I would run this file
myself"; the audit record of the registration says it was given. Models logged with skops
(MLflow's default for scikit-learn) need none of this: skops builds only allow-listed
types and runs no code (:func:`riskops.byom.load_logged_estimator`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from riskops.errors import BadInputError

__all__ = ["TRUSTED_ESTIMATOR_MODULES", "rebuild", "specification_in_sandbox"]

TRUSTED_ESTIMATOR_MODULES = ("sklearn.", "lightgbm.", "xgboost.")
"""Packages whose estimator classes the parent instantiates from a specification."""
TRUSTED_TYPE_MODULES = (*TRUSTED_ESTIMATOR_MODULES, "numpy.", "builtins.")
"""Packages whose types may appear as hyperparameters (``dtype=numpy.float64``)."""

SANDBOX_TIMEOUT_S = 300.0
RESULT_MAX_BYTES = 1 << 20
_CHILD = Path(__file__).with_name("pickle_sandbox_child.py")
_PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
"""The only variables of the parent's environment the child sees."""
_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def sandbox_environment(scratch: Path) -> dict[str, str]:
    """The child's whole environment: built from nothing, never filtered from ours."""
    env = {k: os.environ[k] for k in _PASSED_ENVIRONMENT if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        {
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def specification_in_sandbox(model_file: Path, scratch: Path, flag: str) -> dict[str, Any]:
    """The JSON specification of the pickled estimator in ``model_file``, unpickled in a
    separate Python without RiskOps's secrets (see the module's docstring).

    Raises :class:`~riskops.errors.BadInputError` (exit 2, naming ``flag``) when the child
    fails, times out, or returns something that is not a specification.
    """
    result_file = scratch / "specification.json"
    log_file = scratch / "child.log"
    command = [sys.executable, "-I", str(_CHILD), str(model_file), str(result_file)]
    code = model_file.parent / "code"
    if code.is_dir():
        command.append(str(code))
    with _not_dumpable(), log_file.open("wb") as log:
        try:
            subprocess.run(
                command,
                env=sandbox_environment(scratch),
                cwd=scratch,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                close_fds=True,
                start_new_session=True,
                timeout=SANDBOX_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BadInputError(
                f"{flag}: unpickling the model took more than {SANDBOX_TIMEOUT_S:.0f} s; "
                "stopped, nothing was registered"
            ) from None
    try:
        if result_file.stat().st_size > RESULT_MAX_BYTES:
            raise BadInputError(f"{flag}: the model's specification is larger than 1 MB")
        result = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = _tail(log_file)
        raise BadInputError(
            f"{flag}: the model could not be unpickled in the sandbox{tail}; nothing was registered"
        ) from None
    if not isinstance(result, dict) or "specification" not in result:
        error = result.get("error") if isinstance(result, dict) else None
        raise BadInputError(f"{flag}: the model could not be read: {error or 'no specification'}")
    specification = result["specification"]
    if not isinstance(specification, dict):
        raise BadInputError(f"{flag}: the sandbox returned no estimator specification")
    return specification


def _tail(log_file: Path) -> str:
    try:
        with log_file.open("rb") as handle:
            handle.seek(max(0, log_file.stat().st_size - 400))
            text = handle.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return ""
    last = text.splitlines()[-1] if text else ""
    return f" ({last})" if last else ""


@contextlib.contextmanager
def _not_dumpable() -> Iterator[None]:
    """This process's ``/proc/<pid>`` entries (environment, memory) closed to processes of
    the same user while the child runs (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        yield
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    before = libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    try:
        yield
    finally:
        if before > 0:
            libc.prctl(_PR_SET_DUMPABLE, before, 0, 0, 0)


# ------------------------------------------------------------------ rebuilding


def rebuild(node: Any, flag: str, where: str = "model", depth: int = 0) -> Any:
    """An unfitted estimator from the sandbox's JSON, built only from trusted classes.

    Raises :class:`~riskops.errors.BadInputError` naming the part of the specification
    (``model.steps[1]``...) that names an untrusted class or is malformed.
    """
    if depth > 24:
        raise BadInputError(f"{flag}: {where} is nested too deeply")
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        return [rebuild(v, flag, f"{where}[{i}]", depth + 1) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        raise BadInputError(f"{flag}: {where} is not a specification")
    keys = set(node)
    if keys == {"estimator", "params"} and isinstance(node["params"], dict):
        cls = _trusted(node["estimator"], TRUSTED_ESTIMATOR_MODULES, flag, where)
        if not hasattr(cls, "get_params"):
            raise BadInputError(f"{flag}: {where}: {node['estimator']} is not an estimator")
        params = {
            str(k): rebuild(v, flag, f"{where}.{k}", depth + 1) for k, v in node["params"].items()
        }
        try:
            return cls(**params)
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"{flag}: {where}: {node['estimator']}: {exc}") from None
    if keys == {"tuple"} and isinstance(node["tuple"], list):
        items = enumerate(node["tuple"])
        return tuple(rebuild(v, flag, f"{where}[{i}]", depth + 1) for i, v in items)
    if keys == {"dict"} and isinstance(node["dict"], list):
        pairs = node["dict"]
        if not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int, float))
            for p in pairs
        ):
            raise BadInputError(f"{flag}: {where} is not a mapping of plain keys")
        return {k: rebuild(v, flag, f"{where}[{k!r}]", depth + 1) for k, v in pairs}
    if keys == {"float"} and node["float"] in ("nan", "inf", "-inf"):
        return float(node["float"])
    if keys == {"type"}:
        value = _trusted(node["type"], TRUSTED_TYPE_MODULES, flag, where)
        if not isinstance(value, type):
            raise BadInputError(f"{flag}: {where}: {node['type']} is not a type")
        return value
    if keys == {"ndarray", "dtype"} and isinstance(node["ndarray"], list):
        import numpy as np

        try:
            dtype = np.dtype(str(node["dtype"]))
        except TypeError:
            raise BadInputError(f"{flag}: {where}: unknown dtype {node['dtype']!r}") from None
        if dtype.kind not in "biufcUS":  # numbers and text only: no object arrays
            raise BadInputError(f"{flag}: {where}: arrays of {dtype} are not rebuilt")
        return np.asarray(rebuild(node["ndarray"], flag, where, depth + 1), dtype=dtype)
    raise BadInputError(f"{flag}: {where} is not a specification ({sorted(keys)})")


def _trusted(path: Any, prefixes: tuple[str, ...], flag: str, where: str) -> Any:
    """The object named ``module.Qualname``, when ``module`` is in a trusted package."""
    if not isinstance(path, str) or not path.startswith(prefixes):
        raise BadInputError(
            f"{flag}: {where} is a {path}, outside scikit-learn, LightGBM and XGBoost: "
            "RiskOps rebuilds only their estimators from a pickled model (register your own "
            "class from Python with riskops.register(estimator, ...))"
        )
    parts = path.split(".")
    if any(not p.isidentifier() or p.startswith("__") for p in parts):
        raise BadInputError(f"{flag}: {where}: {path!r} is not a class path")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        if not f"{module_name}.".startswith(prefixes):
            break
        try:
            value: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        for part in parts[cut:]:
            value = getattr(value, part, None)
        if value is not None:
            return value
        break
    raise BadInputError(f"{flag}: {where}: {path} is not installed here")
