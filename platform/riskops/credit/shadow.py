"""The credit shadow window: the champion's and the challenger's answers to the same live
applicants, paired for the challenger's promotion (:mod:`riskops.lifecycle.shadow`).

Both answers are rows of the model's ``credit_decisions`` stream (:mod:`riskops.credit.
decisions`): the champion's decision of an applicant id (role ``champion``) and the shadow's
answer to the same id (role ``shadow``, written by the service's shadow process). They are
read up to the stream's head, which is sealed into the evidence. The champion's rows keep the
applicant as scored (when the policy lets them), the window's live inputs for data drift.
"""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd

from riskops.families.base import ShadowPairs


def shadow_pairs(life: Any, name: str, champion: int, challenger: int) -> ShadowPairs:
    """The applicants both versions answered (see the module doc)."""
    from riskops.credit.decisions import DECISIONS, read_decisions
    from riskops.evidence.store import EvidenceStore

    store = EvidenceStore(life.settings)
    seal = store.seal(DECISIONS, name)
    shadow = read_decisions(store, name, "shadow", challenger, through_seq=seal["seq"])
    if shadow.empty:
        return ShadowPairs(
            None, f"no answer of {name} v{challenger} in shadow was recorded", seal=seal
        )
    served = read_decisions(store, name, "champion", champion, through_seq=seal["seq"], inputs=True)
    pairs = shadow.merge(served, on="id", suffixes=("_challenger", "_champion"))
    if pairs.empty:
        return ShadowPairs(
            None,
            f"no applicant was answered by both v{champion} and v{challenger} in shadow",
            seal=seal,
        )
    kept = pairs["inputs"].dropna()
    inputs = pd.DataFrame.from_records([orjson.loads(text) for text in kept]) if len(kept) else None
    out = pairs.rename(columns={"decided_at_champion": "decided_at"})[
        ["id", "decided_at", "pd_champion", "pd_challenger", "grade_champion", "grade_challenger"]
    ]
    delong = {
        "evaluated": False,
        "reason": "the paired DeLong test on matured outcomes is run by riskops outcomes "
        "(compare_on_shadow), not yet read at promotion",
    }
    return ShadowPairs(out.reset_index(drop=True), delong=delong, seal=seal, inputs=inputs)
