"""Registry of model families, imported lazily so that the CLI starts fast."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from riskops.errors import BadInputError

if TYPE_CHECKING:
    from riskops.families.base import Family

_FAMILIES = {
    "credit": "riskops.credit.family:CreditFamily",
    "var": "riskops.market.var_family:VaRFamily",
    "volatility": "riskops.market.volatility_family:VolatilityFamily",
    "anomaly": "riskops.anomaly.family:AnomalyFamily",
}

REGISTERED_NAMES = {
    "credit": "credit_pd",
    "var": "market_var",
    "volatility": "market_volatility",
    "anomaly": "market_anomaly",
}


def get_family(name: str) -> Family:
    """The family called ``name`` (``credit``, ``var``, ``volatility`` or ``anomaly``)."""
    try:
        module_name, class_name = _FAMILIES[name].split(":")
    except KeyError:
        raise BadInputError(f"family: unknown family {name!r}; one of {list(_FAMILIES)}") from None
    family_class = getattr(importlib.import_module(module_name), class_name)
    return family_class()


def family_of_registered(model_name: str, family_tag: str | None = None) -> str:
    """Family of a registered model: its ``family`` tag, else the default names."""
    if family_tag:
        return family_tag
    for family, registered in REGISTERED_NAMES.items():
        if registered == model_name:
            return family
    raise BadInputError(f"model: cannot tell the family of {model_name!r}; it has no family tag")
