"""Input a model cannot handle gets a 4xx in the API's own words, never a 5xx or a
library's internals: the adapters in process, on small seeded detectors."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskops.anomaly import serving as anomaly_route
from riskops.anomaly.models import AutoencoderDetector
from riskops.serving.errors import ServingError
from riskops.serving.route import Champion


@pytest.fixture(scope="module")
def autoencoder_champion() -> Champion:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    detector = AutoencoderDetector(max_iter=50, random_state=0).fit(X)
    state = anomaly_route.prepare(detector)
    return Champion(
        "market_anomaly", 1, "run", "anomaly", "AutoencoderDetector", detector, state, time.time()
    )


def test_rows_that_overflow_the_detector_are_422_naming_the_rows(autoencoder_champion) -> None:
    # Given one row far outside anything seen in training, and one ordinary row
    request = anomaly_route.AnomalyRequest.model_validate(
        {"rows": [{f: 0.1 for f in "abcd"}, {f: 1e300 for f in "abcd"}]}
    )
    # When it is scored (the autoencoder's squared error overflows to infinity)
    with pytest.raises(ServingError) as caught:
        anomaly_route.score(autoencoder_champion, request, "request-1")
    # Then the answer is 422, names row 1, and says why in the API's words
    error = caught.value
    assert error.status == 422
    message = error.body["message"]
    assert "rows [1]" in message
    assert "outside the range of the data it was trained on" in message
    for internal in ("pandera", "Check", "failure_cases", "dtype", "Column", "Schema"):
        assert internal not in message, message


class _WithoutOnePass:
    """A detector as a user may bring one: ``score_samples`` and ``explain``, but no
    one-pass ``score_and_explain`` (so the service explains it in slices)."""

    def __init__(self, detector: Any) -> None:
        self._detector = detector

    def __getattr__(self, name: str) -> Any:
        if name == "score_and_explain":
            raise AttributeError(name)
        return getattr(self._detector, name)


@pytest.mark.parametrize("one_pass", [True, False], ids=["one-pass", "in-slices"])
def test_ordinary_rows_are_scored_like_one_call(autoencoder_champion, one_pass: bool) -> None:
    # Given more rows than one explanation slice, for a built-in detector (one pass) and
    # for one without the one-pass call (explained in slices)
    champion = autoencoder_champion
    if not one_pass:
        wrapped = _WithoutOnePass(champion.estimator)
        assert not hasattr(wrapped, "score_and_explain")
        champion = Champion(
            "market_anomaly", 1, "run", "anomaly", "Wrapped", wrapped, champion.state, time.time()
        )
    rng = np.random.default_rng(1)
    rows = [
        dict(zip("abcd", r, strict=True))
        for r in rng.normal(size=(anomaly_route.EXPLAIN_SLICE * 3 + 5, 4)).tolist()
    ]
    request = anomaly_route.AnomalyRequest.model_validate({"rows": rows, "top_k": 2})
    # When they are scored by the service's adapter
    body, log = anomaly_route.score(champion, request, "request-2")
    # Then the scores and drivers are those of one call over all rows
    detector = autoencoder_champion.estimator
    whole = detector.explain(pd.DataFrame(rows), 2)
    got = [d["feature"] for r in body["results"] for d in r["drivers"]]
    assert got == whole["feature"].tolist()
    scores = [r["score"] for r in body["results"]]
    np.testing.assert_allclose(scores, detector.score_samples(pd.DataFrame(rows)), rtol=1e-12)
    assert len(log) == len(rows)
