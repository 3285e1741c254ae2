"""The routes the service serves, one per installed family, and the answers no route owns.

Each family brings its route (:meth:`riskops.families.base.Family.service_route`: path,
request and response models, ``prepare`` and ``handle``; plain Python in the family's
folder). This module collects them and words the two answers that depend on what the service
holds rather than on a model: a model without a champion yet (503) and a model name the
route does not serve (404).
"""

from __future__ import annotations

import functools
from typing import Any

from riskops.serving.errors import ServingError
from riskops.serving.route import Route


@functools.cache
def routes() -> dict[str, Route]:
    """Family -> its route, for every installed family that is served."""
    from riskops.families import families

    found = {}
    for family in families():
        route = family.service_route()
        if route is not None:
            found[family.name] = route
    return found


def route_path(family: str | None) -> str | None:
    route = routes().get(family or "")
    return route.path if route else None


def unavailable(name: str, family: str) -> ServingError:
    return ServingError(
        503,
        {
            "error": "ModelUnavailable",
            "message": (
                f"no champion for {name} yet: train and promote one "
                f"(riskops train {family} && riskops promote {name}); this service picks "
                "it up without a restart"
            ),
            "model": name,
        },
        {"Retry-After": "30"},
    )


def unknown_model(name: str, family: str, directory: Any) -> ServingError:
    """404 for a model name the service does not hold for this route's family."""
    other = directory.family_of(name)
    served = directory.names(family)
    if other is not None:
        message = f"{name} is a {other} model; send it to {route_path(other) or other}"
    else:
        message = (
            f"no registered {family} model named {name} has a champion; promote one "
            f"(riskops promote {name}) and this service picks it up without a restart"
        )
    return ServingError(
        404, {"error": "UnknownModel", "message": message, "model": name, "models": served}
    )
