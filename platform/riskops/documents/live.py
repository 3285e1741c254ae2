"""The "since promotion" section of a market champion's card and report.

What the version's live record (:func:`riskops.live.record.champion_record`, collected into
:attr:`~riskops.documents.facts.VersionFacts.live`) says per series: the days scored, the
traffic light, exceptions against expectation, the backtests' p-values on the live days, the
volatility losses or the alert rate, every alarm, and the seals of the streams it was read
from. A version with no live day says so (never an empty section).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskops.documents.blocks import Block, Facts, Section, Table, Text, fmt

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts

__all__ = ["market_sections", "shadow_window", "since_promotion"]


def _stream_blocks(summary: dict[str, Any]) -> list[Block]:
    pairs = [
        ("Series", str(summary["series"])),
        ("Live days scored", fmt(summary["days"])),
        ("First and last day", f"{summary['first_day']} to {summary['last_day']}"),
    ]
    if summary.get("zone") is not None:
        pairs.append(("Traffic light, last 250 days (99%)", str(summary["zone"])))
    seal = summary["seals"]["scores"]
    pairs.append(("Scores stream sealed at", f"row {seal['seq']}, {seal['hash'][:16]}..."))
    blocks: list[Block] = [Facts(tuple(pairs))]
    var = summary.get("var") or {}
    rows: list[tuple[str, ...]]
    if var:
        rows = []
        for tag, level in sorted(var.items()):
            for name, value in level["pvalues"].items():
                rows.append((f"{tag}%", name, fmt(value)))
            rows.append(
                (
                    f"{tag}%",
                    "exceptions / expected",
                    f"{level['exceptions']} / {level['expected']:.1f}",
                )
            )
        blocks.append(Table(("level", "statistic", "value"), tuple(rows), "Live VaR backtests"))
    volatility = summary.get("volatility")
    if volatility:
        keys = ("qlike", "qlike_benchmark", "dm_pvalue", "mz_beta", "mz_joint_pvalue", "n_eval")
        rows = [(k, fmt(volatility.get(k))) for k in keys if k in volatility]
        blocks.append(Table(("statistic", "value"), tuple(rows), "Live variance forecasts"))
    anomaly = summary.get("anomaly")
    if anomaly:
        rows = [(k, fmt(v)) for k, v in anomaly.items()]
        blocks.append(Table(("statistic", "value"), tuple(rows), "Live alert rate"))
    alarms = summary.get("alarms") or []
    if alarms:
        rows = [(a["detector"], str(a["day"]), fmt(a["detail"])) for a in alarms]
        blocks.append(Table(("detector", "day", "detail"), tuple(rows), "Alarms"))
    if summary.get("not_evaluated"):
        items = "; ".join(f"{k}: {v}" for k, v in summary["not_evaluated"].items())
        blocks.append(Text(f"Not evaluated: {items}."))
    return blocks


def since_promotion(facts: VersionFacts) -> tuple[Section, ...]:
    """The section (one per card), from the version's live record."""
    record = facts.live
    streams = (record or {}).get("streams") or []
    if not streams:
        text = (
            "Not evaluated: this version has no live day scored (no observation reached it "
            "through riskops stream, riskops observe or POST /market/observe while it was "
            "champion)."
        )
        return (Section("since_promotion", "Since promotion", (Text(text),)),)
    blocks: list[Block] = []
    for summary in streams:
        blocks += _stream_blocks(summary)
    return (Section("since_promotion", "Since promotion", tuple(blocks)),)


def shadow_window(facts: VersionFacts) -> tuple[Section, ...]:
    """The shadow window as the last gate report that judged one read it (issue 30): the
    window (dates, days, series) and each comparison of challenger and champion on it, with
    the decision and the stream heads sealed; nothing for a version never judged in shadow."""
    for entry in reversed(facts.gate_reports):
        report = entry.get("report") or {}
        results = [r for r in report.get("results") or [] if r["gate"].startswith("shadow")]
        if not results:
            continue
        rows = tuple(
            (
                r["gate"],
                "passed" if r["passed"] else "refused",
                "yes" if r.get("evaluated", True) else "no (not evaluated)",
                r["reason"],
            )
            for r in results
        )
        blocks: list[Block] = [
            Text(
                f"Judged against champion v{report.get('champion_version')} on the live days "
                f"both versions forecast while this version was in shadow "
                f"({entry.get('artifact', 'gate report')})."
            ),
            Table(("gate", "decision", "evaluated", "reason"), rows, "Shadow window"),
        ]
        seals = [s for s in report.get("seals") or [] if "stream" in s]
        if seals:
            sealed = tuple(
                (s["kind"], s["stream"], fmt(s["seq"]), f"{s['hash'][:16]}...") for s in seals
            )
            blocks.append(Table(("kind", "stream", "row", "hash"), sealed, "Streams sealed"))
        return (Section("shadow_window", "Shadow window", tuple(blocks)),)
    return ()


def market_sections(facts: VersionFacts) -> tuple[Section, ...]:
    """A market version's live sections: since its promotion, and its shadow window."""
    return (*since_promotion(facts), *shadow_window(facts))
