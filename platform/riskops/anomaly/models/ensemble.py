"""The ensemble of the forest, the LOF and the autoencoder, explained by its members'
shares weighted by their percentiles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from riskops.anomaly.models.autoencoder import AutoencoderDetector
from riskops.anomaly.models.base import _Detector, _index_of, _normalise
from riskops.anomaly.models.forest import IsolationForestDetector
from riskops.anomaly.models.lof import LOFDetector

_MEMBERS = ("isolation_forest", "lof", "autoencoder")


class EnsembleDetector(_Detector):
    """Rank-averaged ensemble of an isolation forest, a LOF and an autoencoder.

    Each member's score is turned into its percentile among that member's own
    training scores (:class:`EmpiricalTail`), so the members speak on one scale and a
    single new row can be scored without a batch to rank it against; the ensemble
    score is the mean of the three percentiles.

    Parameters
    ----------
    isolation_forest, lof, autoencoder : estimator or None
        Unfitted member specifications; ``None`` for the defaults.
    alert_rate : float
        Target share of training rows above ``decision_threshold_``.
    random_state : int or None
        When set, overrides the members' seeds (the LOF has none).

    Attributes
    ----------
    members_ : dict of str to fitted detector
    """

    # Stored models (skops files, the family's trusted types) name this class by its public
    # path, riskops.anomaly.models, which is the file format: it stays whichever file of the
    # package defines the class.
    __module__ = "riskops.anomaly.models"

    def __init__(
        self,
        isolation_forest: Any = None,
        lof: Any = None,
        autoencoder: Any = None,
        alert_rate: float = 0.01,
        random_state: int | None = None,
    ) -> None:
        self.isolation_forest = isolation_forest
        self.lof = lof
        self.autoencoder = autoencoder
        self.alert_rate = alert_rate
        self.random_state = random_state

    def _specifications(self) -> dict[str, Any]:
        defaults = {
            "isolation_forest": IsolationForestDetector(),
            "lof": LOFDetector(),
            "autoencoder": AutoencoderDetector(),
        }
        specs = {}
        for name in _MEMBERS:
            spec = clone(getattr(self, name) or defaults[name])
            if self.random_state is not None and "random_state" in spec.get_params():
                spec.set_params(random_state=self.random_state)
            specs[name] = spec
        return specs

    def _fit(self, Z: np.ndarray) -> None:
        self.members_ = {name: spec.fit(Z) for name, spec in self._specifications().items()}

    def member_percentiles(self, X: Any) -> pd.DataFrame:
        """Each member's percentile for each row, one column per member."""
        check_is_fitted(self, "decision_threshold_")
        Z = self._validate(X)
        return pd.DataFrame(self._percentiles(Z), index=_index_of(X), columns=list(_MEMBERS))

    def _percentiles(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([self.members_[name].percentile(Z) for name in _MEMBERS])

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._percentiles(Z).mean(axis=1)

    def _shares(self, Z: np.ndarray) -> np.ndarray:
        return self._score_and_shares(Z)[1]

    def _score_and_shares(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Each member scores and explains in one pass; its scores give both its percentile
        # (the ensemble score) and its weight in the shares.
        percentiles, shares = [], []
        for name in _MEMBERS:
            member = self.members_[name]
            scores, member_shares = member._score_and_shares(Z)
            percentiles.append(member.score_tail_.transform(scores))
            shares.append(member_shares)
        table = np.column_stack(percentiles)
        weights = _normalise(table)
        return table.mean(axis=1), np.einsum("nm,nmp->np", weights, np.stack(shares, axis=1))
