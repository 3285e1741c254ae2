"""The other side of :mod:`riskops.pickle_sandbox`: run as a script in a separate Python.

It unpickles one model file -- which may run any code the file holds -- and writes the
model's unfitted specification (class path and hyperparameters, recursively) as JSON to a
result file. It imports nothing of RiskOps and is started with an environment holding none
of RiskOps's secrets; its output is untrusted data that the parent rebuilds only from
trusted classes. Standard library only (the pickle imports what it needs).

Usage: ``python -I pickle_sandbox_child.py MODEL_FILE RESULT_FILE [CODE_DIR]``.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from typing import Any

MAX_DEPTH = 12


class Undescribable(TypeError):
    """A hyperparameter that is not plain data, a type or an estimator."""


def encode(value: Any, where: str = "model", depth: int = 0) -> Any:
    """Plain JSON for a specification; tagged objects for what JSON lacks."""
    if depth > MAX_DEPTH:
        raise Undescribable(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, type):
        return {"type": f"{value.__module__}.{value.__qualname__}"}
    if hasattr(value, "get_params"):
        cls = type(value)
        params = value.get_params(deep=False)
        return {
            "estimator": f"{cls.__module__}.{cls.__qualname__}",
            "params": {str(k): encode(v, f"{where}.{k}", depth + 1) for k, v in params.items()},
        }
    if isinstance(value, tuple):
        return {"tuple": [encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, (str, int, float)) for k in value):
        # Pairs, not an object: keys such as class labels are numbers as often as text.
        return {"dict": [[k, encode(v, f"{where}[{k!r}]", depth + 1)] for k, v in value.items()]}
    if type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        if getattr(value, "ndim", 0) == 0:
            return encode(value.item(), where, depth + 1)
        return {"ndarray": encode(value.tolist(), where, depth + 1), "dtype": str(value.dtype)}
    cls = type(value)
    raise Undescribable(f"{where}: a {cls.__module__}.{cls.__qualname__} is not plain data")


def main(argv: list[str]) -> int:
    model_file, result_file = argv[1], argv[2]
    if len(argv) > 3:
        sys.path.insert(0, argv[3])  # the model's own code (MLflow's code_paths)
    try:
        with open(model_file, "rb") as handle:
            model = pickle.load(handle)  # the reason this process exists
        if not hasattr(model, "get_params"):
            raise Undescribable(f"model: a {type(model).__qualname__} has no get_params()")
        result: dict[str, Any] = {"specification": encode(model)}
    except Exception as exc:  # reported to the parent as data, never raised there
        result = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
