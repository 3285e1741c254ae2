"""Probability-of-default classifiers: gradient boosting, random forest, logistic regression.

Every model is composed of the same parts:

1. a :class:`~riskops.credit.encoding.FeatureEncoder` (frame or records → float matrix),
2. a core learner producing a *raw score* (log-odds for LightGBM and logistic
   regression, the vote share of defaults for the random forest),
3. a :class:`~riskops.credit.calibration.ScoreCalibrator` fitted on out-of-fold raw
   scores (cross-fitting: each training row is scored by a model that did not see
   it; the final core is then refitted on all rows, as in scikit-learn's
   ``CalibratedClassifierCV(ensemble=False)``),
4. a :class:`~riskops.credit.calibration.RatingScale` whose grade edges are quantiles of
   the out-of-fold PDs (the development sample).

Explanations are exact Shapley values of the raw score: path-dependent Tree SHAP of the
LightGBM trees (:mod:`riskops.treeshap`, compiled: the values of LightGBM's own
``pred_contrib=True`` about ten times faster), ``shap.TreeExplainer`` for the forest,
and ``coef * (x - mean)`` for the logistic model (exact for a linear model with
independent features, Lundberg & Lee, 2017), so that
``base_value + contributions.sum(axis=1) == raw_score``.

Each kind lives in a module of its own (:mod:`~riskops.credit.models.boosting`,
:mod:`~riskops.credit.models.forest`, :mod:`~riskops.credit.models.logistic`; what they
share in :mod:`~riskops.credit.models.base`); every public name is importable from here,
and the stored classes keep this package as their module (the path stored models name).
"""

from __future__ import annotations

from riskops.credit.models.base import PDExplanation
from riskops.credit.models.boosting import LightGBMPD
from riskops.credit.models.forest import RandomForestPD
from riskops.credit.models.kinds import MODEL_KINDS
from riskops.credit.models.logistic import LogisticPD

__all__ = ["MODEL_KINDS", "LightGBMPD", "LogisticPD", "PDExplanation", "RandomForestPD"]
