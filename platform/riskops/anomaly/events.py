"""Known US equity-market stress days, 1999-2018, for judging anomaly detectors.

The list was drawn up from market history before any model was scored, and is not
edited by looking at model output: it names the days that contemporary press and
later accounts single out (crashes, their rebounds, policy shocks, market-structure
failures), one row per day. ``sp500_move`` is the S&P 500's close-to-close move in
percent as widely reported; the tests check it against the bundled data, which makes
the dates verifiable rather than remembered.

The list is about US markets, so it is only meaningful for US index data; other
histories (e.g. the 1991-1998 European indices) have no curated events in their span.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["STRESS_EVENTS", "StressEvent", "events_frame", "events_in"]


@dataclass(frozen=True)
class StressEvent:
    """One day of market stress: when, what, and what happened."""

    date: str
    name: str
    description: str
    sp500_move: float
    """S&P 500 close-to-close change that day, percent, as reported."""


STRESS_EVENTS: tuple[StressEvent, ...] = (
    StressEvent(
        "2000-04-14",
        "Dot-com crash",
        "NASDAQ Composite -9.7% and S&P 500 -5.8% after a high CPI print, the worst day "
        "of the April 2000 collapse of technology stocks.",
        -5.8,
    ),
    StressEvent(
        "2001-09-17",
        "NYSE reopens after 9/11",
        "First trading day after the 11 September attacks closed US exchanges; the Dow "
        "falls 684 points (-7.1%), then its largest point drop.",
        -4.9,
    ),
    StressEvent(
        "2002-07-23",
        "July 2002 low",
        "S&P 500 closes at 797.70, the low of the sell-off that followed the WorldCom "
        "accounting fraud and its bankruptcy filing on 21 July 2002.",
        -2.7,
    ),
    StressEvent(
        "2007-02-27",
        "Shanghai sell-off",
        "A 9% fall of the Shanghai Composite spills over; the Dow's largest drop since "
        "September 2001, with a trading-system delay in its index.",
        -3.5,
    ),
    StressEvent(
        "2008-09-15",
        "Lehman Brothers bankruptcy",
        "Lehman Brothers files for Chapter 11 and Merrill Lynch is sold to Bank of "
        "America over the weekend.",
        -4.7,
    ),
    StressEvent(
        "2008-09-29",
        "TARP rejected",
        "The House of Representatives votes down the $700bn bank rescue; the Dow falls "
        "778 points, then its largest point drop.",
        -8.8,
    ),
    StressEvent(
        "2008-10-09",
        "October 2008 crash",
        "The Dow's worst week on record (6-10 October) goes on despite coordinated "
        "central-bank rate cuts on 8 October.",
        -7.6,
    ),
    StressEvent(
        "2008-10-13",
        "Bank-rescue rally",
        "After G7 and European governments pledge to recapitalise banks, the S&P 500 "
        "has its largest one-day gain since the 1930s.",
        11.6,
    ),
    StressEvent(
        "2008-10-15",
        "Recession fears",
        "Weak retail sales and the Fed's Beige Book signal recession; the S&P 500's "
        "worst day since the 1987 crash.",
        -9.0,
    ),
    StressEvent(
        "2008-10-22",
        "Global recession sell-off",
        "Weak earnings and recession fears send global markets and commodities down.",
        -6.1,
    ),
    StressEvent(
        "2008-10-24",
        "Global crash Friday",
        "Asian and European markets crash overnight and US index futures hit limit "
        "down before the open.",
        -3.5,
    ),
    StressEvent(
        "2008-11-20",
        "November 2008 low",
        "S&P 500 closes at 752.44, its lowest since 1997, amid doubts about a rescue "
        "of Detroit's carmakers.",
        -6.7,
    ),
    StressEvent(
        "2008-12-01",
        "NBER recession call",
        "The NBER declares that a US recession began in December 2007.",
        -8.9,
    ),
    StressEvent(
        "2010-05-06",
        "Flash crash",
        "US indices fall about 9% intraday and recover within minutes; the SEC-CFTC "
        "report blames a large sell order in E-mini futures.",
        -3.2,
    ),
    StressEvent(
        "2011-08-04",
        "European debt-crisis sell-off",
        "Fears of contagion from Italy and Spain; the S&P 500's largest drop since 2009.",
        -4.8,
    ),
    StressEvent(
        "2011-08-08",
        "US credit downgrade",
        "First trading day after Standard & Poor's cut the US rating from AAA on 5 August 2011.",
        -6.7,
    ),
    StressEvent(
        "2015-08-24",
        "China devaluation Monday",
        "After the yuan devaluation and a Chinese stock rout, the Dow falls over 1,000 "
        "points at the open and many ETFs are halted.",
        -3.9,
    ),
    StressEvent(
        "2016-06-24",
        "Brexit referendum",
        "The UK votes to leave the European Union; sterling has its largest one-day "
        "fall on record.",
        -3.6,
    ),
    StressEvent(
        "2018-02-05",
        "Volmageddon",
        "The VIX more than doubles and short-volatility exchange-traded notes "
        "collapse; the Dow falls 1,175 points.",
        -4.1,
    ),
    StressEvent(
        "2018-10-10",
        "October 2018 rate scare",
        "Rising Treasury yields trigger a technology-led sell-off; NASDAQ -4.1%.",
        -3.3,
    ),
    StressEvent(
        "2018-12-24",
        "Christmas Eve sell-off",
        "In a shortened session, after the Treasury Secretary's calls to bank CEOs "
        "about liquidity, the S&P 500 nears a bear market.",
        -2.7,
    ),
)


def events_frame(events: tuple[StressEvent, ...] = STRESS_EVENTS) -> pd.DataFrame:
    """The curated events as a frame indexed by date (``name``, ``description``, ``sp500_move``)."""
    frame = pd.DataFrame(
        {
            "name": [e.name for e in events],
            "description": [e.description for e in events],
            "sp500_move": [e.sp500_move for e in events],
        },
        index=pd.DatetimeIndex([e.date for e in events], name="date"),
    )
    return frame.sort_index()


def events_in(index: pd.Index, events: tuple[StressEvent, ...] = STRESS_EVENTS) -> pd.DataFrame:
    """The curated events whose date is one of ``index``'s trading days."""
    frame = events_frame(events)
    return frame[frame.index.isin(pd.DatetimeIndex(index))]
