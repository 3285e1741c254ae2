"""The service as it was before credit decisions were recorded, for ``bench_decisions.py``
only: the credit route's log records go to the inference log (off the request path, lossy
under overload) instead of the decision store. Served with
``bentoml serve nostore_service:RiskService --working-dir bench``."""

import dataclasses

import riskops.credit.serving as credit_serving

credit_serving.ROUTE = dataclasses.replace(credit_serving.ROUTE, record=None)

from services.service import RiskService  # noqa: E402

__all__ = ["RiskService"]
