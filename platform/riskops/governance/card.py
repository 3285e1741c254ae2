"""Model cards: a structured document built from :class:`~riskops.documents.facts.VersionFacts`.

A card is a list of sections, each a list of blocks (:mod:`riskops.documents.blocks`). The
same card renders to Markdown and to HTML (Jinja2 templates), and the validation report embeds
its sections, so a fact is written down once.

Governance writes the sections every model has (details, data, methodology, metrics, SHAP,
gates, history, lineage, sign-off) and asks the version's family for the rest through its
:meth:`~riskops.families.base.Family.documents` hook (:func:`family_documents`): the family's
text, its extra sections, its performance tables and its caveats. No family is named here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from riskops.documents.blocks import Block, Bullets, Facts, Section, Table, Text, fmt, number
from riskops.documents.family import FamilyDocuments
from riskops.governance.history import history_rows

if TYPE_CHECKING:
    from riskops.documents.facts import AuditEntry, VersionFacts
    from riskops.documents.texts import FamilyText
    from riskops.policy import Policy

TOP_SHAP_FEATURES = 10
MAX_SPEC_ROWS = 60
"""A user's specification shows at most this many hyperparameters (nested ones included)."""
SIGN_HERE = "____________________"
"""A blank line to sign or date by hand."""
NOT_STATED = ("Not stated by the family.",)
NO_CAVEATS = ("No version-specific caveats were found.",)


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


def _time_ms(ms: int | None) -> str:
    if not ms:
        return "–"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------ families
def family_documents(family: str) -> FamilyDocuments:
    """The family's part of its versions' documents (its :meth:`documents` hook); a family that
    is not installed gets :meth:`FamilyDocuments.generic`, so an old version still renders."""
    from riskops.errors import BadInputError
    from riskops.families import get_family

    try:
        return get_family(family).documents()
    except BadInputError:  # not an installed family
        return FamilyDocuments.generic(family)


# --------------------------------------------------------------------------- builder
def build_card(facts: VersionFacts) -> ModelCard:
    """The model card of a version, from its facts alone."""
    documents = family_documents(facts.family)
    text = documents.text
    sections = (
        _details(facts),
        Section(
            "purpose",
            "Purpose and intended use",
            (
                Text(text.purpose),
                Bullets(text.intended_uses or NOT_STATED, "Intended uses"),
                Bullets(text.out_of_scope or NOT_STATED, "Out of scope"),
            ),
        ),
        _data(facts),
        _methodology(facts, text),
        _performance(facts, documents),
        _explainability(facts),
        Section(
            "limitations",
            "Limitations and assumptions",
            (
                Bullets(text.assumptions or NOT_STATED, "Assumptions"),
                Bullets(text.limitations or NOT_STATED, "Known limitations of the method"),
                Bullets(
                    tuple(caveats(facts, documents)) or NO_CAVEATS,
                    "Caveats from this version's evidence",
                ),
            ),
        ),
        *documents.sections(facts),
        _gates(facts),
        _history(facts),
        _lineage(facts),
        _sign_off(facts),
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
        pairs.append(("Drift check sample", drift_sample(drift)))
        pairs.append(drift_record(drift, facts.policy))
    return Section("data", "Data", (Facts(tuple(pairs)),))


def not_evaluated(drift: dict[str, Any]) -> str:
    """``not evaluated: <reason>`` of a drift check that did not run."""
    return f"not evaluated: {drift.get('reason') or 'no reason was recorded'}"


def drift_sample(drift: dict[str, Any]) -> str:
    """The rows the drift check compared, or why it compared none."""
    if drift.get("evaluated") is False:
        return not_evaluated(drift)
    reference, recent = drift.get("n_reference"), drift.get("n_current")
    if reference is None and recent is None:
        return "not recorded with this version"
    return f"{fmt(reference)} reference rows vs {fmt(recent)} recent rows"


def drift_record(drift: dict[str, Any], policy: Policy | None) -> tuple[str, str]:
    """One line: the drift share and columns, and what the policy makes of it."""
    if drift.get("evaluated") is False:  # no recent window (credit): say so, no share
        return ("Data drift record", not_evaluated(drift))
    share = float(drift.get("share_of_drifted_columns", 0.0))
    columns = ", ".join(drift.get("drifted_columns") or []) or "none"
    if policy is None:
        role = "policy unknown"
    elif policy.data_drift.veto:
        role = f"a veto above {policy.data_drift.max_drift_share:.0%} (policy)"
    else:
        role = "recorded, not a veto (policy): a reason to monitor and retrain"
    return ("Data drift record", f"{share:.0%} of features drifted ({columns}); {role}")


def _methodology(facts: VersionFacts, text: FamilyText) -> Section:
    blocks: list[Block] = [Text(model_description(facts, text))]
    if text.evaluation:
        blocks.append(Text(text.evaluation))
    spec = facts.specification
    if is_user_model(facts) and isinstance(spec, dict):
        blocks.append(
            Table(
                ("parameter", "value"),
                tuple(spec_rows(spec)),
                "Specification stored with the version: the unfitted estimator's class and "
                "hyperparameters",
            )
        )
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


def is_user_model(facts: VersionFacts) -> bool:
    """Whether the version was fitted from a data scientist's own estimator: its ``origin`` tag,
    else (versions registered before the tag) a specification from outside RiskOps."""
    origin = facts.tags.get("origin")
    if origin:
        return origin == "user"
    spec = facts.specification
    return isinstance(spec, dict) and not str(spec.get("class", "riskops.")).startswith("riskops.")


def _short(path: Any) -> str:
    return str(path).rsplit(".", 1)[-1]


def spec_summary(spec: dict[str, Any]) -> str:
    """The estimator in a few words: its class, and a pipeline's steps or a wrapper's estimator.

    Examples
    --------
    >>> spec_summary({"class": "sklearn.pipeline.Pipeline", "params": {"steps": [
    ...     ["prep", {"class": "sklearn.compose.ColumnTransformer", "params": {}}],
    ...     ["clf", {"class": "sklearn.linear_model.LogisticRegression", "params": {}}]]}})
    'sklearn.pipeline.Pipeline (ColumnTransformer → LogisticRegression)'
    """
    name = str(spec.get("class", "an estimator"))
    params = spec.get("params") or {}
    steps = params.get("steps")
    if isinstance(steps, list) and steps:
        chain = [
            _short(step[1].get("class")) if isinstance(step[1], dict) else str(step[1])
            for step in steps
            if isinstance(step, list | tuple) and len(step) == 2
        ]
        return f"{name} ({' → '.join(chain)})"
    inner = params.get("estimator")
    if isinstance(inner, dict) and "class" in inner:
        return f"{name} around {spec_summary(inner)}"
    return name


def spec_rows(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The specification's hyperparameters as ``(path, value)`` rows, nested estimators
    flattened (``clf.C``; a pipeline's steps and a column transformer's transformers by
    their names, as scikit-learn's ``clf__C``), at most :data:`MAX_SPEC_ROWS`."""
    rows: list[tuple[str, str]] = []

    def named_estimators(value: Any) -> bool:
        # Pipeline steps are (name, estimator); ColumnTransformer's add the columns.
        return (
            isinstance(value, list)
            and bool(value)
            and all(
                isinstance(v, list | tuple) and len(v) in (2, 3) and isinstance(v[1], dict)
                for v in value
            )
        )

    def walk(node: dict[str, Any], path: str) -> None:
        if path:
            rows.append((path, str(node.get("class"))))
        for key, value in (node.get("params") or {}).items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict) and "class" in value:
                walk(value, where)
            elif named_estimators(value):
                # Named as scikit-learn names them (clf__C): by step, not by the list's key.
                for name, sub, *columns in value:
                    step = f"{path}.{name}" if path else str(name)
                    walk(sub, step)
                    if columns:
                        rows.append((f"{step} columns", fmt(columns[0])))
            else:
                rows.append((where, fmt(value)))

    walk(spec, "")
    return rows[:MAX_SPEC_ROWS]


def model_description(facts: VersionFacts, text: FamilyText) -> str:
    """The methodology's first paragraph, from the model's own description: a data
    scientist's estimator from the specification stored with the version (not the family's
    text about its built-in kinds); a built-in kind named with the family's text."""
    spec = facts.specification
    if is_user_model(facts):
        what = spec_summary(spec) if isinstance(spec, dict) else facts.model_kind
        return (
            f"A data scientist's own estimator, {what} (model kind {facts.model_kind}), "
            f"fitted by the platform on the {facts.family} family's data split with the "
            "hyperparameters stored with the version (below)."
            + (f" {text.own_models}" if text.own_models else "")
        )
    built_in = f" ({spec['class']})" if isinstance(spec, dict) and spec.get("class") else ""
    return f"Built-in kind {facts.model_kind}{built_in}. {text.methodology}"


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


def _performance(facts: VersionFacts, documents: FamilyDocuments) -> Section:
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
    blocks += documents.tables(facts)
    return Section("performance", "Performance and backtests", tuple(blocks))


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


def limit_text(threshold: Any) -> str:
    """A gate result's threshold in words: ``{"min": 0.75}`` reads ``≥ 0.75``."""
    if not isinstance(threshold, dict):
        return fmt(threshold)
    parts = []
    if threshold.get("min") is not None:
        parts.append(f"≥ {fmt(threshold['min'])}")
    if threshold.get("max") is not None:
        parts.append(f"≤ {fmt(threshold['max'])}")
    if threshold.get("not_in"):
        parts.append("not " + "/".join(str(v) for v in threshold["not_in"]))
    known = {"min", "max", "not_in"}
    parts += [f"{k} {fmt(v)}" for k, v in threshold.items() if k not in known]
    return " and ".join(parts) or "–"


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
            limit_text(r.get("threshold")),
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


def _record(entry: AuditEntry | None) -> tuple[str, str, str]:
    """Name, date and record number of an audit record, blank lines without one."""
    if entry is None:
        return SIGN_HERE, SIGN_HERE, "–"
    return entry.actor, entry.ts[:10], f"audit #{entry.seq}"


def _sign_off(facts: VersionFacts) -> Section:
    """Prepared, reviewed and approved by whom and when, from the audit trail: the register
    record, the latest gate decision and each approval; a blank line to sign where the
    trail holds none. A signature is always by hand."""
    mine = [r for r in facts.audit if r.version == facts.version]

    def last(action: str) -> AuditEntry | None:
        return next((r for r in reversed(mine) if r.action == action), None)

    prepared, reviewed = last("register"), last("gate_decision")
    rows = [
        ("Prepared by (model developer)", *_record(prepared)),
        ("Reviewed by (ran the validation gates)", *_record(reviewed)),
    ]
    if reviewed is not None:
        verdict = "passed" if reviewed.body.get("passed") else "failed"
        rows[1] = (*rows[1][:3], f"{rows[1][3]}: gates {verdict}")
    approvals = [r for r in mine if r.action == "approve"]
    for approval in approvals:
        request = approval.body.get("request_seq")
        rows.append(
            (
                "Approved by",
                *_record(approval)[:2],
                f"audit #{approval.seq}: approval of request #{request}",
            )
        )
    rejected = last("reject")
    if rejected is not None:
        rows.append(("Rejected by", *_record(rejected)[:2], f"audit #{rejected.seq}"))
    if not approvals:
        rows.append(("Approved by", SIGN_HERE, SIGN_HERE, "no approval in the audit trail"))
    return Section(
        "sign_off",
        "Sign-off",
        (
            Text(
                "Names and dates come from the hash-chained audit trail where it holds the "
                "record; blank lines are to be completed by hand."
            ),
            Table(
                ("role", "name", "date (UTC)", "signature", "record"),
                tuple((role, name, date, SIGN_HERE, record) for role, name, date, record in rows),
            ),
        ),
    )


# --------------------------------------------------------------------------- caveats
def caveats(facts: VersionFacts, documents: FamilyDocuments | None = None) -> list[str]:
    """Warnings read from this version's evidence, tags and lineage, then the family's."""
    documents = documents or family_documents(facts.family)
    return [*_general_caveats(facts), *documents.caveats(facts)]


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
    psi = number(pred.get("psi"))
    if psi is not None and psi > 0.1:
        out.append(f"Outputs moved away from the champion's on the recent window (PSI {psi:.3g}).")
    return out
