"""The two floors ``bench_serving.py`` compares our service with: the same minimal work behind
a bare Starlette app and behind a BentoML ``@bentoml.api``.

Both load the credit champion by alias and do only the model's ndarray work: encode the
records, compute the contributions as the model does (its compiled Tree SHAP,
:mod:`riskops.treeshap`), calibrate, pick the top 4 contributions.
No validation beyond JSON parsing, no grade, no metrics of our own, no inference log, no
auth. The Starlette floor is what is left if the web stack costs nothing; the BentoML floor
is what is left if our own features cost nothing, so the two split the gap between the
Starlette floor and our service into BentoML's share and ours.

    uvicorn --app-dir bench --factory serving_floors:starlette_floor
    bentoml serve serving_floors:BentoFloor --working-dir bench --arg workers=2
"""

from __future__ import annotations

from typing import Any

import bentoml
from pydantic import BaseModel, Field

MODEL = "credit_pd"


class FloorModel:
    """The champion's encoder, booster and calibrator, and the floor's scoring."""

    def __init__(self) -> None:
        import numpy as np

        from riskops.ledger.loader import VerifiedLoader
        from riskops.settings import Settings

        loaded = VerifiedLoader(Settings()).champion(MODEL)
        assert loaded is not None, f"{MODEL} has no audited champion"
        model = loaded.estimator
        self.model, self.encoder, self.calibrator = model, model.encoder_, model.calibrator_
        self.names = np.array(list(model.input_schema_), dtype=object)

    def score(self, records: list[dict[str, Any]]) -> bytes:
        import numpy as np
        import orjson

        contributions, base = self.model._contributions(self.encoder.transform_records(records))
        pd_ = self.calibrator.transform(base + contributions.sum(axis=1))
        top = np.argsort(-contributions, axis=1)[:, :4]
        results = [
            {"pd": float(p), "reasons": self.names[t].tolist()}
            for p, t in zip(pd_.tolist(), top, strict=True)
        ]
        return orjson.dumps({"results": results})


def starlette_floor() -> Any:
    """A uvicorn factory: Starlette routing and the floor's scoring, nothing else."""
    import orjson
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    model = FloorModel()

    async def score(request: Any) -> Response:
        records = orjson.loads(await request.body())["applicants"]
        return Response(model.score(records), media_type="application/json")

    return Starlette(routes=[Route("/credit/score", score, methods=["POST"])])


class FloorArguments(BaseModel):
    workers: int = Field(default=1, ge=1)


FLOOR_ARGS = bentoml.use_arguments(FloorArguments)


@bentoml.service(
    name="bento_floor",
    workers=FLOOR_ARGS.workers,
    logging={"access": {"enabled": False}},
    tracing={"excluded_urls": ["/credit/score"]},
)
class BentoFloor:
    """The floor's scoring behind a typed BentoML API, configured like our service."""

    def __init__(self) -> None:
        import gc

        self.model = FloorModel()
        gc.freeze()  # as our service does: no full collections of the loaded libraries

    @bentoml.api(route="/credit/score")
    async def score(self, applicants: list[dict[str, Any]], reasons: int = 4) -> Any:
        from starlette.responses import Response

        return Response(self.model.score(applicants), media_type="application/json")
