"""The volatility family's live benchmark: GARCH(1,1) with normal innovations, fitted on a
series' history and followed online beside the champion, so that the live Diebold-Mariano
test compares like with like (the same benchmark the promotion gates use,
:data:`riskops.market.evaluation.BENCHMARK`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def _model(params: list[float] | None = None, scale: float | None = None) -> Any:
    """The benchmark, unfitted or with given parameters (a checkpoint's; the fingerprint of
    the restored state checks them)."""
    from riskops.market.evaluation import BENCHMARK
    from riskops.market.volatility import GarchVolatility

    spec: dict[str, Any] = {k: v for k, v in BENCHMARK.items() if k != "model"}
    model = GarchVolatility(**spec)
    if params is not None:
        model.params_ = pd.Series([float(v) for v in params])
        model.scale_ = float(scale or 1.0)
    return model


class GarchBenchmark:
    """:class:`riskops.families.base.LiveBenchmark` of the volatility family."""

    def start(self, history: Any) -> Any:
        from riskops.market.online import online_state

        return online_state(_model().fit(history), history=history)

    def save(self, state: Any) -> dict[str, Any]:
        fitted = state.estimator
        return {
            "benchmark": state.to_dict(),
            "benchmark_params": [float(v) for v in fitted.params_],
            "benchmark_scale": float(getattr(fitted, "scale_", 1.0) or 1.0),
        }

    def restore(self, saved: Mapping[str, Any]) -> Any:
        from riskops.market.online import restore_state

        fitted = _model(saved["benchmark_params"], saved["benchmark_scale"])
        return restore_state(fitted, saved["benchmark"])
