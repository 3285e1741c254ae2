"""The credit shadow window: the champion's and the challenger's answers to the same live
applicants, paired for the challenger's promotion (:mod:`riskops.lifecycle.shadow`).

Both answers of a request carry its request id (``x-request-id``): the champion's in the
model's inference log, the shadow's in ``<model>.shadow`` (``services/shadow.py``); the
applicants of one request are paired in the order they were sent. The champion's rows keep
the applicant as scored, which is the window's live input for data drift.

The inference log is not hash-chained: until the decision store (live evidence, sealed)
records both answers, the window is read as it is stored, and the paired DeLong test, which
needs the outcomes joined to decisions there, is not evaluated.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from riskops.families.base import ShadowPairs

_META = {"request_id", "model_version", "pd", "grade", "top_reason", "caller", "logged_at", "role"}


def _numbered(frame: pd.DataFrame, version: int) -> pd.DataFrame:
    frame = frame[frame["model_version"] == version].copy()
    frame["position"] = frame.groupby("request_id").cumcount()
    return frame


def shadow_pairs(life: Any, name: str, champion: int, challenger: int) -> ShadowPairs:
    """The applicants both versions answered (see the module doc)."""
    from riskops.inference_log import read_inference_log

    shadow = read_inference_log(life.settings, f"{name}.shadow")
    if shadow.empty or not (shadow["model_version"] == challenger).any():
        return ShadowPairs(None, f"no answer of {name} v{challenger} in shadow was recorded")
    served = read_inference_log(life.settings, name)
    if served.empty:
        return ShadowPairs(None, f"no answer of the champion {name} v{champion} was recorded")
    pairs = _numbered(shadow, challenger).merge(
        _numbered(served, champion),
        on=["request_id", "position"],
        suffixes=("_challenger", "_champion"),
    )
    if pairs.empty:
        return ShadowPairs(
            None, f"no request was answered by both v{champion} and v{challenger} in shadow"
        )
    features = [c for c in served.columns if c not in _META]
    inputs = pairs[[f"{f}_champion" for f in features]].set_axis(features, axis=1)
    columns = ["request_id", "decided_at", "pd_champion", "pd_challenger"]
    columns += ["grade_champion", "grade_challenger"]
    out = pairs.rename(columns={"logged_at_champion": "decided_at"})[columns]
    delong = {
        "evaluated": False,
        "reason": "outcomes are joined to decisions in the decision store, which does not "
        "hold this window",
    }
    return ShadowPairs(out.reset_index(drop=True), delong=delong, inputs=inputs)
