"""A family's own words in its model cards: what it is for, how it works, where it stops.

Everything else in a card or validation report is read from the registry, the run and the
audit trail. A family keeps these texts about the *family* (its purpose, method and standing
assumptions) in its :class:`~riskops.documents.FamilyDocuments`; facts about one version
belong in its data-driven caveats.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

__all__ = ["FamilyText"]


@dataclass(frozen=True)
class FamilyText:
    """Purpose, intended and out-of-scope uses, method, assumptions and limitations.

    Attributes
    ----------
    title
        The card's title after the model's name, e.g. ``Credit probability of default``.
    purpose
        What the model estimates, in a sentence or two.
    intended_uses, out_of_scope
        Uses the family is validated for, and uses it is not.
    methodology
        How the family's built-in kinds work.
    assumptions, limitations
        Standing assumptions and known limitations of the method.
    evaluation
        How every model of the family is fitted and judged, built-in or a data
        scientist's own (shown after the model's own description).
    own_models
        What the platform adds to a data scientist's own estimator (its adapter).
    """

    title: str
    purpose: str
    intended_uses: tuple[str, ...]
    out_of_scope: tuple[str, ...]
    methodology: str
    assumptions: tuple[str, ...]
    limitations: tuple[str, ...]
    evaluation: str = ""
    own_models: str = ""

    @classmethod
    def described(cls, family: str, description: str | None = None) -> FamilyText:
        """The text of a family that wrote none: its title and purpose from the first line of
        ``description`` (its class's docstring), the method from the rest; an explicit
        placeholder, not a guess, when there is no description at all."""
        text = inspect.cleandoc(description or "")
        if not text:
            missing = f"No description is written for the {family!r} family."
            return cls(family, missing, (), (), missing, (), ())
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        summary = paragraphs[0]
        return cls(
            title=summary.split(". ")[0].rstrip("."),
            purpose=summary,
            intended_uses=(),
            out_of_scope=(),
            methodology=" ".join(paragraphs[1:]) or summary,
            assumptions=(),
            limitations=(),
        )
