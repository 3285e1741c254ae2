"""The credit family's part of model cards and validation reports.

* its text (what a PD scorecard is for and where it stops);
* a card section on how independent the evaluation is, target leakage, protected attributes
  and the change of features against the champion;
* performance tables: the grade table and, when observed default rates fall somewhere
  along the grades, each inversion with the one-sided Fisher exact p-value that the
  grade-reversal gate judges (so a reader sees why "not monotone" and a passing gate hold
  together);
* caveats read from the evidence (inversions, significant reversals, calibration, weak
  discrimination);
* figures: ROC, calibration, score distribution and default rate by grade, the run's own
  plots or drawn from the tables it logged.

:data:`DOCUMENTS` is what :meth:`riskops.credit.family.CreditFamily.documents` returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskops.documents.blocks import Block, Bullets, Facts, Section, Table, Text, fmt, number
from riskops.documents.family import FamilyDocuments, record_tables
from riskops.documents.figures import figure, png, pyplot, read_table
from riskops.documents.texts import FamilyText

if TYPE_CHECKING:
    from riskops.documents.facts import VersionFacts
    from riskops.documents.figures import Drawn, Figure

__all__ = ["DOCUMENTS", "TEXT", "calibration_table", "grade_inversions", "reversal_tests"]

TOP_LEAKAGE_ROWS = 8
REVERSAL_METRIC = "grade_reversals_significant"
"""The metric the grade-reversal gate reads
(:func:`riskops.credit.metrics.significant_grade_reversals`)."""
REVERSAL_SIZE = 0.05
"""The size at which that metric counts a reversal as significant."""
_TARGET_COLUMNS = ("y", "target", "default", "bad", "label", "outcome", "actual", "y_true")
_PD_COLUMNS = ("pd", "p_default", "proba", "probability", "y_pred", "score", "prediction")
_RATE_COLUMNS = ("default_rate", "observed_default_rate", "bad_rate", "observed_rate", "dr")

TEXT = FamilyText(
    title="Credit probability of default (application scorecard)",
    purpose=(
        "Estimates the probability that an applicant defaults (outcome 1 = bad) from "
        "application data, and maps it to a rating grade (G1 best)."
    ),
    intended_uses=(
        "Ranking and grading loan applications of the population it was developed on.",
        "A calibrated PD input to pricing, limits and provisioning, reviewed by a credit officer.",
        "Reason codes (largest SHAP contributions) to explain an individual decision.",
    ),
    out_of_scope=(
        "Automated decisions without human review.",
        "Behavioural or collections scoring of existing customers.",
        "Populations, products or regions unlike the development sample.",
        "Regulatory capital PDs (no through-the-cycle calibration, no margin of conservatism).",
    ),
    methodology=(
        "A gradient-boosted, random-forest or logistic classifier on encoded application "
        "features, with out-of-fold calibration of the scores to PDs and grade edges at "
        "quantiles of the development PDs."
    ),
    assumptions=(
        "The development sample is representative of future applicants.",
        "The outcome definition (the positive label) is stable over time.",
        "Application data are captured the same way at scoring time as in development.",
    ),
    limitations=(
        "Outcomes of rejected applicants are not observed (reject inference is not "
        "performed): PDs are conditional on past acceptance policy.",
        "Calibration holds on average over the development period, not through a downturn.",
        "Small grades have wide confidence intervals on their observed default rates.",
    ),
    evaluation=(
        "Discrimination (AUC, KS), calibration (ECE, Brier) and grade monotonicity are "
        "measured on a held-out sample."
    ),
    own_models=(
        "The platform adds a rating scale (grade edges at quantiles of the model's own "
        "development PDs), SHAP explanations and reason codes; the PDs are the model's own "
        "predict_proba."
    ),
)


# ------------------------------------------------------------------ card section
def evidence_sections(facts: VersionFacts) -> tuple[Section, ...]:
    """The independence, leakage and fairness section (none for a version logged before
    this evidence existed), then the performance on matured outcomes."""
    evidence = facts.evidence
    blocks: list[Block] = []
    blocks += _split_blocks(evidence.get("split") or {}, facts.gate_evidence.get("champion"))
    blocks += _leakage_blocks(evidence.get("leakage"))
    blocks += _fairness_blocks(evidence.get("fairness"))
    sections = [outcome_section(facts)]
    if blocks:
        sections.insert(
            0, Section("credit_evidence", "Independence, leakage and fairness", tuple(blocks))
        )
    return tuple(sections)


def outcome_section(facts: VersionFacts) -> Section:
    """Performance on matured outcomes: the newest audited run of the validation tests
    (``outcome_tests``, :mod:`riskops.credit.performance`) that covered this version -- per
    grade the realised default rate against the mean PD with the Jeffreys and binomial tests
    (ECB 2019, BCBS WP14), discrimination against the initial validation, stability,
    calibration and the alarms -- or why there is none yet."""
    title = "Performance on matured outcomes"
    run = None
    for record in facts.audit:
        if record.action != "outcome_tests":
            continue
        for version in record.body.get("versions") or []:
            ours = str(version.get("model_version")) == str(facts.version)
            if ours and (run is None or record.seq > run[0].seq):
                run = (record, version)
    if run is None:
        return Section(
            "matured_outcomes",
            title,
            (
                Text(
                    f"Not evaluated: no validation tests on matured outcomes have covered "
                    f"v{facts.version} yet (its decisions are recorded when it serves; "
                    f"`riskops outcomes {facts.name} --data FILE` joins their outcomes and "
                    "runs the tests)."
                ),
            ),
        )
    record, version = run
    counts = version.get("counts") or {}
    auc = version.get("auc") or {}
    initial = version.get("auc_vs_initial") or {}
    herfindahl = version.get("herfindahl") or {}
    seals = record.body.get("seals") or []
    pairs = [
        ("As of", str(record.body.get("as_of", ""))[:19]),
        ("Audit record", f"{record.seq} ({record.ts[:19]}, {record.actor})"),
        (
            "Decisions",
            f"{counts.get('decisions')} recorded, {counts.get('matured')} matured "
            f"({record.body.get('horizon_months')}-month default horizon), "
            f"{counts.get('evaluated')} with an outcome, {counts.get('defaults')} defaults",
        ),
        (
            "AUC on outcomes",
            (
                f"{fmt(auc.get('auc'))} (DeLong s.e. {fmt(auc.get('se'))})"
                + (
                    f" against {fmt(initial.get('auc_initial'))} at initial validation, "
                    f"one-sided p = {fmt(initial.get('pvalue'))}"
                    if initial
                    else ""
                )
            )
            if auc
            else "not evaluated",
        ),
        ("PSI of the grades", fmt(version.get("psi_grades"))),
        ("Herfindahl index", fmt(herfindahl.get("hi_ecb")) if herfindahl else "–"),
        ("Brier score, ECE", f"{fmt(version.get('brier'))}, {fmt(version.get('ece'))}"),
        (
            "Evidence read",
            "; ".join(
                f"{s.get('kind')} {s.get('stream')} through row {s.get('seq')}" for s in seals
            )
            or "–",
        ),
    ]
    rows = tuple(
        (
            str(row.get("label")),
            fmt(row.get("n")),
            fmt(row.get("defaults")),
            fmt(row.get("default_rate")),
            fmt(row.get("pd")),
            fmt(row.get("jeffreys_pvalue")),
            str(row.get("jeffreys_light") or "–"),
            fmt(row.get("binomial_pvalue")),
        )
        for row in [*(version.get("grades") or []), version.get("portfolio") or {}]
    )
    blocks: list[Block] = [
        Facts(tuple(pairs)),
        Table(
            (
                "grade",
                "matured outcomes",
                "defaults",
                "default rate",
                "mean PD",
                "Jeffreys p",
                "light",
                "binomial p",
            ),
            rows,
            "Realised default rate against the mean PD per grade (one-sided tests: a PD "
            "too low is rejected)",
        ),
    ]
    alarms = (version.get("alarms") or {}).get("alarms") or []
    if alarms:
        blocks.append(
            Bullets(
                tuple(f"{a['rule']} ({a['subject']}): {a['reason']}" for a in alarms),
                "Alarms",
            )
        )
    missing = version.get("not_evaluated") or []
    if missing:
        blocks.append(Bullets(tuple(f"{m['what']}: {m['why']}" for m in missing), "Not evaluated"))
    return Section("matured_outcomes", title, tuple(blocks))


def _split_blocks(split: dict[str, Any], champion: dict[str, Any] | None) -> list[Block]:
    kinds = {
        "out_of_time": "out of time (by date)",
        "applicant_key": f"by applicant key ({split.get('id_col')})",
        "feature_hash": "by applicant (hash of the feature values, never the label)",
    }
    pairs = [("Held-out split", kinds.get(split.get("kind", ""), str(split.get("kind"))))]
    follows = split.get("follows_champion")
    if follows:
        pairs.append(
            (
                "Follows the champion's split",
                f"v{follows.get('version')}: {follows.get('rows_trained_on')} rows it trained on "
                f"kept for training, {follows.get('rows_held_out')} it held out kept held out",
            )
        )
    if champion:
        window = champion.get("window") or {}
        independent = window.get("independent")
        pairs.append(
            (
                "Comparison window",
                f"{fmt(window.get('n_rows'))} held-out rows, "
                f"{fmt(window.get('excluded_champion_training_rows'))} rows the champion "
                "trained on dropped"
                + ("" if independent else f"; NOT independent: {window.get('reason')}"),
            )
        )
        pairs.append(("Features added", ", ".join(champion.get("features_added") or []) or "none"))
        pairs.append(
            ("Features dropped", ", ".join(champion.get("features_dropped") or []) or "none")
        )
    return [Facts(tuple(pairs))]


def _leakage_blocks(leakage: dict[str, Any] | None) -> list[Block]:
    if not leakage:
        return []
    aucs = list((leakage.get("univariate_auc") or {}).items())[:TOP_LEAKAGE_ROWS]
    acknowledged = leakage.get("acknowledged") or {}
    rows = tuple((name, fmt(auc), acknowledged.get(name, "")) for name, auc in aucs)
    return [
        Table(
            ("feature", "univariate AUC (held out)", "acknowledged as not leakage"),
            rows,
            "Target leakage check: each feature alone against the outcome",
        )
    ]


def _fairness_blocks(fairness: dict[str, Any] | None) -> list[Block]:
    if not fairness:
        return []
    blocks: list[Block] = [
        Text(
            "Protected attributes are not model features. Approval means PD <= "
            f"{fmt(fairness.get('approval_max_pd'))}; the adverse impact ratio is the lowest "
            "group approval rate over the highest (four-fifths rule: at least 0.8)."
        )
    ]
    for name, attribute in (fairness.get("attributes") or {}).items():
        blocks.append(
            Table(
                ("group", "held-out rows", "approval rate"),
                tuple(
                    (g["group"], fmt(g["n"]), f"{g['approval_rate']:.1%}")
                    for g in attribute.get("groups", [])
                ),
                f"{name}: adverse impact ratio {fmt(attribute.get('adverse_impact_ratio'))}",
            )
        )
    return blocks


# ----------------------------------------------------------- grades and reversals
def grade_inversions(grades: list[dict[str, Any]]) -> list[str]:
    """Adjacent grades (best first) whose observed default rate falls instead of rising."""
    out = []
    for better, worse in itertools.pairwise(grades):
        low, high = number(better.get("default_rate")), number(worse.get("default_rate"))
        if low is not None and high is not None and high < low:
            out.append(
                f"{worse.get('grade')} {high:.1%} (n={worse.get('n')}) below "
                f"{better.get('grade')} {low:.1%} (n={better.get('n')})"
            )
    return out


def reversal_tests(grades: list[dict[str, Any]]) -> list[tuple[str, float | None]]:
    """Each inversion of :func:`grade_inversions`, with the one-sided Fisher exact p-value the
    grade-reversal gate counts (``None`` when the grade table has no default counts)."""
    from riskops.credit.metrics import grade_reversal_tests

    inversions = grade_inversions(grades)
    if not inversions:
        return []
    table = pd.DataFrame(grades)
    if not {"n", "defaults"} <= set(table.columns):
        return [(inversion, None) for inversion in inversions]
    pvalues = [pvalue for _, pvalue in grade_reversal_tests(table)]
    if len(pvalues) != len(inversions):  # rates rounded differently from the counts
        return [(inversion, None) for inversion in inversions]
    return list(zip(inversions, pvalues, strict=True))


def _reversal_gate(facts: VersionFacts) -> str:
    """How the policy gates the count of significant reversals, in words."""
    policy = facts.policy
    checks = [c for c in (policy.floors if policy else ()) if c.metric == REVERSAL_METRIC]
    if policy is None:
        return "the policy is unknown"
    if not checks or checks[0].max is None:
        return f"this policy does not gate {REVERSAL_METRIC}"
    if checks[0].max == 0:
        return "the grade-reversal gate refuses any significant reversal"
    return f"the grade-reversal gate allows at most {checks[0].max:g} significant reversal(s)"


def reversal_blocks(facts: VersionFacts) -> list[Block]:
    """Why "grades are not monotone" and a passing grade-reversal gate can both hold: the
    caveat lists every raw inversion, the gate counts only the significant ones."""
    tests = reversal_tests(facts.evidence.get("grades") or [])
    if not tests:
        return []
    significant = [p for _, p in tests if p is not None and p < REVERSAL_SIZE]
    rows = tuple(
        (
            inversion,
            fmt(pvalue),
            "–" if pvalue is None else ("yes" if pvalue < REVERSAL_SIZE else "no"),
        )
        for inversion, pvalue in tests
    )
    return [
        Text(
            f"Observed default rates fall between {len(tests)} pair(s) of adjacent grades on "
            "the held-out sample (the caveat below lists each). The grade-reversal test asks "
            "whether the better grade's default rate is higher than the worse grade's by more "
            "than chance (Fisher's exact test, one-sided, at "
            f"{REVERSAL_SIZE:.0%}); {len(significant)} of them are significant, and "
            f"{_reversal_gate(facts)}. A raw inversion that is not significant is noise of a "
            "small grade: it is reported, not a reason to refuse."
        ),
        Table(
            ("inversion (worse grade below better grade)", "one-sided p-value", "significant"),
            rows,
            "Grade reversals: each inversion with its one-sided Fisher exact p-value",
        ),
    ]


def tables(facts: VersionFacts) -> list[Block]:
    """The evidence's record tables (grades, calibration curve), then the reversals."""
    return [*record_tables(facts), *reversal_blocks(facts)]


# ------------------------------------------------------------------------ caveats
def caveats(facts: VersionFacts) -> list[str]:
    """Inversions (with their p-values), significant reversals, calibration, discrimination."""
    evidence = facts.evidence
    m = {**facts.metrics, **{k: v for k, v in evidence.items() if number(v) is not None}}
    out = []
    # The grade table is the evidence itself; the flag is the fallback when it is absent.
    tests = reversal_tests(evidence.get("grades") or [])
    monotone = number(m.get("grades_monotone"))
    if tests or (monotone is not None and monotone < 1):
        listed = "; ".join(
            inversion + ("" if p is None else f", one-sided p = {fmt(p)}") for inversion, p in tests
        )
        text = (
            "Observed default rates are not monotone across grades: a worse grade "
            "does not always default more often on the held-out sample"
            + (f" ({listed})." if listed else ".")
        )
        if tests and all(p is not None and p >= REVERSAL_SIZE for _, p in tests):
            text += (
                f" None is significant at {REVERSAL_SIZE:.0%}, which is what the "
                "grade-reversal gate counts (see Grade reversals under Performance)."
            )
        out.append(text)
    reversals = number(m.get(REVERSAL_METRIC))
    if reversals:
        out.append(f"{int(reversals)} grade reversal(s) are statistically significant.")
    ece = number(m.get("ece"))
    calibration_p = number(m.get("calibration_pvalue"))
    if ece is not None and calibration_p is not None and calibration_p < 0.05:
        low, high = number(m.get("ece_low")), number(m.get("ece_high"))
        interval = f" (95% interval {low:.3f}-{high:.3f})" if low is not None and high else ""
        out.append(
            f"Expected calibration error {ece:.3f}{interval} is larger than a model with "
            f"correct PDs shows on {int(number(m.get('n_test')) or 0)} rows "
            f"(p = {calibration_p:.3g}): PDs are not reliable as absolute levels."
        )
    auc = number(m.get("auc"))
    if auc is not None and auc < 0.7:
        out.append(f"Weak discrimination (AUC {auc:.3f}).")
    return out


# ------------------------------------------------------------------------ figures
def roc_png(y: Any, score: Any) -> bytes:
    """ROC curve of scores against binary outcomes (1 = default), with its AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, score = np.asarray(y, dtype=int), np.asarray(score, dtype=float)
    fpr, tpr, _ = roc_curve(y, score)
    fig, ax = pyplot().subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, color="tab:blue", lw=1.5, label=f"AUC {roc_auc_score(y, score):.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="random")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve (held out)", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return png(fig)


def calibration_table(y: Any, pd_: Any, bins: int = 10) -> pd.DataFrame:
    """Mean predicted PD and observed default rate per PD decile (quantile bins)."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "pd": np.asarray(pd_, dtype=float)})
    frame["bin"] = pd.qcut(frame["pd"].rank(method="first"), bins, labels=False)
    table = frame.groupby("bin").agg(
        predicted=("pd", "mean"), observed=("y", "mean"), n=("y", "size")
    )
    return table.reset_index(drop=True)


def calibration_png(y: Any, pd_: Any, bins: int = 10) -> bytes:
    """Reliability diagram: observed default rate against mean PD per decile."""
    return calibration_table_png(calibration_table(y, pd_, bins))


def calibration_table_png(table: pd.DataFrame) -> bytes:
    """Reliability diagram of a table with ``predicted`` and ``observed`` columns."""
    top = float(max(table["predicted"].max(), table["observed"].max())) * 1.05
    fig, ax = pyplot().subplots(figsize=(5, 5))
    ax.plot([0, top], [0, top], color="0.6", lw=0.8, ls="--", label="perfect calibration")
    ax.plot(table["predicted"], table["observed"], marker="o", color="tab:blue", label="bins")
    ax.set_xlabel("mean predicted PD")
    ax.set_ylabel("observed default rate")
    ax.set_title("Calibration (held out)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return png(fig)


def score_distribution_png(y: Any, score: Any) -> bytes:
    """Histograms of PDs for defaulters and non-defaulters."""
    y, score = np.asarray(y, dtype=int), np.asarray(score, dtype=float)
    edges = np.histogram_bin_edges(score, bins=30)
    fig, ax = pyplot().subplots(figsize=(7, 4))
    ax.hist(score[y == 0], bins=edges, alpha=0.6, density=True, label="non-default (0)")
    ax.hist(score[y == 1], bins=edges, alpha=0.6, density=True, label="default (1)")
    ax.set_xlabel("predicted PD")
    ax.set_ylabel("density")
    ax.set_title("Score distribution by outcome (held out)", fontsize=10)
    ax.legend(fontsize=8)
    return png(fig)


def grade_default_png(grades: pd.DataFrame) -> bytes:
    """Observed default rate per grade (bars), with the mean PD when known (dots)."""
    fig, ax = pyplot().subplots(figsize=(7, 4))
    labels = grades["grade"].astype(str).tolist()
    ax.bar(labels, grades["default_rate"], color="tab:blue", alpha=0.7, label="observed")
    if "mean_pd" in grades:
        ax.plot(labels, grades["mean_pd"], "o", color="tab:orange", label="mean PD")
    if "n" in grades:
        for x, (rate, n) in enumerate(zip(grades["default_rate"], grades["n"], strict=True)):
            ax.annotate(f"n={int(n)}", (x, rate), ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("grade")
    ax.set_ylabel("default rate")
    ax.set_title("Default rate by grade (held out)", fontsize=10)
    ax.legend(fontsize=8)
    return png(fig)


def credit_predictions(facts: VersionFacts) -> tuple[pd.DataFrame, str] | None:
    """A logged table of held-out outcomes and PDs (columns ``y``, ``pd``, maybe ``grade``)."""
    for artifact in facts.artifacts:
        if not artifact.endswith((".parquet", ".csv")) or artifact.startswith("shap/"):
            continue
        table = read_table(facts, artifact)
        if table is None:
            continue
        lower = {str(c).lower(): c for c in table.columns}
        target = next((lower[c] for c in _TARGET_COLUMNS if c in lower), None)
        score = next((lower[c] for c in _PD_COLUMNS if c in lower), None)
        if target is None or score is None:
            continue
        values = pd.to_numeric(table[target], errors="coerce")
        if not values.dropna().isin([0, 1]).all():
            continue
        out = pd.DataFrame({"y": values, "pd": pd.to_numeric(table[score], errors="coerce")})
        if "grade" in lower:
            out["grade"] = table[lower["grade"]].astype(str)
        return out.dropna(subset=["y", "pd"]), artifact
    return None


def grade_table(facts: VersionFacts) -> tuple[pd.DataFrame, str] | None:
    """Observed default rate per grade: from the evidence's grade table, else from predictions."""
    for key, value in facts.evidence.items():
        if "grade" not in key.lower() or not isinstance(value, list) or not value:
            continue
        frame = pd.DataFrame(value)
        rate = next((c for c in _RATE_COLUMNS if c in frame), None)
        if "grade" in frame and rate is not None:
            frame = frame.rename(columns={rate: "default_rate"})
            for alias in ("mean_pd", "avg_pd", "predicted_pd", "pd"):
                if alias in frame and "mean_pd" not in frame:
                    frame = frame.rename(columns={alias: "mean_pd"})
            for alias in ("n", "count", "accounts", "size"):
                if alias in frame and "n" not in frame:
                    frame = frame.rename(columns={alias: "n"})
            return frame, f"gate_evidence.json evidence.{key}"
    predictions = credit_predictions(facts)
    if predictions is None or "grade" not in predictions[0]:
        return None
    frame, artifact = predictions
    table = frame.groupby("grade", sort=True).agg(
        default_rate=("y", "mean"), mean_pd=("pd", "mean"), n=("y", "size")
    )
    return table.reset_index(), artifact


def figures(facts: VersionFacts, used: set[str]) -> list[Figure | None]:
    """ROC, calibration, score distribution and default rate by grade."""

    def from_predictions(draw: Callable[[pd.DataFrame], bytes]) -> Callable[[], Drawn | None]:
        def generate() -> Drawn | None:
            found = credit_predictions(facts)
            return None if found is None else (draw(found[0]), found[1])

        return generate

    def calibration() -> Drawn | None:
        curve = facts.evidence.get("calibration_curve")
        if curve:
            table = pd.DataFrame(curve).rename(
                columns={"mean_pd": "predicted", "observed_rate": "observed"}
            )
            return calibration_table_png(table), "gate_evidence.json evidence.calibration_curve"
        return from_predictions(lambda t: calibration_png(t["y"], t["pd"]))()

    def grades() -> Drawn | None:
        found = grade_table(facts)
        return None if found is None else (grade_default_png(found[0]), found[1])

    return [
        figure(
            facts,
            "roc",
            "ROC curve",
            "plots/*roc*.png",
            used,
            from_predictions(lambda t: roc_png(t["y"], t["pd"])),
        ),
        figure(
            facts, "calibration", "Calibration curve", "plots/*calibration*.png", used, calibration
        ),
        figure(
            facts,
            "score_distribution",
            "Score distribution",
            "plots/*distribution*.png",
            used,
            from_predictions(lambda t: score_distribution_png(t["y"], t["pd"])),
        ),
        figure(facts, "grades", "Default rate by grade", "plots/*grade*.png", used, grades),
    ]


DOCUMENTS = FamilyDocuments(
    TEXT, sections=evidence_sections, tables=tables, caveats=caveats, figures=figures
)
"""The credit family's part of its versions' cards and reports."""
