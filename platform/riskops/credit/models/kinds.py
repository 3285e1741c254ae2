"""The built-in kinds by their ``--model`` name."""

from __future__ import annotations

from riskops.credit.models.base import _PDModel
from riskops.credit.models.boosting import LightGBMPD
from riskops.credit.models.forest import RandomForestPD
from riskops.credit.models.logistic import LogisticPD

MODEL_KINDS: dict[str, type[_PDModel]] = {
    "lightgbm": LightGBMPD,
    "random_forest": RandomForestPD,
    "logistic": LogisticPD,
}
