"""The shipped promotion policy as a page, generated from ``policies.yaml`` so it cannot drift.

Run at every ``mkdocs build`` by ``docs/hooks.py``; by hand::

    .venv/bin/python docs/gen_policy.py > /tmp/policy.md

The file is read the way promotion reads it (:func:`riskops.policy.load_policies`), so every
default the file leaves out is shown as it applies.
"""

from __future__ import annotations

from typing import Any

INTRO = """\
Generated from the policy file shipped with the package (`riskops/policies.yaml`) at every
build of these pages. `RISKOPS_POLICY_FILE` points at your own; a model registered under
another name (`--name`) uses the entry of its family's model unless the file has one for
it. How each kind of gate is judged: [Gates and evidence](../concepts/gates.md); the size
and power of each statistical gate: [Measured size and power](../gates.md).
"""


def _number(value: float) -> str:
    return f"{value:g}"


def _check(check: Any) -> str:
    parts = []
    if check.min is not None:
        parts.append(f"≥ {_number(check.min)}")
    if check.max is not None:
        parts.append(f"≤ {_number(check.max)}")
    if check.min_metric:
        parts.append(f"≥ `{check.min_metric}`")
    if check.max_metric:
        tolerance = f" + {_number(check.tolerance)}" if check.tolerance else ""
        parts.append(f"≤ `{check.max_metric}`{tolerance}")
    if check.not_in:
        parts.append("not " + " or ".join(f"`{v}`" for v in check.not_in))
    where = " (evidence)" if check.source == "evidence" else ""
    return f"`{check.metric}`{where} " + " and ".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _model(name: str, policy: Any, book: Any) -> list[str]:
    lines = [f"## {name}", ""]
    facts = [f"family `{policy.family}`"]
    facts.append(f"tier `{policy.tier}`" if policy.tier else "untiered")
    if policy.owner:
        facts.append(f"owner {policy.owner}")
    facts.append(f"approvals needed: {book.approvals_for(policy)}")
    facts.append(
        "open findings that block: " + ", ".join(book.blocking_severities(policy))
        if book.blocking_severities(policy)
        else "no finding blocks"
    )
    lines += ["; ".join(facts) + ".", "", "| gate | rule | why |", "|---|---|---|"]
    for kind, checks in (("floor", policy.floors), ("backtest", policy.backtests)):
        for check in checks:
            lines.append(f"| {kind}:{check.metric} | {_cell(_check(check))} | {_cell(check.why)} |")
    drift = policy.data_drift
    test = f"{drift.stattest} > {_number(drift.threshold)}" if drift.stattest else "by type"
    lines.append(
        f"| data_drift | drifting share ≤ {_number(drift.max_drift_share)} (per-column test: "
        f"{test}; up to {drift.max_rows:,} rows sampled) | "
        + ("a veto" if drift.veto else "recorded, not a veto")
        + (
            "; a recent window is required"
            if drift.require_recent_window
            else "; without a recent window: not evaluated"
        )
        + " |"
    )
    lines.append(
        f"| prediction_drift | PSI of challenger vs champion outputs ≤ "
        f"{_number(policy.prediction_drift.max_psi)} | same rows, when a champion exists |"
    )
    for rule in policy.champion:
        direction = "higher" if rule.higher_is_better else "lower"
        lines.append(
            f"| champion:{rule.metric} | degrades by at most "
            f"{_number(rule.max_degradation)} ({direction} is better) | against the champion, "
            "on the same evaluation window |"
        )
    lines.append("")
    if policy.rules:
        import yaml

        lines += [
            "The family's own rules (`rules:`):",
            "",
            "```yaml",
            yaml.safe_dump(policy.rules, sort_keys=False).rstrip(),
            "```",
            "",
        ]
    return lines


def markdown() -> str:
    from riskops.policy import load_policies
    from riskops.settings import Settings

    path = Settings.model_fields["policy_file"].default
    book = load_policies(path)
    lines = ["# Shipped policy", "", INTRO, "## Tiers", ""]
    lines += ["| tier | approvals | revalidation | findings that block |", "|---|---|---|---|"]
    for tier, rule in book.tiers.items():
        blocking = ", ".join(rule.block_on_findings) or "none"
        lines.append(
            f"| {tier} | {rule.approvals} | every {rule.revalidation_days} days | {blocking} |"
        )
    lines.append("")
    for name, policy in book.models.items():
        lines += _model(name, policy, book)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
