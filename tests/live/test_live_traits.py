"""The live path follows a champion as its family's ``live_traits`` hook says, never by the
family's name: the volatility benchmark followed beside the champion (and resumed from a
checkpoint), the VaR exception watch, and a plug-in family's own choice."""

from __future__ import annotations

import json

import pytest

from riskops.families import get_family
from riskops.families.base import LiveTraits
from riskops.live import kinds
from riskops.live.book import LiveBook
from riskops.live.champions import LiveChampion
from riskops.live.observations import Observation
from riskops.settings import Settings
from riskops.var.family import VaRFamily
from tests.live.conftest import sp500_returns

TRAIN_DAYS = 1500
LIVE_DAYS = 30


def _days(n: int) -> list[Observation]:
    days = sp500_returns().iloc[TRAIN_DAYS : TRAIN_DAYS + n]
    return [
        Observation("sp500", ts, float(r), source="test", message_id=f"sp500@{i}")
        for i, (ts, r) in enumerate(days.items())
    ]


def _history(champion, series, before):  # type: ignore[no-untyped-def]
    return sp500_returns().iloc[:TRAIN_DAYS]


def test_the_volatility_benchmark_is_followed_and_resumed_from_its_checkpoint(
    settings: Settings,
) -> None:
    from riskops.market.volatility import GarchVolatility
    from riskops.volatility.live import GarchBenchmark

    returns = sp500_returns()
    estimator = GarchVolatility(dist="t").fit(returns.iloc[:TRAIN_DAYS])
    champion = LiveChampion(
        "market_vol", 1, get_family("volatility"), "run:digest", estimator, ("sp500",)
    )
    book = LiveBook(settings, champions=[champion], history=_history)
    days = _days(LIVE_DAYS)
    # Given the live days absorbed in three batches, the book forgetting its states between
    # them (each batch resumes the champion and the benchmark from the stored checkpoint)
    for start in range(0, LIVE_DAYS, 10):
        assert book.ingest(days[start : start + 10]).committed
        book.forget()
    # Then the last forecast carries the benchmark's variance, equal to a GARCH(1,1)-normal
    # benchmark fitted on the same history and followed through the same days in one go
    from riskops.evidence.store import EvidenceStore

    rows = EvidenceStore(settings).rows(kinds.FORECASTS, "market_vol/v1/sp500")
    last = json.loads(rows[-1]["forecast"])
    reference = GarchBenchmark().start(returns.iloc[:TRAIN_DAYS])
    for day in days:
        reference.update(day.ret, timestamp=day.ts)
    expected = reference.forecast().variance
    assert last["benchmark_variance"] == pytest.approx(expected, rel=1e-10)
    assert last["benchmark_variance"] != pytest.approx(last["variance"], rel=1e-3)


class _UnwatchedVar(VaRFamily):
    """A plug-in VaR family (same name, same models) whose exceptions are not watched."""

    def live_traits(self) -> LiveTraits:
        return LiveTraits()


@pytest.mark.parametrize(("family", "watched"), [(VaRFamily(), True), (_UnwatchedVar(), False)])
def test_the_exception_watch_is_the_familys_choice(
    settings: Settings, family: VaRFamily, watched: bool
) -> None:
    from riskops.evidence.store import EvidenceStore
    from riskops.market.var import GarchTVaR

    estimator = GarchTVaR().fit(sp500_returns().iloc[:TRAIN_DAYS])
    champion = LiveChampion("market_var", 1, family, "run:digest", estimator, ("sp500",))
    book = LiveBook(settings, champions=[champion], history=_history)
    # When ten days are absorbed
    assert book.ingest(_days(10)).committed
    # Then each day's score carries the sequential detectors only when the family asks for
    # the watch (both families are named "var")
    scores = EvidenceStore(settings).rows(kinds.SCORES, "market_var/v1/sp500")
    outcomes = [json.loads(r["outcome"]) for r in scores]
    assert len(outcomes) == 10
    assert all("exceptions" in o for o in outcomes)
    assert all(("detectors" in o) is watched for o in outcomes)
    assert family.name == "var"
