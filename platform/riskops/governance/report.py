"""The validation report: one self-contained HTML file per version, and its publication.

The report holds the challenger-vs-champion comparison, the family's figures (embedded
as base64 PNG data URIs), the per-feature drift table and, when it is self-contained,
Evidently's own drift report in an ``<iframe srcdoc>``, followed by every section of the
model card. Nothing in it is fetched over the network: no external CSS, scripts or fonts.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskops.documents.blocks import Block, Facts, Table, Text, fmt
from riskops.governance.card import (
    ModelCard,
    build_card,
    caveats,
    drift_record,
    not_evaluated,
)
from riskops.governance.facts import DRIFT_HTML, GOVERNANCE_DIR

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts
    from riskops.documents.figures import Figure
    from riskops.settings import Settings

REPORT_FILE = "validation_report.html"
CARD_MD_FILE = "model_card.md"
CARD_HTML_FILE = "model_card.html"
MAX_EVIDENTLY_BYTES = 20_000_000
_FIGURE_GROUPS = (
    ("performance", "Performance and backtests"),
    ("explainability", "Explainability (SHAP)"),
)
"""Figure groups of the Figures section; drift figures go to the drift section."""
_HALF_WIDTH = ("roc", "calibration", "shap_importance", "shap_summary")
_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE
)


# ------------------------------------------------------------------- templates
@functools.cache
def _environment() -> Any:
    # One environment per process: it keeps the compiled templates (compiling them is most of
    # the cost of the documents logged at every registration and promotion).
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=lambda name: (name or "").endswith(".html.j2"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _md_cell
    env.filters["status"] = _status_class
    env.tests["stacked"] = _stacked
    return env


_STACKED_COLUMNS = 5
_STACKED_CELL = 40


def _stacked(table: Any) -> bool:
    """Whether a table becomes one labelled card per row on a narrow screen: five columns or
    more with sentences in them (gates, history). Tables of numbers stay tables."""
    return len(table.columns) >= _STACKED_COLUMNS and any(
        len(str(value)) > _STACKED_CELL for row in table.rows for value in row
    )


def _md_cell(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _status_class(value: Any) -> str:
    text = str(value).lower()
    if text in ("pass", "passed", "green", "better", "stable"):
        return "pass"
    if text in ("fail", "failed", "error", "red", "worse beyond tolerance", "drifted"):
        return "fail"
    if text in ("yellow", "within tolerance"):
        return "warn"
    return ""


def render_markdown(card: ModelCard) -> str:
    """The card as GitHub-flavoured Markdown."""
    text = _environment().get_template("model_card.md.j2").render(card=card)
    # Blank lines between blocks collapse to one; Markdown needs no more.
    return re.sub(r"\n{3,}", "\n\n", text)


def render_card_html(card: ModelCard) -> str:
    """The card as a standalone HTML page (inline CSS only)."""
    return _environment().get_template("model_card.html.j2").render(card=card)


# ------------------------------------------------------------------ comparison
def _change(new: float | None, old: float | None) -> str:
    if new is None or old is None:
        return "–"
    return f"{new - old:+.4g}"


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def comparison_blocks(facts: VersionFacts) -> list[Block]:
    """Challenger vs champion: the champion scored on this version's window (from the gate
    evidence) and, when it is another version, the current champion's own run metrics."""
    mine = facts.metrics
    same_window = facts.gate_evidence.get("champion") or None
    current = facts.champion
    blocks: list[Block] = []
    columns: list[tuple[str, dict[str, Any]]] = []
    if same_window:
        columns.append(
            (
                f"champion v{same_window['version']} (same window)",
                dict(same_window.get("metrics") or {}),
            )
        )
    if (
        current is not None
        and not facts.is_champion
        and (not same_window or int(same_window["version"]) != current.version)
    ):
        columns.append((f"current champion v{current.version} (own run)", facts.champion_metrics))
    if facts.is_champion:
        blocks.append(Text(f"v{facts.version} is the current champion."))
    if not columns:
        blocks.append(
            Text(
                "No champion to compare with: this version was trained when there was no "
                "champion" + (", and it is the champion now." if facts.is_champion else ".")
            )
        )
        return blocks
    if same_window:
        blocks.append(
            Text(
                f"The champion of the time (v{same_window['version']}) was re-evaluated at "
                "training time on exactly this version's evaluation window; this is the "
                "like-for-like comparison the champion gate judges."
            )
        )
    if current is not None and any(label.startswith("current") for label, _ in columns):
        blocks.append(
            Text(
                f"The current champion v{current.version} is shown with the metrics of its own "
                "training run, whose evaluation window may differ."
            )
        )
    rules = {r.metric: r for r in (facts.policy.champion if facts.policy else ())}
    header = ["metric", f"v{facts.version} (this version)"]
    for label, _ in columns:
        header += [label, "change"]
    header += ["champion gate", "reading"]
    rows = []
    for metric in sorted(mine):
        new = _num(mine[metric])
        row = [metric, fmt(new)]
        for _, theirs in columns:
            old = _num(theirs.get(metric))
            row += [fmt(old), _change(new, old)]
        rule = rules.get(metric)
        reading = ""
        if rule is not None:
            old = _num(columns[0][1].get(metric))
            if new is not None and old is not None:
                change = (new - old) if rule.higher_is_better else (old - new)
                reading = (
                    "better"
                    if change >= 0
                    else "within tolerance"
                    if change >= -rule.max_degradation - 1e-12
                    else "worse beyond tolerance"
                )
            direction = "higher" if rule.higher_is_better else "lower"
            row.append(f"{direction} is better; tolerance {rule.max_degradation:g}")
        else:
            row.append("")
        row.append(reading)
        rows.append(tuple(row))
    rows.sort(key=lambda r: (r[-2] == "", r[0]))
    blocks.append(Table(tuple(header), tuple(rows), "Metrics, challenger vs champion"))
    return blocks


# ----------------------------------------------------------------------- drift
def drift_blocks(facts: VersionFacts) -> list[Block]:
    """Summary and per-feature table of the data drift, and the prediction drift."""
    drift = facts.gate_evidence.get("data_drift") or {}
    blocks: list[Block] = []
    if not drift:
        return [Text("No data-drift evidence was logged with this version.")]
    limit = facts.policy.data_drift.max_drift_share if facts.policy else None
    if drift.get("evaluated") is False:
        blocks.append(Text(f"Data drift {not_evaluated(drift)}"))
        drift = {}
    else:
        blocks.append(_drift_summary(drift, limit, drift_record(drift, facts.policy)))
    columns = drift.get("columns") or {}
    if columns:
        blocks.append(_drift_table(columns))
    pred = facts.gate_evidence.get("prediction_drift")
    if pred:
        limit_psi = facts.policy.prediction_drift.max_psi if facts.policy else None
        blocks.append(
            Facts(
                (
                    (
                        "Prediction drift vs champion (PSI)",
                        fmt(pred.get("psi"))
                        + (f" (gate limit {limit_psi:g})" if limit_psi is not None else ""),
                    ),
                    ("Spearman correlation of outputs", fmt(pred.get("spearman"))),
                    (
                        "Mean output, challenger / champion",
                        f"{fmt(pred.get('mean_challenger'))} / {fmt(pred.get('mean_champion'))}",
                    ),
                    ("Rows", fmt(pred.get("n"))),
                )
            )
        )
    return blocks


def _drift_summary(drift: dict[str, Any], limit: float | None, record: tuple[str, str]) -> Facts:
    share = _num(drift.get("share_of_drifted_columns"))
    window = drift.get("window") or {}
    return Facts(
        (
            (
                "Share of drifted features",
                ("–" if share is None else f"{share:.0%}")
                + (f" (gate limit {limit:.0%})" if limit is not None else ""),
            ),
            ("Drifted features", ", ".join(drift.get("drifted_columns") or []) or "none"),
            record,
            ("Recent window", str(window.get("source") or "–")),
            ("Reference (training) rows", fmt(drift.get("n_reference"))),
            ("Recent-window rows", fmt(drift.get("n_current"))),
            ("Rows compared per side (seeded sample)", fmt(drift.get("sampled_rows"))),
        )
    )


def _drift_table(columns: dict[str, Any]) -> Table:
    return Table(
        ("feature", "test", "statistic", "threshold", "result"),
        tuple(
            (
                name,
                str(c.get("stattest")),
                fmt(c.get("score")),
                fmt(c.get("threshold")),
                "drifted" if c.get("drifted") else "stable",
            )
            for name, c in sorted(columns.items())
        ),
        "Per-feature drift tests (Evidently), training sample vs recent window",
    )


def evidently_embed(facts: VersionFacts) -> tuple[str | None, str]:
    """Evidently's HTML when it can be embedded self-contained, else ``None`` and why not."""
    path = facts.local(DRIFT_HTML)
    if path is None:
        return None, "No Evidently HTML report was logged with this version."
    if path.stat().st_size > MAX_EVIDENTLY_BYTES:
        return None, f"The Evidently report ({facts.uri(DRIFT_HTML)}) is too large to embed."
    html = path.read_text(encoding="utf-8", errors="replace")
    if _EXTERNAL.search(html):
        return None, (
            f"The Evidently report ({facts.uri(DRIFT_HTML)}) loads external "
            "resources, so it is linked rather than embedded."
        )
    return html, ""


def _evidently_link(facts: VersionFacts) -> str:
    if DRIFT_HTML not in facts.artifacts:
        return ""
    return f"Evidently's drift report is logged with the run: {facts.uri(DRIFT_HTML)}."


# ---------------------------------------------------------------------- report
@dataclass(frozen=True)
class Documents:
    """A version's rendered governance documents."""

    card: ModelCard
    card_markdown: str
    card_html: str
    report_html: str
    figures: list[Figure] = field(default_factory=list)
    evidently_embedded: bool = False


def render_report(
    facts: VersionFacts, card: ModelCard, figures: list[Figure], *, evidently: bool = True
) -> tuple[str, bool]:
    """The validation report as one HTML string; also whether Evidently's report is in it."""
    embed, note = evidently_embed(facts) if evidently else (None, _evidently_link(facts))
    latest = facts.latest_gate_report
    if latest is None:
        verdict, verdict_class = "not yet gated", ""
    elif latest["report"].get("passed"):
        verdict, verdict_class = "gates passed", "pass"
    else:
        verdict, verdict_class = "gates failed", "fail"
    html = (
        _environment()
        .get_template("validation_report.html.j2")
        .render(
            card=card,
            verdict=verdict,
            verdict_class=verdict_class,
            aliases=", ".join(facts.info.aliases),
            comparison=comparison_blocks(facts),
            figures=figures,
            figure_groups=_FIGURE_GROUPS,
            half_width=_HALF_WIDTH,
            drift=drift_blocks(facts),
            evidently_html=embed,
            evidently_note=note,
        )
    )
    return html, embed is not None


def build_documents(facts: VersionFacts, *, evidently: bool = True, draw: bool = True) -> Documents:
    """Card (Markdown and HTML) and validation report of a version, from its facts.

    ``draw=False`` shows only the plots the run logged (no figure is drawn here).
    """
    from riskops.governance.figures import collect_figures

    card = build_card(facts)
    figures = collect_figures(facts, draw=draw)
    report, embedded = render_report(facts, card, figures, evidently=evidently)
    return Documents(card, render_markdown(card), render_card_html(card), report, figures, embedded)


def generate(
    settings: Settings,
    name: str,
    version: int | None = None,
    *,
    out: Path,
    card_path: Path | None = None,
    log: bool = True,
    evidently: bool = True,
    artifact_dir: str | None = None,
) -> dict[str, Any]:
    """Write a version's validation report (and card), and log both to its run.

    They are logged under ``artifact_dir``, by default ``governance/report-<UTC time>/``: the
    copies logged at registration (``governance/``) and at each promotion decision
    (``governance/promotion-<seq>/``, see :mod:`riskops.governance.publish`) stay as they were.
    Returns a summary: model, version, run, written paths, logged artifact URIs, figures.
    """
    from datetime import UTC, datetime

    from riskops import tracking
    from riskops.governance.facts import collect
    from riskops.settings import scratch_dir

    with scratch_dir(settings, "governance") as tmp:
        facts = collect(settings, name, version, workdir=tmp / "artifacts")
        docs = build_documents(facts, evidently=evidently)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(docs.report_html, encoding="utf-8")
        written = {"report": str(out)}
        if card_path is not None:
            card_path = Path(card_path)
            card_path.parent.mkdir(parents=True, exist_ok=True)
            card_path.write_text(docs.card_markdown, encoding="utf-8")
            written["card"] = str(card_path)
        logged: dict[str, str] = {}
        if log:
            if artifact_dir is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                artifact_dir = f"{GOVERNANCE_DIR}/report-{stamp}"
            staging = Path(tmp) / GOVERNANCE_DIR
            staging.mkdir()
            for file_name, text in (
                (REPORT_FILE, docs.report_html),
                (CARD_MD_FILE, docs.card_markdown),
                (CARD_HTML_FILE, docs.card_html),
            ):
                path = staging / file_name
                path.write_text(text, encoding="utf-8")
                logged[file_name] = tracking.log_file(settings, facts.run_id, path, artifact_dir)
        return {
            "model": facts.name,
            "version": facts.version,
            "family": facts.family,
            "run_id": facts.run_id,
            "written": written,
            "logged": logged,
            "figures": [f.to_dict() for f in docs.figures],
            "evidently_embedded": docs.evidently_embedded,
            "report_bytes": len(docs.report_html.encode("utf-8")),
            "caveats": caveats(facts),
        }
