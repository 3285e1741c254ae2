"""Card wording a model-risk committee reads, from facts built by hand (no training): the drift
sample, the methodology of a user's own estimator, gate limits, the sign-off block; and the
layering that keeps governance free of family names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from riskops.governance.card import build_card, drift_record, limit_text
from riskops.governance.report import render_card_html, render_markdown
from riskops.policy import load_policies

PLATFORM = Path(__file__).parents[2] / "platform" / "riskops"
BOOK = load_policies(PLATFORM / "policies.yaml")


def _pairs(section) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(section.blocks[0].pairs)


def test_drift_record_says_whether_drift_vetoes() -> None:
    drift = {"share_of_drifted_columns": 1.0, "drifted_columns": ["rv_5", "rv_22"]}
    _, var_text = drift_record(drift, BOOK.for_model("market_var"))
    _, credit_text = drift_record(drift, BOOK.for_model("credit_pd"))
    assert var_text.startswith("100% of features drifted (rv_5, rv_22)")
    assert "recorded, not a veto (policy)" in var_text
    assert "a veto above 30% (policy)" in credit_text


def test_a_drift_check_not_run_says_why_and_never_prints_none(version_facts) -> None:
    # Given a credit version registered without a recent window: the drift check did not run
    reason = "no recent window independent of the training data was given"
    facts = version_facts(
        "credit",
        gate_evidence={"data_drift": {"evaluated": False, "reason": reason}},
        policy=BOOK.for_model("credit_pd"),
    )
    # When its card is built
    data = _pairs(build_card(facts).section("data"))
    # Then the sample line says "not evaluated" with the reason (was "None reference rows vs
    # None recent rows")
    assert data["Drift check sample"] == f"not evaluated: {reason}"
    assert data["Data drift record"] == f"not evaluated: {reason}"
    assert not any("None" in value for value in data.values()), data


def test_a_drift_check_that_ran_gives_its_sample(version_facts) -> None:
    drift = {"n_reference": 3296, "n_current": 1500, "share_of_drifted_columns": 0.0}
    facts = version_facts("credit", gate_evidence={"data_drift": drift})
    data = _pairs(build_card(facts).section("data"))
    assert data["Drift check sample"] == "3296 reference rows vs 1500 recent rows"


def test_methodology_of_a_users_estimator_is_its_stored_specification(version_facts) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from riskops.families.contracts import spec_description

    # Given a data scientist's pipeline ending in a LogisticRegression, registered as credit
    spec = spec_description(
        Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [("num", StandardScaler(), ["Income"]), ("cat", OneHotEncoder(), ["Home"])]
                    ),
                ),
                ("clf", LogisticRegression(C=0.5, max_iter=500)),
            ]
        )
    )
    facts = version_facts(
        "credit",
        tags={"origin": "user", "model_kind": "pipeline:logisticregression"},
        lineage={"specification": spec},
    )
    # When its card is built
    methodology = build_card(facts).section("methodology")
    description = methodology.blocks[0].text
    # Then the methodology describes that estimator, not the built-in kinds' boilerplate
    assert description.startswith(
        "A data scientist's own estimator, sklearn.pipeline.Pipeline "
        "(ColumnTransformer → LogisticRegression)"
    )
    assert "gradient-boosted" not in description
    assert "rating scale" in description  # what the platform adds (the family's words)
    # and its hyperparameters, as stored with the version, are listed by path
    table = next(b for b in methodology.blocks if getattr(b, "caption", "").startswith("Spec"))
    rows = dict(table.rows)
    assert rows["clf"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert rows["clf.C"] == "0.5"
    assert rows["clf.max_iter"] == "500"
    assert rows["prep.num"] == "sklearn.preprocessing._data.StandardScaler"
    assert rows["prep.cat"] == "sklearn.preprocessing._encoders.OneHotEncoder"
    assert "prep.cat columns" in rows


def test_methodology_of_a_built_in_kind_names_it(version_facts) -> None:
    facts = version_facts(
        "credit",
        tags={"origin": "builtin", "model_kind": "lightgbm"},
        lineage={"specification": {"class": "riskops.credit.models.LightGBMPD", "params": {}}},
    )
    methodology = build_card(facts).section("methodology")
    assert methodology.blocks[0].text.startswith(
        "Built-in kind lightgbm (riskops.credit.models.LightGBMPD). A gradient-boosted"
    )
    assert not any(getattr(b, "caption", "").startswith("Spec") for b in methodology.blocks)


@pytest.mark.parametrize(
    ("threshold", "text"),
    [
        ({"min": 0.75}, "≥ 0.75"),
        ({"max": 0.05}, "≤ 0.05"),
        ({"min": 0.1, "max": 0.9}, "≥ 0.1 and ≤ 0.9"),
        ({"not_in": ["red"]}, "not red"),
        (0.3, "0.3"),
        (None, "–"),
    ],
)
def test_gate_limits_read_as_comparisons(threshold, text: str) -> None:
    assert limit_text(threshold) == text


def test_sign_off_is_filled_from_the_audit_trails_approvals(settings, version_facts) -> None:
    from riskops.audit import AuditTrail

    # Given an audit trail where v1 was registered, gated, requested, approved and promoted
    trail = AuditTrail(settings)
    trail.append("register", "m", 1, actor="dev")
    trail.append("gate_decision", "m", 1, actor="validator", passed=True)
    request = trail.append("approval_requested", "m", 1, actor="validator", required_approvals=1)
    approval = trail.append("approve", "m", 1, actor="head_of_risk", request_seq=request.seq)
    trail.append("promote", "m", 1, actor="head_of_risk")
    records = trail.records("m")
    # When v1's card is built
    card = build_card(version_facts("credit", audit=records))
    # Then the sign-off names who prepared, reviewed and approved it, with the dates
    table = card.section("sign_off").blocks[1]
    rows = {r[0]: r for r in table.rows}
    assert rows["Prepared by (model developer)"][1:3] == ("dev", records[0].ts[:10])
    assert rows["Reviewed by (ran the validation gates)"][1] == "validator"
    assert rows["Reviewed by (ran the validation gates)"][4].endswith("gates passed")
    assert rows["Approved by"][1:3] == ("head_of_risk", approval.ts[:10])
    assert rows["Approved by"][4] == (f"audit #{approval.seq}: approval of request #{request.seq}")
    # and the signatures are lines to sign by hand
    assert all(row[3].startswith("____") for row in table.rows)
    # while a version without an approval gets blank lines to fill in
    blank = build_card(version_facts("credit", audit=records[:2])).section("sign_off")
    approved = {r[0]: r for r in blank.blocks[1].rows}["Approved by"]
    assert approved[1].startswith("____") and approved[2].startswith("____")
    assert approved[4] == "no approval in the audit trail"


def test_sign_off_renders_in_markdown_and_html(version_facts) -> None:
    card = build_card(version_facts("credit"))
    assert "## Sign-off" in render_markdown(card)
    html = render_card_html(card)
    assert '<section id="sign_off">' in html
    assert 'data-label="signature"' in html


# ------------------------------------------------------------------------- layering
def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (lazy) alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _package(module: str) -> str | None:
    """``credit`` for ``riskops.credit.documents``; ``None`` outside RiskOps."""
    parts = module.split(".")
    return parts[1] if parts[0] == "riskops" and len(parts) > 1 else None


def test_documents_package_stays_below_families_and_governance() -> None:
    from riskops.families import family_names

    above = (
        "riskops.governance",
        "riskops.registry",
        "riskops.audit",
        "riskops.tracking",
        "riskops.lifecycle",
        "riskops.families",
        "mlflow",
        *(f"riskops.{name}" for name in family_names()),
    )
    for path in sorted((PLATFORM / "documents").glob("*.py")):
        wrong = {m for m in _imports(path) if m.startswith(above)}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_governance_names_no_family() -> None:
    """No table keyed by family name, no ``if facts.family == ...``: governance asks the
    family's documents() hook, so a fifth family needs no edit here."""
    from riskops.families import family_names

    names = set(family_names())
    for path in sorted((PLATFORM / "governance").glob("*.py")):
        tree = ast.parse(path.read_text())
        literals = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not literals & names, f"{path.name} names {sorted(literals & names)}"
        family_modules = {m for m in _imports(path) if _package(m) in names}
        assert not family_modules, f"{path.name} imports {sorted(family_modules)}"
