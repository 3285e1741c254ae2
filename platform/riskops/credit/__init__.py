"""Credit probability-of-default models: LightGBM, random forest and logistic scorecards.

Public names are resolved lazily so that ``import riskops.credit`` stays cheap; the
heavy libraries (LightGBM, SHAP) load only when a model is fitted or explained.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CreditFamily": "riskops.credit.family",
    "CreditScores": "riskops.credit.schemas",
    "FeatureEncoder": "riskops.credit.encoding",
    "LightGBMPD": "riskops.credit.models",
    "LogisticPD": "riskops.credit.models",
    "PDExplanation": "riskops.credit.models",
    "RandomForestPD": "riskops.credit.models",
    "RatingScale": "riskops.credit.calibration",
    "ScoreCalibrator": "riskops.credit.calibration",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'riskops.credit' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
