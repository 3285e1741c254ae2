"""How a model is serialised: skops (no code runs on load) where it can be, else a pickle.

``skops`` rebuilds an object only from types on an explicit allow-list, so a tampered file
cannot execute code on load the way a pickle's ``__reduce__`` can. LightGBM boosters travel
inside it in LightGBM's own text format (their ``__getstate__`` is the model string).

A model is written with skops when every type skops does not trust by default is in
:data:`TRUSTED_TYPES` *and* the round trip predicts the input example identically; anything
else -- a user's own estimator class, say -- is written with cloudpickle, and is then loaded
only after its SHA-256 matched the audited one (:meth:`riskops.registry.Registry.load_version`).
The allow-list is this module's, never the one a model file carries in its ``MLmodel``.

Still pickled (measured on the bundled models): the VaR and volatility models, whose ``arch``
objects hold Cython state skops cannot represent (storing their parameters as JSON needs the
families to rebuild a model from parameters), other anomaly detectors, and user estimators
with types outside the list.
"""

from __future__ import annotations

from typing import Any

SKOPS = "skops"
CLOUDPICKLE = "cloudpickle"

TRUSTED_TYPES: tuple[str, ...] = (
    # credit: the LightGBM PD model (its booster as LightGBM's text model)
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "riskops.credit.calibration.RatingScale",
    "riskops.credit.calibration.ScoreCalibrator",
    "riskops.credit.encoding.FeatureEncoder",
    "riskops.credit.models.LightGBMPD",
    # anomaly: the isolation-forest detector (sklearn's tree structure has a skops loader)
    "riskops.anomaly.models.EmpiricalTail",
    "riskops.anomaly.models.IsolationForestDetector",
    "sklearn.tree._tree.Tree",
)
"""Types RiskOps's own estimators are made of, beyond what skops trusts by default."""


def choose_format(estimator: Any, example: Any, predict_fn: str) -> str:
    """``skops`` when the estimator round-trips through it on trusted types, else cloudpickle."""
    import numpy as np
    import skops.io as sio

    try:
        data = sio.dumps(estimator)
        if set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES):
            return CLOUDPICKLE
        restored = sio.loads(data, trusted=list(TRUSTED_TYPES))
        before = np.asarray(getattr(estimator, predict_fn)(example), dtype=float)
        after = np.asarray(getattr(restored, predict_fn)(example), dtype=float)
        if before.shape != after.shape or not np.allclose(before, after, equal_nan=True):
            return CLOUDPICKLE
    except Exception:  # anything skops cannot represent stays a (hash-verified) pickle
        return CLOUDPICKLE
    return SKOPS


def load_skops(path: str) -> Any:
    """Load a skops file, trusting only :data:`TRUSTED_TYPES` (and skops's own defaults)."""
    import skops.io as sio

    return sio.load(path, trusted=list(TRUSTED_TYPES))
