"""Market anomaly detection: daily features, detectors, curated stress events, evaluation.

Public names are resolved lazily so that ``import riskops.anomaly`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnomalyFeatures": "riskops.anomaly.features",
    "build_features": "riskops.anomaly.features",
    "AnomalyExplanation": "riskops.anomaly.models",
    "AnomalyScores": "riskops.anomaly.models",
    "AutoencoderDetector": "riskops.anomaly.models",
    "EnsembleDetector": "riskops.anomaly.models",
    "IsolationForestDetector": "riskops.anomaly.models",
    "LOFDetector": "riskops.anomaly.models",
    "score_frame": "riskops.anomaly.models",
    "STRESS_EVENTS": "riskops.anomaly.events",
    "StressEvent": "riskops.anomaly.events",
    "events_frame": "riskops.anomaly.events",
    "AnomalyEvaluation": "riskops.anomaly.evaluate",
    "evaluate_detector": "riskops.anomaly.evaluate",
    "AnomalyFamily": "riskops.anomaly.family",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'riskops.anomaly' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
