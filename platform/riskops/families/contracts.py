"""What a model of each family must offer, and how any such model enters the lifecycle.

One path for every model: a built-in kind (``riskops train credit --model lightgbm``) is an
unfitted *specification* built by :func:`builtin_spec`; a data scientist's own estimator is
another. Both go through :func:`check` (the family's public contract, verified before
anything is written), :func:`adapt` (the platform's wrapper that adds what the lifecycle and
the service need: grades, explanations, request schemas, forecasts for MLflow's pyfunc) and
``Family.fit(dataset, options, workdir, estimator=spec)``, which clones the specification and
fits it on the family's own split.

The contracts (public, stable):

credit
    A scikit-learn compatible binary classifier, or a :class:`~sklearn.pipeline.Pipeline`
    ending in one, whose ``fit(X, y)`` and ``predict_proba(X)`` take the *raw* applicant frame
    (text categories, missing values) and ``y`` coded 0/1 (1 = default). The platform adds the
    rating scale, SHAP explanations and reason codes
    (:class:`riskops.credit.any_model.ClassifierPD`).
volatility
    ``fit(returns) -> self``; ``forecast_variance(returns=None, horizon=1) -> ndarray`` (the
    next ``horizon`` daily variances, percent², after ``returns``, the training returns by
    default, with the fitted parameters kept fixed); ``variance_path(returns=None) -> Series``
    (one-step-ahead variances aligned with the returns: row ``t`` forecasts day ``t + 1``).
    :class:`riskops.market.volatility.GarchVolatility` and ``HARVolatility`` have this shape;
    see :class:`riskops.market.any_model.VolatilityForecaster` for the protocol.
var
    A subclass of :class:`riskops.market.var.VaRModel` (VaR and ES at given levels from a
    return history).
anomaly
    A scikit-learn outlier detector (``IsolationForest``, ``LocalOutlierFactor(novelty=True)``,
    ``OneClassSVM``...) with ``fit(X)`` and ``score_samples(X)`` or ``decision_function(X)``
    (lower = more abnormal, scikit-learn's convention).

A specification must be unfitted: the platform ``sklearn.base.clone``s it (objects without
``get_params`` are deep-copied), so the automated retrain can refit it on new data.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from riskops.errors import BadInputError

__all__ = [
    "ContractError",
    "adapt",
    "builtin_spec",
    "check",
    "kind_of",
    "spec_description",
    "specification_of",
    "unfitted",
]


class ContractError(BadInputError):
    """An estimator that does not honour its family's contract (CLI exit 2)."""


_REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    # Each inner tuple is "one of these"; every inner tuple is required.
    "credit": (("fit",), ("predict_proba",)),
    "volatility": (("fit",), ("forecast_variance",), ("variance_path",)),
    "var": (("fit",), ("forecast",), ("_fit_values",), ("_forecast_values",)),
    "anomaly": (("fit",), ("score_samples", "decision_function")),
}


def check(family: str, estimator: Any) -> None:
    """Raise :class:`ContractError` naming what ``estimator`` lacks for ``family``.

    Nothing is fitted, logged or registered before this passes.
    """
    if family not in _REQUIRED:
        raise BadInputError(f"family: unknown family {family!r}; one of {list(_REQUIRED)}")
    if estimator is None or isinstance(estimator, type):
        raise ContractError(
            f"estimator: give an unfitted estimator instance for the {family} family, "
            f"got {estimator!r}"
        )
    probe = _final_step(estimator) if family == "credit" else estimator
    missing = [
        " or ".join(f"{m}()" for m in options)
        for options in _REQUIRED[family]
        if not any(callable(getattr(probe, m, None)) for m in options)
    ]
    name = type(estimator).__name__
    if missing:
        raise ContractError(
            f"estimator: {name} does not meet the {family} contract: it lacks "
            + ", ".join(missing)
            + f" ({_HINTS[family]})"
        )
    if family == "credit":
        kind = getattr(probe, "_estimator_type", None)
        tags = getattr(probe, "__sklearn_tags__", None)
        if kind is None and tags is not None:
            try:
                kind = tags().estimator_type
            except Exception:  # an old-style or partial estimator: judged by its methods
                kind = None
        if kind not in (None, "classifier"):
            raise ContractError(
                f"estimator: {name} is a {kind}, the credit family needs a binary classifier "
                "with predict_proba()"
            )
    if family == "var":
        from riskops.market.var import VaRModel

        if not isinstance(estimator, VaRModel):
            raise ContractError(
                f"estimator: {name} does not meet the var contract: subclass "
                "riskops.market.var.VaRModel"
            )


_HINTS = {
    "credit": "a scikit-learn binary classifier or Pipeline taking the raw applicant frame",
    "volatility": "fit(returns), forecast_variance(returns=None, horizon=1), "
    "variance_path(returns=None)",
    "var": "a subclass of riskops.market.var.VaRModel",
    "anomaly": "a scikit-learn outlier detector",
}


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return steps[-1][1]
    return estimator


def unfitted(estimator: Any) -> Any:
    """The unfitted specification: ``sklearn.base.clone`` (a deep copy without get_params)."""
    from sklearn.base import clone

    if hasattr(estimator, "get_params"):
        return clone(estimator)
    return copy.deepcopy(estimator)


def adapt(family: str, estimator: Any, *, alert_rate: float | None = None) -> Any:
    """The estimator in the form the family's lifecycle and service use.

    A specification that already implements the platform's interface (the built-in kinds,
    which bring their own exact explanations) is used as it is; any other is wrapped in the
    family's platform adapter, itself a scikit-learn meta-estimator (so ``clone`` still
    gives the unfitted specification).
    """
    if family == "credit":
        from riskops.credit.any_model import ClassifierPD, implements_platform_pd

        return estimator if implements_platform_pd(estimator) else ClassifierPD(estimator)
    if family == "volatility":
        from riskops.market.any_model import VolatilityForecaster, implements_platform_volatility

        if implements_platform_volatility(estimator):
            return estimator
        return VolatilityForecaster(estimator)
    if family == "anomaly":
        from riskops.anomaly.any_model import OutlierDetector, implements_platform_detector

        if implements_platform_detector(estimator):
            return estimator
        return OutlierDetector(estimator, alert_rate=0.01 if alert_rate is None else alert_rate)
    return estimator


def builtin_spec(family: str, options: Any) -> Any:
    """The unfitted built-in estimator that ``riskops train FAMILY --model K`` registers."""
    from riskops.families import get_family

    fam = get_family(family)
    kind = options.model or fam.models[0]
    if kind not in fam.models:
        raise BadInputError(f"--model: {kind!r} is not one of {list(fam.models)}")
    extra = dict(options.extra or {})
    if family == "credit":
        from riskops.credit.family import CreditFamily
        from riskops.credit.models import MODEL_KINDS

        params = CreditFamily()._hyperparameters(kind, options, extra)
        return MODEL_KINDS[kind](**params)
    if family == "volatility":
        from riskops.market.volatility_family import make_volatility_model

        return make_volatility_model(kind, options.dist, options.seed)
    if family == "var":
        from riskops.market.var_family import make_var_model

        try:
            window = int(extra.get("window", 500))
        except (TypeError, ValueError):
            window_value = extra.get("window")
            raise BadInputError(f"window: must be an integer, got {window_value!r}") from None
        return make_var_model(
            kind, level=float(options.level), dist=options.dist, seed=options.seed, window=window
        )
    from riskops.anomaly.family import make_detector

    alert_rate = float(extra.get("alert_rate", round(1.0 - options.level, 10)))
    return make_detector(kind, alert_rate, options.seed)


def kind_of(estimator: Any) -> str:
    """A short model-kind label for a user's specification, e.g.
    ``pipeline:histgradientboostingclassifier``."""
    outer = type(estimator).__name__.lower()
    wrapped = getattr(estimator, "estimator", None)
    inner = _final_step(estimator if wrapped is None else wrapped)
    inner_name = type(inner).__name__.lower()
    return outer if inner_name == outer else f"{outer}:{inner_name}"


def spec_description(estimator: Any) -> dict[str, Any]:
    """The unfitted specification as JSON: class path and hyperparameters (stored with the
    version, so a retrain or a reviewer can see what was fitted)."""

    def describe(value: Any, depth: int = 0) -> Any:
        if depth > 6:
            return repr(value)[:200]
        if hasattr(value, "get_params") and not isinstance(value, type):
            return {
                "class": f"{type(value).__module__}.{type(value).__qualname__}",
                "params": {
                    k: describe(v, depth + 1) for k, v in value.get_params(deep=False).items()
                },
            }
        if isinstance(value, (list, tuple)):
            return [describe(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {str(k): describe(v, depth + 1) for k, v in value.items()}
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        try:
            json.dumps(value)
            return value
        except TypeError:
            return repr(value)[:200]

    return describe(estimator)


def specification_of(fitted: Any) -> Any:
    """The unfitted specification a registered model was fitted from: the user's own
    estimator for a platform adapter (which names it in ``_wraps``), else a clone."""
    spec = unfitted(fitted)
    inner = getattr(type(spec), "_wraps", None)
    return getattr(spec, inner) if inner else spec
