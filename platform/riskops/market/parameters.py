"""The human-readable parameters of an arch-based market model, logged beside its file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL_PARAMETERS_FILE = "model_parameters.json"
"""The human-readable artifact of an arch-based model: specification and named estimates."""


def model_parameters(estimator: Any) -> dict[str, Any] | None:
    """Specification and named fitted parameters of an arch-based model, as plain JSON.

    ``None`` for a model without ``params_`` (historical simulation, LightGBM, deep models).
    What model-risk reviewers read; the model file itself is the skops archive.
    """
    from riskops.market.rolling import GarchFit

    params: Any = getattr(estimator, "params_", None)
    if not hasattr(params, "items") or not hasattr(estimator, "get_params"):
        return None  # not one of the arch-based built-ins (a user's model, say)
    try:
        named = {str(name): float(value) for name, value in params.items()}
    except (TypeError, ValueError):
        return None
    spec = {
        key: value
        for key, value in estimator.get_params(deep=False).items()
        if value is None or isinstance(value, str | int | float | bool)
    }
    fit = getattr(estimator, "fit_", None)
    if isinstance(fit, GarchFit):  # the VaR models' built-in GARCH estimator
        spec |= {"mean": "Constant", "vol": "GARCH", "p": 1, "o": int(fit.o), "q": 1}
        spec |= {"dist": str(fit.dist)}
    out: dict[str, Any] = {
        "model": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "specification": spec,
        "params": named,
    }
    volatility = getattr(estimator, "volatility_", None)
    if volatility is not None:
        out["volatility"] = model_parameters(volatility)
    for attr, kind in (("scale_", float), ("loglikelihood_", float), ("converged_", bool)):
        value = getattr(estimator, attr, None)
        if value is not None:
            out[attr.rstrip("_")] = kind(value)
    if hasattr(estimator, "n_obs_"):
        out["n_obs"] = int(estimator.n_obs_)
    return out


def write_model_parameters(estimator: Any, folder: Any) -> None:
    """Write :data:`MODEL_PARAMETERS_FILE` into ``folder`` for an arch-based model."""
    described = model_parameters(estimator)
    if described is not None:
        path = Path(folder) / MODEL_PARAMETERS_FILE
        path.write_text(json.dumps(described, indent=2, allow_nan=False) + "\n")
