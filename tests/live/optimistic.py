"""A VaR model made too optimistic on purpose: GARCH(1,1)-t whose VaR and ES are scaled by
0.7 (the issue's degraded champion; a module of its own so that the processes that load it
-- a Prefect flow run's -- can import it), and a GARCH(1,1) volatility model whose variance is
halved (a shadow challenger worse in QLIKE)."""

from __future__ import annotations

from typing import Any

import numpy as np

from riskops.market.var import GarchTVaR
from riskops.market.volatility import GarchVolatility

SCALE = 0.7


class OptimisticVaR(GarchTVaR):
    """:class:`~riskops.market.var.GarchTVaR` with VaR and ES times :data:`SCALE`."""

    def _forecast_values(self, returns: Any, levels: Any) -> tuple[np.ndarray, np.ndarray]:
        var, es = super()._forecast_values(returns, levels)
        return SCALE * np.asarray(var), SCALE * np.asarray(es)


VARIANCE_SCALE = 0.5


class UnderstatedVolatility(GarchVolatility):
    """:class:`~riskops.market.volatility.GarchVolatility` whose variance forecasts are
    :data:`VARIANCE_SCALE` times its own (a volatility model that understates risk)."""

    def forecast_variance(self, returns: Any = None, horizon: int = 1) -> np.ndarray:
        return VARIANCE_SCALE * np.asarray(super().forecast_variance(returns, horizon))


def register_degraded(
    life: Any,
    name: str,
    family: str,
    model_class: type,
    model_kind: str,
    run_name: str,
    *,
    evidence: dict[str, Any] | None = None,
) -> int:
    """``name``'s champion refitted as ``model_class`` on the same days, logged with this
    module's code (cloudpickle by value: the processes that load it need no test package)
    and, when given, with ``evidence`` as its gate evidence; registered (not promoted).
    Returns the version."""
    import sys

    import cloudpickle
    import mlflow
    import mlflow.sklearn

    from riskops import tracking
    from riskops.market.features import input_example

    champion = life.loader.champion(name).estimator
    model = model_class(**champion.get_params()).fit(champion.returns_)
    here = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(here)
    try:
        with tracking.training_run(life.settings, family, run_name) as run_id:
            mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=input_example(champion.returns_),
                pyfunc_predict_fn="predict",
                serialization_format="cloudpickle",
            )
            mlflow.log_dict({"dataset": {"assets": ["sp500"]}}, "lineage.json")
            if evidence is not None:
                mlflow.log_dict(evidence, "gate_evidence.json")
    finally:
        cloudpickle.unregister_pickle_by_value(here)
    return int(life.register_version(run_id, name, {"family": family, "model_kind": model_kind}))
