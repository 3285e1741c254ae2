"""The time RiskOps stamps credit decisions and outcome ingestion with.

Wall-clock UTC, shifted by ``RISKOPS_CLOCK_OFFSET_DAYS`` (0 unless a demonstration or a test
replays a past period: a service started with ``-400`` stamps its decisions 400 days ago, so
that outcomes ingested today find them matured).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from riskops.settings import Settings


def now(settings: Settings | None = None) -> datetime:
    """UTC now, shifted by the settings' clock offset."""
    offset = (settings or Settings()).clock_offset_days
    moment = datetime.now(UTC)
    return moment + timedelta(days=offset) if offset else moment
