"""Every built-in anomaly detector is stored with skops on RiskOps's allow-list (issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from riskops.anomaly.models import (
    AutoencoderDetector,
    EnsembleDetector,
    IsolationForestDetector,
    LOFDetector,
)
from riskops.families import trusted_types

DETECTORS = {
    "isolation_forest": IsolationForestDetector(n_estimators=50, random_state=0),
    "lof": LOFDetector(n_neighbors=20),
    "autoencoder": AutoencoderDetector(max_iter=200, random_state=0),
    "ensemble": EnsembleDetector(autoencoder=AutoencoderDetector(max_iter=200), random_state=0),
}


@pytest.mark.parametrize("name", list(DETECTORS))
def test_a_detector_round_trips_through_skops_on_trusted_types_only(name: str) -> None:
    from sklearn.base import clone

    # Given a detector fitted on seeded rows with named features, and new rows
    rng = np.random.default_rng(5)
    columns = ["ret", "abs_ret", "range", "volume_z"]
    train = pd.DataFrame(rng.standard_t(4, size=(400, 4)), columns=columns)
    new = pd.DataFrame(rng.standard_t(4, size=(60, 4)) * 1.5, columns=columns)
    detector = clone(DETECTORS[name]).fit(train)
    # When it is written with skops and read back trusting only RiskOps's list
    data = sio.dumps(detector)
    assert set(sio.get_untrusted_types(data=data)) <= set(trusted_types())
    loaded = sio.loads(data, trusted=list(trusted_types()))
    # Then it scores, alerts and explains the new rows exactly as the fitted one
    np.testing.assert_array_equal(loaded.score_samples(new), detector.score_samples(new))
    np.testing.assert_array_equal(loaded.predict(new), detector.predict(new))
    assert loaded.decision_threshold_ == detector.decision_threshold_
    pd.testing.assert_frame_equal(loaded.feature_shares(new), detector.feature_shares(new))
