"""One validator of registered-model names, used by every command before any side effect.

A name becomes a file name (the per-model lock under ``RISKOPS_HOME/locks``), an MLflow
registered model and part of URIs, so it is checked before anything is locked, read or
written: ``riskops promote ../../x`` must not create ``/tmp/x.lock``, and ``--name ""`` must
not silently mean the family's default model.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from riskops.errors import BadInputError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")


def is_model_name(value: str | None) -> TypeGuard[str]:
    """Whether ``value`` may name a registered model. The audit trail also keeps records of
    pseudo-models whose names no model can take (``_identities``: who may act), so a name
    that fails this is never a model to list, fold or serve."""
    return value is not None and bool(_NAME.fullmatch(value)) and ".." not in value


def model_name(value: str | None, field: str = "name") -> str:
    """``value`` when it is a model name (a letter, then up to 99 letters, digits, ``_``,
    ``.`` or ``-``), else :class:`~riskops.errors.BadInputError` naming the field and value."""
    if not is_model_name(value):
        raise BadInputError(
            f"{field}: {value!r} is not a model name (a letter, then up to 99 letters, "
            "digits, '_', '.' or '-')"
        )
    return value
