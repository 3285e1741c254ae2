"""Figures of a validation report, and the primitives a family draws its own with.

A figure is the run's own plot where it logged one, else one drawn here from the data it
logged (:func:`figure`). Every figure carries its provenance (``artifact <path>`` or
``generated from <path>``), so a reviewer can tell a logged plot from one redrawn for the
report. Drawing functions are pure (data in, PNG bytes out) and use matplotlib's Agg backend,
imported when the first figure is drawn.
"""

from __future__ import annotations

import base64
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from riskops.documents.facts import VersionFacts

__all__ = ["Figure", "figure", "logged_figure", "png", "png_of_file", "pyplot", "read_table"]

Drawn = tuple[bytes, str]
"""PNG bytes and the artifact (or evidence key) they were drawn from."""


@dataclass(frozen=True)
class Figure:
    """One image of the report, with where it came from.

    ``group`` places it: ``performance`` (the family's and other logged plots),
    ``explainability`` (SHAP) or ``drift``.
    """

    key: str
    title: str
    png: bytes
    source: str
    group: str = "performance"

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "source": self.source,
            "group": self.group,
            "bytes": len(self.png),
        }


# ---------------------------------------------------------------- drawing helpers
def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (100 dpi, tight layout); the figure is closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def png_of_file(draw: Callable[[Path], Path], facts: VersionFacts) -> bytes:
    """The bytes of the PNG that ``draw`` writes into a temporary folder (and returns the path
    of): a family's own plotting function, which writes files, reused for the report.

    The folder is made beside ``facts.local_dir``, inside the scratch folder under the home
    that the documents are built in (never the host's temporary folder)."""
    with tempfile.TemporaryDirectory(dir=facts.local_dir.parent) as tmp:
        return draw(Path(tmp)).read_bytes()


# ------------------------------------------------------------------ assembling
def logged_figure(
    facts: VersionFacts, key: str, title: str, pattern: str, group: str, used: set[str]
) -> Figure | None:
    """The first logged PNG matching ``pattern`` (``fnmatch``) not in ``used``; it is added to
    ``used``, so that a later figure (or the catch-all of other logged plots) skips it."""
    for artifact in facts.artifacts:
        if artifact in used or not fnmatch(artifact, pattern):
            continue
        path = facts.local(artifact)
        if path is not None:
            used.add(artifact)
            return Figure(key, title, path.read_bytes(), f"artifact {artifact}", group)
    return None


def figure(
    facts: VersionFacts,
    key: str,
    title: str,
    pattern: str,
    used: set[str],
    generate: Callable[[], Drawn | None],
    group: str = "performance",
) -> Figure | None:
    """A logged plot when there is one, else one drawn from logged data (or nothing).

    Parameters
    ----------
    facts
        The version.
    key, title, group
        The figure's anchor, caption and place in the report.
    pattern
        ``fnmatch`` pattern of the logged plot that wins over drawing one.
    used
        Logged plots already shown (updated).
    generate
        Draws the figure from logged data: ``(png, source)``, or ``None`` when the data are
        not there. Malformed data (``KeyError``, ``ValueError``, ``TypeError``, ``OSError``)
        leave the figure out: a report is still useful without it.
    """
    found = logged_figure(facts, key, title, pattern, group, used)
    if found is not None:
        return found
    try:
        drawn = generate()
    except (KeyError, ValueError, TypeError, OSError):
        drawn = None
    if drawn is None:
        return None
    image, source = drawn
    return Figure(key, title, image, f"generated from {source}", group)


def read_table(facts: VersionFacts, artifact: str) -> pd.DataFrame | None:
    """A logged CSV or Parquet table, or ``None`` when it is not local."""
    import pandas as pd

    path = facts.local(artifact)
    if path is None:
        return None
    return pd.read_csv(path) if artifact.endswith(".csv") else pd.read_parquet(path)
