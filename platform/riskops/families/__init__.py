"""The registry of model families, found through the ``riskops.families`` entry-point group.

The four built-in families are declared in RiskOps's own ``pyproject.toml`` exactly as a
plug-in declares a fifth::

    [project.entry-points."riskops.families"]
    credit = "riskops.credit.family:CreditFamily"

Reading the entry points costs no import of a family module (the CLI starts fast); a
family's class is imported the first time it is asked for. Names come from the entry points,
listed once; the class's own ``name`` must agree.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from riskops.errors import BadInputError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from riskops.families.base import Family

GROUP = "riskops.families"
BUILTIN = ("credit", "var", "volatility", "anomaly")
"""The families RiskOps ships, in the order listings show them (plug-ins follow by name)."""


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    ordered = [n for n in BUILTIN if n in found] + sorted(n for n in found if n not in BUILTIN)
    return {name: found[name] for name in ordered}


def family_names() -> tuple[str, ...]:
    """Every installed family, the built-ins first."""
    return tuple(_entry_points())


@functools.cache
def _family_class(name: str) -> type[Family]:
    from riskops.families.base import Family

    try:
        entry = _entry_points()[name]
    except KeyError:
        raise BadInputError(
            f"family: unknown family {name!r}; one of {list(family_names())}"
        ) from None
    family_class = entry.load()
    if not (isinstance(family_class, type) and issubclass(family_class, Family)):
        raise BadInputError(f"family: entry point {entry.value} is not a riskops Family")
    if family_class.name != name:
        raise BadInputError(
            f"family: entry point {name!r} loads a family named {family_class.name!r}"
        )
    return family_class


def get_family(name: str) -> Family:
    """The family called ``name`` (an instance; families are stateless)."""
    return _family_class(name)()


def families() -> list[Family]:
    """Every installed family."""
    return [get_family(name) for name in family_names()]


def registered_name(family: str) -> str:
    """The default registered model name of ``family`` (e.g. ``credit_pd``)."""
    return _family_class(family).registered_name


def family_of_registered(model_name: str, family_tag: str | None = None) -> str:
    """Family of a registered model: its ``family`` tag, else a family's default name."""
    if family_tag:
        return family_tag
    for name in family_names():
        if _family_class(name).registered_name == model_name:
            return name
    raise BadInputError(f"model: cannot tell the family of {model_name!r}; it has no family tag")


@functools.cache
def trusted_types() -> tuple[str, ...]:
    """skops's allow-list: every installed family's :attr:`~Family.trusted_types`, sorted."""
    return tuple(sorted({t for name in family_names() for t in _family_class(name).trusted_types}))
