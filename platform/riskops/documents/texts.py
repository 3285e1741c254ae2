"""The only hand-written part of a model card: what each family is for and where it stops.

Everything else in a card or validation report is read from the registry, the run and the
audit trail. Keep these texts about the *family* (its purpose, method and standing
assumptions); facts about one version belong in the data-driven caveats of
:mod:`riskops.governance.card`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FamilyText:
    """Purpose, intended and out-of-scope uses, method, assumptions and limitations."""

    title: str
    purpose: str
    intended_uses: tuple[str, ...]
    out_of_scope: tuple[str, ...]
    methodology: str
    assumptions: tuple[str, ...]
    limitations: tuple[str, ...]


FAMILY_TEXTS: dict[str, FamilyText] = {
    "credit": FamilyText(
        title="Credit probability of default (application scorecard)",
        purpose=(
            "Estimates the probability that an applicant defaults (outcome 1 = bad) from "
            "application data, and maps it to a rating grade (G1 best)."
        ),
        intended_uses=(
            "Ranking and grading loan applications of the population it was developed on.",
            "A calibrated PD input to pricing, limits and provisioning, reviewed by a credit "
            "officer.",
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
            "quantiles of the development PDs. Discrimination (AUC, KS), calibration (ECE, "
            "Brier) and grade monotonicity are measured on a held-out sample."
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
    ),
    "var": FamilyText(
        title="Market risk: next-day Value-at-Risk and Expected Shortfall",
        purpose=(
            "Forecasts the one-day 95% and 99% Value-at-Risk and Expected Shortfall of an "
            "index position, in percent of its value."
        ),
        intended_uses=(
            "Daily risk limits and monitoring of a single index exposure.",
            "Backtesting evidence (Kupiec, Christoffersen, Basel traffic light, ES tests) for "
            "internal model validation.",
        ),
        out_of_scope=(
            "Multi-asset or non-linear portfolios (options), which need full revaluation.",
            "Horizons beyond one day without a validated scaling rule.",
            "Regulatory capital on its own: the Basel traffic light here is a diagnostic, "
            "not a supervisory determination.",
        ),
        methodology=(
            "Rolling one-day-ahead forecasts over the evaluation window, refitted on all "
            "returns before each refit day (filtered historical simulation, GARCH-t, "
            "historical simulation or LightGBM quantile regression). Exceptions are "
            "backtested at both levels and forecasts scored with the tick loss."
        ),
        assumptions=(
            "Returns are computed from close prices; the position is held constant for a day.",
            "The conditional distribution of returns changes slowly relative to the refit period.",
            "Exceptions are independent once volatility clustering is filtered.",
        ),
        limitations=(
            "Backtests at 99% have little power on short windows: a few hundred days "
            "contain only a handful of expected exceptions.",
            "Parameter uncertainty is not reflected in the VaR figure.",
            "Sudden regime changes (crashes, market closures) are only learned after they happen.",
        ),
    ),
    "volatility": FamilyText(
        title="Market risk: next-day volatility forecast",
        purpose=(
            "Forecasts the next day's return variance of an index (percent squared), for "
            "risk scaling and as an input to VaR."
        ),
        intended_uses=(
            "Volatility targeting and risk budgets for a single index.",
            "An input to VaR/ES models and stress indicators.",
        ),
        out_of_scope=(
            "Option pricing or implied-volatility surfaces.",
            "Horizons beyond one day without a validated aggregation rule.",
            "Assets other than the one the model was estimated on.",
        ),
        methodology=(
            "GARCH-type, HAR (LightGBM or linear) or neural models produce rolling "
            "one-step forecasts over the evaluation window, refitted periodically on all "
            "prior returns, and are compared with a GARCH(1,1)-normal benchmark under QLIKE "
            "and MSE, a Diebold-Mariano test and a Mincer-Zarnowitz regression."
        ),
        assumptions=(
            "The squared return (or a range-based proxy) is an unbiased, if noisy, measure "
            "of realised variance.",
            "Volatility dynamics are stable between refits.",
        ),
        limitations=(
            "The squared-return target is very noisy; rankings under QLIKE are robust to "
            "the noise but R-squared values are low by construction.",
            "Jumps and announcement days are not modelled separately.",
        ),
    ),
    "anomaly": FamilyText(
        title="Market surveillance: anomalous market days",
        purpose=(
            "Scores each trading day for how unusual its market behaviour is and raises an "
            "alert on the most anomalous days (about 1% by calibration)."
        ),
        intended_uses=(
            "Triage of stressed market days for risk managers, with the main drivers of "
            "each alert.",
            "An early-warning input to stress testing and model monitoring.",
        ),
        out_of_scope=(
            "Trade surveillance or market-abuse detection on individual orders.",
            "Automatic trading or hedging decisions.",
            "Markets or instruments other than the index it was trained on.",
        ),
        methodology=(
            "Unsupervised detectors (isolation forest, local outlier factor, autoencoder or "
            "their ensemble) on causal daily market features, with the alert threshold "
            "calibrated to a target alert rate on the training days. Judged by recall of "
            "curated stress events, alert rate on held-out days and score stability."
        ),
        assumptions=(
            "The training period contains mostly normal days.",
            "Curated stress events are a fair sample of what users want flagged.",
        ),
        limitations=(
            "There are no labels: event recall rests on a short, curated list of dates.",
            "An anomaly is unusual, not necessarily adverse; calm days after a crisis can "
            "also score high.",
            "Alert rates drift when volatility regimes change; the threshold is not "
            "re-calibrated between retrains.",
        ),
    ),
}


def family_text(family: str) -> FamilyText:
    """The texts of ``family``; an unknown family gets an explicit placeholder, not a guess."""
    if family in FAMILY_TEXTS:
        return FAMILY_TEXTS[family]
    missing = f"No description is written for the {family!r} family."
    return FamilyText(family, missing, (), (), missing, (), ())
