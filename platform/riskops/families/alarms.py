"""What a live monitor's alarm asks of the retrain: the ``riskops.performance.degraded`` payload.

Every live monitor builds the payload of its alarm's event here -- the credit validation
tests on matured outcomes (:meth:`riskops.credit.performance.OutcomeTests.event_payload`)
and the market champions' live alarms (:meth:`riskops.live.book.LiveBook.publish_pending`)
alike -- so that one trigger of the retrain deployment (``retrain-on-degraded-performance``
in ``pipelines/events.py`` and ``prefect.yaml``) serves them all. The trigger passes four
of its keys to the retrain flow:

``families``
    families whose standard model to retrain (a market alarm: its champion's family);
``models``
    registered models whose stored specification to refit (the credit outcome tests: the
    model itself); absent, the flow refits every user champion of ``families``;
``include_outcomes``
    train on the model's matured live outcomes too (absent: false);
``cause``
    added by the event adapter (``pipelines.events.performance_event``): the event, its id,
    the monitor and the audit record that raised it; recorded with each new version.

The other keys (``model``, ``family``, ``monitor``, ``audit_seq`` and the monitor's own
details) describe the alarm for the reader of the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from riskops.errors import BadInputError

PERFORMANCE_EVENT = "riskops.performance.degraded"


def performance_payload(
    *,
    model: str,
    family: str,
    monitor: str,
    audit_seq: int | None,
    families: Sequence[str] = (),
    models: Sequence[str] | None = None,
    include_outcomes: bool = False,
    **details: Any,
) -> dict[str, Any]:
    """The payload of one alarm's ``riskops.performance.degraded`` event.

    Parameters
    ----------
    model, family
        The model whose monitor raised the alarm, and its family.
    monitor
        The monitor (an audit action: ``outcome_tests``, ``alarm``...).
    audit_seq
        The audit record of the run or alarm that raised it.
    families, models, include_outcomes
        What to retrain (see the module's description); at least one of ``families`` and
        ``models`` is not empty.
    **details
        The monitor's own description of the alarm (the failed tests, the series and day).

    Raises
    ------
    BadInputError
        Nothing to retrain, or a key of the contract given among ``details``.
    """
    if not families and not models:
        raise BadInputError(
            f"performance event of {model}: families and models are both empty (nothing to retrain)"
        )
    reserved = {"cause", "families", "models", "include_outcomes"} & set(details)
    if reserved:
        raise BadInputError(f"performance event of {model}: {sorted(reserved)} are not details")
    payload: dict[str, Any] = {
        "model": model,
        "family": family,
        "monitor": monitor,
        "audit_seq": audit_seq,
        "families": list(families),
        "include_outcomes": bool(include_outcomes),
        **details,
    }
    if models is not None:
        payload["models"] = list(models)
    return payload
