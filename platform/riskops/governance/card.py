"""Model cards: a structured document built from :class:`~riskops.governance.facts.VersionFacts`.

A card is a list of sections, each a list of blocks (text, bullets, key-value facts,
tables). The same card renders to Markdown and to HTML (Jinja2 templates), and the
validation report embeds its sections, so a fact is written down once. The only
hand-written text comes from :mod:`riskops.governance.texts`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from riskops.governance.history import history_rows
from riskops.governance.texts import family_text

if TYPE_CHECKING:
    from riskops.governance.facts import VersionFacts

TOP_SHAP_FEATURES = 10
_SMALL_EVAL = 250
"""Evaluation windows shorter than a trading year get a low-power caveat."""
_FEW_EVENTS = 10


# ---------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Text:
    text: str
    kind: str = "text"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    title: str = ""
    kind: str = "bullets"


@dataclass(frozen=True)
class Facts:
    """Key-value pairs, rendered as a two-column table."""

    pairs: tuple[tuple[str, str], ...]
    kind: str = "facts"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    kind: str = "table"


Block = Text | Bullets | Facts | Table


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ModelCard:
    """A model card of one registered version."""

    name: str
    version: int
    family: str
    model_kind: str
    title: str
    generated_at: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------ formatting
def fmt(value: Any) -> str:
    """A cell: 4 significant digits for floats, ``–`` for missing values."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value.is_integer() and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return str(value)


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _time_ms(ms: int | None) -> str:
    if not ms:
        return "–"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- builder
def _credit_sections(facts: VersionFacts) -> tuple[Section, ...]:
    from riskops.governance.credit_evidence import credit_evidence_section

    section = credit_evidence_section(facts)
    return () if section is None else (section,)


def build_card(facts: VersionFacts) -> ModelCard:
    """The model card of a version, from its facts alone."""
    text = family_text(facts.family)
    sections = (
        _details(facts),
        Section(
            "purpose",
            "Purpose and intended use",
            (
                Text(text.purpose),
                Bullets(text.intended_uses, "Intended uses"),
                Bullets(text.out_of_scope, "Out of scope"),
            ),
        ),
        _data(facts),
        _methodology(facts, text.methodology),
        _performance(facts),
        _explainability(facts),
        Section(
            "limitations",
            "Limitations and assumptions",
            (
                Bullets(text.assumptions, "Assumptions"),
                Bullets(text.limitations, "Known limitations of the method"),
                Bullets(
                    tuple(caveats(facts)) or ("No version-specific caveats were found.",),
                    "Caveats from this version's evidence",
                ),
            ),
        ),
        *_credit_sections(facts),
        _gates(facts),
        _history(facts),
        _lineage(facts),
    )
    return ModelCard(
        name=facts.name,
        version=facts.version,
        family=facts.family,
        model_kind=facts.model_kind,
        title=f"{facts.name} v{facts.version}: {text.title}",
        generated_at=facts.generated_at,
        sections=sections,
    )


def _details(facts: VersionFacts) -> Section:
    tags = facts.tags
    pairs = [
        ("Registered model", facts.name),
        ("Version", str(facts.version)),
        ("Family", facts.family),
        ("Model kind", facts.model_kind),
        ("Aliases", ", ".join(facts.info.aliases) or "none"),
        ("Validation status", tags.get("validation_status", "–")),
        ("Registered at (UTC)", _time_ms(facts.info.created_at_ms)),
        ("Run", facts.run_id),
        ("Current champion", f"v{facts.champion.version}" if facts.champion else "none"),
    ]
    if tags.get("override_reason"):
        pairs.append(("Override reason", tags["override_reason"]))
    if tags.get("rolled_back"):
        pairs.append(("Rolled back", tags["rolled_back"]))
    pairs.append(("Card generated at (UTC)", facts.generated_at))
    return Section("details", "Model details", (Facts(tuple(pairs)),))


def _data(facts: VersionFacts) -> Section:
    data = facts.dataset
    source = facts.lineage.get("source") or {}
    period = data.get("period")
    pairs = [
        ("Dataset", fmt(data.get("name"))),
        ("Source", fmt(data.get("source"))),
        ("Content hash", fmt(data.get("content_hash") or facts.tags.get("dataset_hash"))),
        ("Schema version", fmt(data.get("schema_version") or facts.tags.get("schema_version"))),
        ("Period", f"{period[0]} to {period[1]}" if period else "–"),
        ("Rows", fmt(data.get("rows"))),
    ]
    if data.get("assets"):
        pairs.append(("Assets", fmt(data["assets"])))
    if data.get("columns"):
        pairs.append(("Columns", fmt(data["columns"])))
    if data.get("target"):
        pairs.append(("Target", f"{data['target']} (positive label {data.get('positive_label')})"))
    if data.get("positive_rate") is not None:
        pairs.append(("Positive (default) rate", f"{float(data['positive_rate']):.2%}"))
    if source.get("path"):
        mapping = {k: v for k, v in source.items() if k not in ("domain", "path")}
        pairs.append(("Column mapping", fmt([f"{k}={v}" for k, v in mapping.items()])))
    elif source:
        pairs.append(("Column mapping", "bundled dataset, standard columns"))
    recent = facts.lineage.get("recent_window")
    if recent:
        pairs.append(
            (
                "Recent window (drift reference)",
                f"{recent.get('name')} ({recent.get('content_hash')})",
            )
        )
    drift = facts.gate_evidence.get("data_drift") or {}
    if drift:
        from riskops.governance.market_evidence import drift_record

        pairs.append(
            (
                "Drift check sample",
                f"{drift.get('n_reference')} reference rows vs "
                f"{drift.get('n_current')} recent rows",
            )
        )
        pairs.append(drift_record(drift, facts.policy))
    return Section("data", "Data", (Facts(tuple(pairs)),))


def _methodology(facts: VersionFacts, methodology: str) -> Section:
    blocks: list[Block] = [Text(methodology)]
    params = facts.params
    blocks.append(
        Table(
            ("parameter", "value"),
            tuple((k, params[k]) for k in sorted(params)),
            f"Hyperparameters and training settings of {facts.model_kind} (run params)",
        )
    )
    fitted = facts.evidence.get("params")
    if isinstance(fitted, dict) and fitted:
        rows = tuple((str(k), fmt(v)) for k, v in fitted.items() if not isinstance(v, dict))
        if rows:
            blocks.append(Table(("parameter", "estimate"), rows, "Fitted parameters"))
    return Section("methodology", "Methodology and hyperparameters", tuple(blocks))


def gate_thresholds(facts: VersionFacts) -> dict[str, str]:
    """The policy's limit on each metric, in words (``>= 0.75``, ``<= qlike_benchmark + 0.01``)."""
    out: dict[str, str] = {}
    policy = facts.policy
    if policy is None:
        return out
    for check in (*policy.floors, *policy.backtests):
        parts = []
        if check.min is not None:
            parts.append(f"≥ {check.min:g}")
        if check.max is not None:
            parts.append(f"≤ {check.max:g}")
        if check.min_metric is not None:
            parts.append(f"≥ {check.min_metric}")
        if check.max_metric is not None:
            parts.append(f"≤ {check.max_metric} + {check.tolerance:g}")
        if check.not_in:
            parts.append(f"not {'/'.join(check.not_in)}")
        text = " and ".join(parts)
        # Two checks on one metric (a floor and a baseline) are both shown.
        out[check.metric] = f"{out[check.metric]} and {text}" if check.metric in out else text
    for rule in policy.champion:
        worse = "lower" if rule.higher_is_better else "higher"
        text = f"vs champion: at most {rule.max_degradation:g} {worse}"
        out[rule.metric] = f"{out[rule.metric]}; {text}" if rule.metric in out else text
    return out


def _performance(facts: VersionFacts) -> Section:
    metrics = facts.metrics
    limits = gate_thresholds(facts)
    window = facts.evidence.get("eval_window")
    blocks: list[Block] = []
    if window:
        blocks.append(Text(f"Evaluation window {window[0]} to {window[1]} (out of sample)."))
    blocks.append(
        Table(
            ("metric", "value", "gate limit"),
            tuple((k, fmt(metrics[k]), limits.get(k, "")) for k in sorted(metrics)),
            "Held-out metrics logged with the run",
        )
    )
    blocks += _family_tables(facts)
    return Section("performance", "Performance and backtests", tuple(blocks))


def _family_tables(facts: VersionFacts) -> list[Block]:
    evidence, metrics = facts.evidence, facts.metrics
    if facts.family == "var":
        from riskops.governance.market_evidence import var_gate_blocks

        if not evidence.get("backtests"):
            return []
        return [*var_gate_blocks(evidence, facts.policy), backtest_table(evidence)]
    if facts.family == "volatility" and "dm_stat" in metrics:
        rows = (
            (
                "Diebold-Mariano (QLIKE loss vs GARCH(1,1)-normal)",
                fmt(metrics.get("dm_stat")),
                fmt(metrics.get("dm_pvalue")),
                _dm_reading(metrics),
            ),
            (
                "Mincer-Zarnowitz (realised on forecast; joint HAC Wald, bootstrap p)",
                f"α={fmt(metrics.get('mz_alpha'))}, β={fmt(metrics.get('mz_beta'))}, "
                f"R²={fmt(metrics.get('mz_r2'))}",
                fmt(metrics.get("mz_joint_pvalue", metrics.get("mz_pvalue"))),
                "unbiasedness (α=0, β=1) "
                + (
                    "rejected"
                    if (_number(metrics.get("mz_joint_pvalue", metrics.get("mz_pvalue"))) or 1)
                    < 0.05
                    else "not rejected"
                ),
            ),
        )
        return [Table(("test", "statistic", "p-value", "reading"), rows, "Forecast evaluation")]
    if facts.family == "anomaly" and evidence.get("events"):
        from riskops.governance.market_evidence import anomaly_baseline_blocks

        events = tuple(
            (
                str(e.get("date", "")),
                str(e.get("name", "")),
                fmt(e.get("rank")),
                fmt(e.get("in_top")),
                fmt(e.get("holdout")),
            )
            for e in evidence["events"]
        )
        return [
            *anomaly_baseline_blocks(metrics),
            Table(
                ("date", "event", "rank", "in top 1%", "held out"),
                events,
                "Curated stress events and their rank among all days",
            ),
        ]
    return _record_tables(evidence)


def _record_tables(evidence: dict[str, Any]) -> list[Block]:
    """Flat record lists in a family's evidence (e.g. a credit grade table) as tables."""
    out: list[Block] = []
    for key, value in evidence.items():
        if not (isinstance(value, list) and value and len(value) <= 40):
            continue
        if not all(isinstance(r, dict) for r in value):
            continue
        columns = list(value[0])
        if any(isinstance(v, dict | list) for r in value for v in r.values()):
            continue
        rows = tuple(tuple(fmt(r.get(c)) for c in columns) for r in value)
        out.append(Table(tuple(columns), rows, key.replace("_", " ")))
    return out


def _dm_reading(metrics: dict[str, float]) -> str:
    p, stat = _number(metrics.get("dm_pvalue")), _number(metrics.get("dm_stat"))
    if p is None or stat is None:
        return "–"
    if p >= 0.05:
        return "no significant difference from the benchmark at 5%"
    # The family computes DM on model loss minus benchmark loss: negative favours the model.
    better = stat < 0
    return "significantly " + ("better" if better else "worse") + " than the benchmark at 5%"


def backtest_table(evidence: dict[str, Any]) -> Table:
    """VaR/ES backtests per level and test, from the family's evidence."""
    rows = []
    for tag, tests in (evidence.get("backtests") or {}).items():
        for name, res in tests.items():
            counts = (
                f"{res['exceptions']} / {res['n']}" if "n" in res else fmt(res.get("exceptions"))
            )
            rows.append(
                (
                    f"{tag}%",
                    name.replace("_", " "),
                    fmt(res.get("statistic")),
                    fmt(res.get("pvalue")),
                    counts,
                    fmt(res.get("zone")),
                    "pass" if res.get("passed") else "fail",
                )
            )
    return Table(
        ("level", "test", "statistic", "p-value", "exceptions / days", "zone", "result"),
        tuple(rows),
        "VaR and ES backtests over the evaluation window",
    )


def shap_importance(facts: VersionFacts) -> list[tuple[str, float]]:
    """Features by mean |SHAP|, largest first, from ``shap_global_importance.json``."""
    import json

    path = facts.local("shap/shap_global_importance.json")
    if path is None:
        return []
    values = json.loads(path.read_text())
    return sorted(((str(k), float(v)) for k, v in values.items()), key=lambda kv: -kv[1])


def _explainability(facts: VersionFacts) -> Section:
    importance = shap_importance(facts)
    if not importance:
        return Section(
            "explainability",
            "Global SHAP importance",
            (Text(f"No SHAP artifacts were logged for {facts.model_kind} models."),),
        )
    total = sum(v for _, v in importance) or 1.0
    rows = tuple(
        (str(i), name, f"{value:.4g}", f"{value / total:.1%}")
        for i, (name, value) in enumerate(importance[:TOP_SHAP_FEATURES], start=1)
    )
    return Section(
        "explainability",
        "Global SHAP importance",
        (
            Table(
                ("rank", "feature", "mean |SHAP|", "share"),
                rows,
                f"Top {len(rows)} of {len(importance)} features",
            ),
        ),
    )


def _gates(facts: VersionFacts) -> Section:
    latest = facts.latest_gate_report
    if latest is None:
        return Section(
            "gates",
            "Gate results",
            (Text("No gate report yet: promotion has not been attempted for this version."),),
        )
    report = latest["report"]
    verdict = "passed" if report.get("passed") else "failed"
    champion = report.get("champion_version")
    against = f"against champion v{champion}" if champion else "without a champion to beat"
    rows = tuple(
        (
            r["gate"],
            ("pass" if r.get("passed") else ("error" if r.get("errored") else "fail"))
            + (" (not evaluated)" if r.get("evaluated", True) is False else ""),
            fmt(r.get("observed")),
            fmt(r.get("threshold")),
            r.get("reason", ""),
        )
        for r in report.get("results", [])
    )
    blocks: list[Block] = [
        Text(
            f"Latest gate report ({facts.uri(latest['artifact'])}): {verdict}, {against}. "
            f"{len(facts.gate_reports)} gate report(s) in total."
        ),
        Table(("gate", "result", "observed", "limit", "reason"), rows),
    ]
    return Section("gates", "Gate results", tuple(blocks))


def _history(facts: VersionFacts) -> Section:
    rows = history_rows(facts.audit, facts.version)
    if not rows:
        return Section(
            "history",
            "Approval and promotion history",
            (Text("No audit records concern this version."),),
        )
    table = Table(
        ("seq", "time (UTC)", "actor", "action", "version", "alias change", "decision", "evidence"),
        tuple(
            (
                str(r.seq),
                r.time,
                r.actor,
                r.action,
                fmt(r.version),
                r.alias_changes,
                r.decision,
                r.evidence,
            )
            for r in rows
        ),
        "Audit records that concern this version (hash-chained trail)",
    )
    check = facts.audit_check
    chain = (
        "–"
        if check is None
        else f"intact ({check.records} records)"
        if check.ok
        else f"BROKEN at record {check.first_broken}: {check.reason}"
    )
    return Section(
        "history", "Approval and promotion history", (Text(f"Audit chain: {chain}."), table)
    )


def _lineage(facts: VersionFacts) -> Section:
    parent = facts.lineage.get("parent_champion") or {}
    pairs = (
        ("Run", facts.run_id),
        ("Training data hash", fmt(facts.dataset.get("content_hash"))),
        ("Code version", fmt(facts.lineage.get("code_version") or facts.tags.get("code_version"))),
        (
            "Parent champion",
            f"v{parent['version']} (run {parent.get('run_id')})"
            if parent
            else "none (first champion candidate)",
        ),
        ("Gate evidence", facts.uri("gate_evidence.json")),
        ("Model URI", facts.info.uri),
    )
    return Section("lineage", "Lineage", (Facts(pairs),))


# --------------------------------------------------------------------------- caveats
def caveats(facts: VersionFacts) -> list[str]:
    """Warnings read from this version's evidence, tags and lineage."""
    out = _general_caveats(facts)
    family = {
        "credit": _credit_caveats,
        "var": _var_caveats,
        "volatility": _volatility_caveats,
        "anomaly": _anomaly_caveats,
    }.get(facts.family)
    if family is not None:
        out += family(facts)
    return out


def _general_caveats(facts: VersionFacts) -> list[str]:
    out = []
    tags = facts.tags
    status = tags.get("validation_status")
    if status == "failed":
        out.append(f"The latest gate review failed: {tags.get('validation_failures') or '?'}.")
    elif status == "pending":
        out.append("Not yet reviewed by the promotion gates.")
    if tags.get("override_reason"):
        out.append(f"Promoted by override despite failed gates: {tags['override_reason']}.")
    if tags.get("rolled_back"):
        out.append("This version was rolled back from champion.")
    code = str(facts.lineage.get("code_version") or tags.get("code_version") or "")
    if code.endswith("-dirty"):
        out.append(
            f"Trained from a working tree with uncommitted changes ({code}): the "
            "commit alone does not reproduce it."
        )
    logged, tagged = facts.dataset.get("content_hash"), tags.get("dataset_hash")
    if logged and tagged and logged != tagged:
        out.append(
            f"Lineage mismatch: the run's data hash {logged} differs from the registry "
            f"tag {tagged}."
        )
    drift = facts.gate_evidence.get("data_drift") or {}
    drifted = drift.get("drifted_columns") or []
    if drifted:
        out.append(
            f"Training data differ from the recent window in {len(drifted)} of "
            f"{len(drift.get('columns') or {}) or '?'} features "
            f"({float(drift.get('share_of_drifted_columns', 0)):.0%}): {', '.join(drifted)}."
        )
    pred = facts.gate_evidence.get("prediction_drift") or {}
    psi = _number(pred.get("psi"))
    if psi is not None and psi > 0.1:
        out.append(f"Outputs moved away from the champion's on the recent window (PSI {psi:.3g}).")
    return out


def _credit_caveats(facts: VersionFacts) -> list[str]:
    m = {**facts.metrics, **{k: v for k, v in facts.evidence.items() if _number(v) is not None}}
    out = []
    # The grade table is the evidence itself; the flag is the fallback when it is absent.
    inversions = grade_inversions(facts.evidence.get("grades") or [])
    monotone = _number(m.get("grades_monotone"))
    if inversions or (monotone is not None and monotone < 1):
        out.append(
            "Observed default rates are not monotone across grades: a worse grade "
            "does not always default more often on the held-out sample"
            + (f" ({'; '.join(inversions)})." if inversions else ".")
        )
    reversals = _number(m.get("grade_reversals_significant"))
    if reversals:
        out.append(f"{int(reversals)} grade reversal(s) are statistically significant.")
    ece = _number(m.get("ece"))
    calibration_p = _number(m.get("calibration_pvalue"))
    if ece is not None and calibration_p is not None and calibration_p < 0.05:
        low, high = _number(m.get("ece_low")), _number(m.get("ece_high"))
        interval = f" (95% interval {low:.3f}-{high:.3f})" if low is not None and high else ""
        out.append(
            f"Expected calibration error {ece:.3f}{interval} is larger than a model with "
            f"correct PDs shows on {int(_number(m.get('n_test')) or 0)} rows "
            f"(p = {calibration_p:.3g}): PDs are not reliable as absolute levels."
        )
    auc = _number(m.get("auc"))
    if auc is not None and auc < 0.7:
        out.append(f"Weak discrimination (AUC {auc:.3f}).")
    return out


def grade_inversions(grades: list[dict[str, Any]]) -> list[str]:
    """Adjacent grades (best first) whose observed default rate falls instead of rising."""
    out = []
    for better, worse in itertools.pairwise(grades):
        low, high = _number(better.get("default_rate")), _number(worse.get("default_rate"))
        if low is not None and high is not None and high < low:
            out.append(
                f"{worse.get('grade')} {high:.1%} (n={worse.get('n')}) below "
                f"{better.get('grade')} {low:.1%} (n={better.get('n')})"
            )
    return out


def _var_caveats(facts: VersionFacts) -> list[str]:
    out = []
    ev, m = facts.evidence, facts.metrics
    for tag, tests in (ev.get("backtests") or {}).items():
        tl = tests.get("traffic_light") or {}
        if tl.get("zone") in ("yellow", "red"):
            out.append(
                f"Basel traffic light in the {tl['zone']} zone at {tag}%: {tl.get('exceptions')} "
                f"exceptions in {tl.get('n')} days (plus factor {fmt(tl.get('plus_factor'))})."
            )
        last = tests.get("traffic_light_last_250") or {}
        if last.get("zone") in ("yellow", "red") and last.get("zone") != tl.get("zone"):
            out.append(
                f"The last {last.get('n')} days alone are in the {last['zone']} zone at "
                f"{tag}% ({last.get('exceptions')} exceptions)."
            )
        pof = tests.get("kupiec_pof") or {}
        if pof and not pof.get("passed", True):
            out.append(
                f"Unconditional coverage rejected at {tag}% (Kupiec p={fmt(pof.get('pvalue'))}"
                f"): {pof.get('exceptions')} exceptions vs {fmt(pof.get('expected'))} "
                "expected."
            )
        ind = tests.get("christoffersen_independence") or {}
        if ind and not ind.get("passed", True):
            out.append(
                f"Exceptions cluster in time at {tag}% (Christoffersen independence "
                f"p={fmt(ind.get('pvalue'))})."
            )
        for key in ("mcneil_frey", "acerbi_szekely_z2"):
            es = tests.get(key) or {}
            if es and not es.get("passed", True):
                out.append(
                    f"ES at {tag}% underestimates tail losses ({key.replace('_', ' ')} "
                    f"p={fmt(es.get('pvalue'))})."
                )
    n = _number(m.get("n_eval"))
    if n is not None and n < _SMALL_EVAL:
        out.append(f"Only {int(n)} evaluation days: the 99% backtests have little power.")
    return out


def _volatility_caveats(facts: VersionFacts) -> list[str]:
    m = facts.metrics
    out = []
    q, qb = _number(m.get("qlike")), _number(m.get("qlike_benchmark"))
    if q is not None and qb is not None and q > qb:
        out.append(f"QLIKE {q:.4f} is worse than the GARCH(1,1)-normal benchmark's {qb:.4f}.")
    p = _number(m.get("dm_pvalue"))
    if p is not None and p >= 0.05:
        out.append(f"Not significantly different from the benchmark (Diebold-Mariano p={p:.3f}).")
    mzp = _number(m.get("mz_joint_pvalue", m.get("mz_pvalue")))
    beta = _number(m.get("mz_beta"))
    if mzp is not None and mzp < 0.05:
        out.append(f"Mincer-Zarnowitz rejects unbiased forecasts (p={mzp:.3g}, β={fmt(beta)}).")
    n = _number(m.get("n_eval"))
    if n is not None and n < _SMALL_EVAL:
        out.append(f"Only {int(n)} evaluation days.")
    return out


def _anomaly_caveats(facts: VersionFacts) -> list[str]:
    m, events = facts.metrics, facts.evidence.get("events") or []
    out = []
    missed = [f"{e.get('name')} ({e.get('date')})" for e in events if not e.get("in_top")]
    if missed:
        out.append(f"Missed {len(missed)} of {len(events)} curated events: {', '.join(missed)}.")
    rate, target = _number(m.get("alert_rate_holdout")), _number(m.get("target_alert_rate"))
    if rate is not None and target and (rate > 2 * target or rate < target / 2):
        out.append(f"Held-out alert rate {rate:.2%} is far from the {target:.2%} target.")
    if events and len(events) < _FEW_EVENTS:
        out.append(f"Event recall rests on only {len(events)} curated events.")
    held = sum(1 for e in events if e.get("holdout"))
    if events and not held:
        out.append("No curated event falls in the held-out days.")
    return out
