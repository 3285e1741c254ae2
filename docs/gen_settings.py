"""The settings reference page, generated from ``riskops.settings.Settings`` so it cannot drift.

Run at every ``mkdocs build`` by ``docs/hooks.py``; by hand::

    .venv/bin/python docs/gen_settings.py > /tmp/settings.md

Every field of ``Settings`` is one environment variable ``RISKOPS_<FIELD>`` (and the aliases
it also reads); its description is the field's own. A field without a description fails the
build, so a new setting cannot go undocumented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

INTRO = """\
Generated from `riskops.settings.Settings` at every build of these pages. Settings are read
once from the environment and frozen; an unknown `RISKOPS_*` variable (a typo such as
`RISKOPS_HOMEE`) makes every command refuse to start, naming it. Paths and URLs left unset
fall back to files under `RISKOPS_HOME`, which is how one home holds a whole installation
(see [Homes that move](../concepts/homes.md)).

The servers' own variables (`PREFECT_API_URL` for a Prefect server, `MLFLOW_*` for the
MLflow server, `AWS_*` for its artifact store) and the value each deployment sets are listed
in the [deployment reference](../platform/deployment.md#settings).
"""


def _default(info: Any) -> str:
    from pydantic import SecretStr

    from riskops import settings

    factory = info.default_factory
    if factory is not None:
        return (factory.__doc__ or factory.__name__).strip().splitlines()[0].replace("``", "`")
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_absolute():
        package = Path(settings.__file__).resolve().parent
        if value.is_relative_to(package):
            return f"`{value.relative_to(package)}` shipped with the package"
    if isinstance(value, SecretStr):
        return "set"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _variables(name: str, info: Any) -> list[str]:
    from pydantic import AliasChoices

    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"RISKOPS_{name.upper()}"]


def _constraints(info: Any) -> str:
    found = []
    for item in info.metadata:
        for attribute, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(item, attribute, None)
            if bound is not None:
                found.append(f"{symbol} {bound}")
    return ", ".join(found)


def rows() -> list[tuple[str, str, str, str]]:
    """``(variables, default, constraints, meaning)`` for every field of ``Settings``."""
    from riskops.settings import Settings

    out = []
    for name, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"Settings.{name} has no description: the reference needs one")
        variables = " or ".join(f"`{v}`" for v in _variables(name, info))
        out.append((variables, _default(info), _constraints(info), info.description))
    return out


def markdown() -> str:
    lines = [
        "# Settings reference",
        "",
        INTRO,
        "| variable | default | constraint | meaning |",
        "|---|---|---|---|",
    ]
    for variables, default, constraints, meaning in rows():
        cells = (variables, default, constraints, " ".join(meaning.split()))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
