"""Generic helpers of the one path every model takes: contracts, clones, descriptions.

A built-in kind (``riskops train credit --model lightgbm``) is an unfitted *specification*
built by its family's :meth:`~riskops.families.base.Family.builtin`; a data scientist's own
estimator is another. Both are checked against the family's :class:`Contract` (before
anything is written), adapted by the family (the platform's wrapper that adds grades,
explanations, request schemas, forecasts for MLflow's pyfunc) and cloned by
:func:`unfitted`, so the caller's object is never fitted and the automated retrain can refit
the specification on new data (objects without ``get_params`` are deep-copied).

Each family documents its own contract beside its :attr:`~riskops.families.base.Family.contract`
(credit: a binary classifier on the raw applicant frame; volatility: ``fit`` /
``forecast_variance`` / ``variance_path``; var: a ``VaRModel``; anomaly: a scikit-learn
outlier detector). This module knows no family.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from riskops.errors import BadInputError

__all__ = [
    "Contract",
    "ContractError",
    "final_step",
    "kind_of",
    "spec_description",
    "specification_of",
    "unfitted",
]


class ContractError(BadInputError):
    """An estimator that does not honour its family's contract (CLI exit 2)."""


@dataclass(frozen=True)
class Contract:
    """The methods a family's estimator must offer.

    ``required`` is a tuple of alternatives: each inner tuple is "one of these methods",
    and every inner tuple is required. ``probe`` picks the object whose methods count
    (credit: the last step of a Pipeline); ``hint`` says in one phrase what qualifies;
    ``more`` runs the family's further checks (a classifier, a subclass...).
    """

    required: tuple[tuple[str, ...], ...]
    hint: str
    probe: Callable[[Any], Any] | None = None
    more: Callable[[str, Any], None] | None = None

    def check(self, family: str, estimator: Any) -> None:
        """Raise :class:`ContractError` naming what ``estimator`` lacks."""
        if estimator is None or isinstance(estimator, type):
            raise ContractError(
                f"estimator: give an unfitted estimator instance for the {family} family, "
                f"got {estimator!r}"
            )
        probe = self.probe(estimator) if self.probe else estimator
        missing = [
            " or ".join(f"{m}()" for m in options)
            for options in self.required
            if not any(callable(getattr(probe, m, None)) for m in options)
        ]
        if missing:
            raise ContractError(
                f"estimator: {type(estimator).__name__} does not meet the {family} contract: "
                f"it lacks {', '.join(missing)} ({self.hint})"
            )
        if self.more is not None:
            self.more(family, estimator)


def final_step(estimator: Any) -> Any:
    """The last step of a scikit-learn ``Pipeline``, else the estimator itself."""
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


def kind_of(estimator: Any) -> str:
    """A short model-kind label for a user's specification, e.g.
    ``pipeline:histgradientboostingclassifier``."""
    outer = type(estimator).__name__.lower()
    wrapped = getattr(estimator, "estimator", None)
    inner = final_step(estimator if wrapped is None else wrapped)
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
