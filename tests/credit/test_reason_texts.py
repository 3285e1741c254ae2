"""Reason texts: shipped for the bundled credit data, overridable per model by the user."""

from __future__ import annotations

from pathlib import Path

from riskops.reasons import load_reason_texts, reason_text, with_texts


def test_every_bundled_credit_feature_has_a_shipped_text() -> None:
    from riskops.data.credit import load_credit

    # Given the bundled credit data's features
    features = [c for c in load_credit().frame.columns if c != "Status"]
    # Then each has a plain-language text for credit_pd
    texts = load_reason_texts("credit_pd")
    assert [f for f in features if f not in texts] == []


def test_a_value_text_wins_over_the_feature_text() -> None:
    texts = load_reason_texts("credit_pd")
    assert reason_text(texts, "Records", "yes", 0.4) == "Previous records of non-payment"
    assert reason_text(texts, "Records", "no", 0.1) == "Credit history"


def test_the_direction_picks_the_text_and_unknown_features_get_a_generic_sentence() -> None:
    texts = {"Income:+": "Income too low", "Income:-": "Income supports the request"}
    assert reason_text(texts, "Income", 900, 0.3) == "Income too low"
    assert reason_text(texts, "Income", 9000, -0.3) == "Income supports the request"
    assert reason_text({}, "Bonus", 3, 0.2) == (
        "Bonus = 3 raised the estimated probability of default"
    )


def test_the_users_file_overrides_and_extends_the_shipped_texts(tmp_path: Path) -> None:
    # Given a user file in RISKOPS_HOME that rewrites one text and adds a model of its own
    (tmp_path / "reason_texts.yaml").write_text(
        "credit_pd:\n  Income: Income below our lending guideline\n"
        "mortgage_pd:\n  LTV: Loan-to-value ratio above 80%\n"
    )
    # Then its entries win, the shipped ones remain, and its own model gets its texts
    credit = load_reason_texts("credit_pd", tmp_path)
    assert credit["Income"] == "Income below our lending guideline"
    assert credit["Debt"] == "Existing debt"
    assert load_reason_texts("mortgage_pd", tmp_path) == {"LTV": "Loan-to-value ratio above 80%"}
    # and a reason code gets its text beside the code
    [coded] = with_texts([{"feature": "LTV", "value": 0.93, "contribution": 0.5}], {"LTV": "x"})
    assert coded == {"feature": "LTV", "value": 0.93, "contribution": 0.5, "text": "x"}
