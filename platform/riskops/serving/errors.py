"""Errors a route answers with: a status and a JSON body, never a 5xx for a caller's input.

``400``
    The body does not have the right shape for the champion (pydantic ``detail``).
``422``
    The body is well formed but the model cannot use it (``violations``): a history too
    short for the model, a price window without the columns the detector needs, an output
    outside the family's contract (a PD outside [0, 1], a non-finite VaR).
``503``
    The model has no champion yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
from pydantic import ValidationError

from riskops.errors import BadInputError, DataValidationError
from riskops.serving.payloads import validation_detail

NUMERIC_FAILURES: tuple[type[BaseException], ...] = (
    ValueError,
    ArithmeticError,
    np.linalg.LinAlgError,
    pandera.errors.SchemaError,
    pandera.errors.SchemaErrors,
)
"""What estimators raise on degenerate numbers (a flat history, a singular matrix, an output
their own schema refuses): on data the caller sent, that is the caller's problem (422), not
the server's."""


class ServingError(Exception):
    """A request the service answers with ``status`` and a JSON ``body`` (never a 5xx bug)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid(exc: ValidationError, prefix: tuple[Any, ...]) -> ServingError:
    """400 with pydantic's field-level detail, located inside the body."""
    return ServingError(
        400,
        {
            "error": f"{exc.error_count()} validation error(s)",
            "detail": validation_detail(exc, prefix),
        },
    )


def unprocessable(exc: Exception) -> ServingError:
    """422 for well-formed input the model cannot use."""
    if isinstance(exc, DataValidationError):
        return ServingError(422, exc.to_dict())
    return ServingError(422, {"error": type(exc).__name__, "message": str(exc)})


def output_refused(model: str, version: int, what: str) -> ServingError:
    """422 for an output outside the family's contract: never returned to the caller."""
    return ServingError(
        422,
        {
            "error": "OutputOutOfContract",
            "message": f"{model} v{version} produced {what}; the answer is withheld",
            "model": model,
        },
    )


def guarded(
    supplied: bool, compute: Callable[[], Any], what: str = "forecast from this history"
) -> Any:
    """Run ``compute``; numeric failures on data the caller ``supplied`` answer 422."""
    try:
        return compute()
    except (DataValidationError, BadInputError) as exc:
        raise unprocessable(exc) from None
    except NUMERIC_FAILURES as exc:
        if not supplied:
            raise
        raise ServingError(
            422,
            {
                "error": "UnprocessableHistory" if what.startswith("forecast") else "Unprocessable",
                "message": f"the model cannot {what}: {in_our_words(exc)}",
            },
        ) from None


def in_our_words(exc: BaseException) -> str:
    """What went wrong, without a library's internals (pandera's reports name its checks,
    dtypes and failure-case tables, which mean nothing to a caller)."""
    if isinstance(exc, pandera.errors.SchemaErrors | pandera.errors.SchemaError):
        rows: list[Any] = []
        cases = getattr(exc, "failure_cases", None)
        if isinstance(cases, pd.DataFrame) and "index" in cases:
            labels = cases["index"].dropna()
            rows = sorted({int(i) for i in labels if isinstance(i, int | np.integer)})
        where = f" (rows {rows[:10]}{'...' if len(rows) > 10 else ''})" if rows else ""
        return (
            f"its output is not finite or out of range{where}; the values sent are far "
            "outside the range of the data it was trained on"
        )
    return str(exc)
