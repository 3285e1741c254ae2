"""The alarms on a live VaR champion's exceptions, with a known false-alarm rate.

Two detectors watch the 99% exceptions of each (champion, series) stream
(:mod:`riskops.stats.sequential`):

* the **zone change**: the Basel traffic light over the last 250 days, its window seeded
  with the last 250 days of the promotion backtest (so it is evaluated from the first live
  day), alarming when the zone worsens (green to yellow, yellow to red);
* the **Bernoulli CUSUM** (Reynolds and Stoumbos, 1999) designed for an exact in-control
  average run length of :data:`TARGET_ARL0` days against a model that covers 98% instead of
  99%; it restarts at zero after an alarm.

Their run lengths (false alarms of a calibrated model, delay for one that covers 98%, or
whose VaR is 0.7 of the true one) are simulated in ``bench/bench_live.py``. The detectors'
state is checkpointed with the online state and replayed with it (their exception is
recomputed from the replayed forecast), so a restart resumes them too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskops.stats.sequential import BernoulliCusum, CusumDesign, ZoneChangeDetector

__all__ = ["LEVEL", "TARGET_ARL0", "Alarm", "Watch", "cusum_design"]

_DIGITS = bytes.maketrans(b"\x00\x01", b"01")

LEVEL = 0.99
"""The VaR level the detectors watch (the Basel traffic light's)."""
TARGET_ARL0 = 1000.0
"""Average days to a false alarm of the CUSUM for a correctly calibrated model (about four
trading years; the bench's design)."""


@functools.cache
def cusum_design(level: float = LEVEL, target_arl0: float = TARGET_ARL0) -> CusumDesign:
    """The CUSUM design (exact ARLs), computed once per process."""
    from riskops.stats.sequential import design_bernoulli_cusum

    return design_bernoulli_cusum(level, target_arl0=target_arl0)


@dataclass(frozen=True)
class Alarm:
    """One detector's alarm on one day of a stream."""

    detector: str
    detail: dict[str, Any]


class Watch:
    """The zone-change and CUSUM detectors of one stream's 99% exceptions."""

    def __init__(self, seed_hits: np.ndarray | None = None) -> None:
        hits = () if seed_hits is None else [bool(h) for h in seed_hits[-250:]]
        self.zone = ZoneChangeDetector(LEVEL, 250, hits)
        self.cusum = BernoulliCusum(cusum_design())

    def update(self, hit: bool) -> tuple[dict[str, Any], list[Alarm]]:
        """Absorb one day's exception; the detectors' statistics and any alarms."""
        zone = self.zone.update(hit)
        cusum = self.cusum.update(hit)
        alarms = []
        if zone.alarm:
            alarms.append(
                Alarm(
                    "zone_change",
                    {
                        "zone": zone.zone,
                        "previous": zone.previous,
                        "exceptions_last_250": zone.exceptions,
                        "days": zone.n,
                    },
                )
            )
        if cusum.alarm:
            design = self.cusum.design
            alarms.append(
                Alarm(
                    "cusum",
                    {
                        "statistic": cusum.statistic,
                        "threshold": design.threshold,
                        "m": design.m,
                        "arl0": design.arl0,
                        "arl1": design.arl1,
                        "days": cusum.n,
                    },
                )
            )
        statistics = {
            "zone": zone.zone,
            "exceptions_last_250": zone.exceptions,
            "cusum": cusum.statistic,
        }
        return statistics, alarms

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, compact (checkpointed with the online state): the zone's window as
        a string of 0/1, the CUSUM's running state and its design's identity."""
        zone = self.zone.to_dict()
        # The window holds 0/1 ints: as bytes, then "0"/"1", at C speed (250 days a bar).
        zone["window"] = bytes(zone["window"]).translate(_DIGITS).decode("ascii")
        design = self.cusum.design
        return {
            "zone": zone,
            "cusum": {
                "statistic": self.cusum.statistic,
                "n": self.cusum.n,
                "alarms": self.cusum.alarms,
                "design": {"level": design.level, "m": design.m, "threshold": design.threshold},
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Watch:
        from riskops.errors import BadInputError

        watch = cls.__new__(cls)
        zone = dict(data["zone"])
        zone["window"] = [int(c) for c in str(zone["window"])]
        watch.zone = ZoneChangeDetector.from_dict(zone)
        saved = data["cusum"]
        design = cusum_design()
        held = (design.level, design.m, design.threshold)
        if tuple(saved["design"][k] for k in ("level", "m", "threshold")) != held:
            raise BadInputError(
                f"watch checkpoint: made for the CUSUM {saved['design']}, this code's is "
                f"level {design.level}, m {design.m}, threshold {design.threshold}"
            )
        watch.cusum = BernoulliCusum(design, saved["statistic"], saved["n"], saved["alarms"])
        return watch
