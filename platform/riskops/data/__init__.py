"""Data layer: bundled real datasets, user files with declared columns, pandera schemas."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riskops.data.credit import CreditDataset
    from riskops.data.market import MarketDataset

__all__ = ["DataSource", "bundled_catalog", "load"]


@dataclass(frozen=True)
class DataSource:
    """Where a dataset comes from and how its columns map to the domain.

    With ``path`` unset, the domain's bundled data (``bundled`` picks one for market).
    """

    domain: str
    path: Path | None = None
    bundled: str | None = None
    target: str | None = None
    positive_label: str | None = None
    date_col: str | None = None
    price_col: str | None = None
    return_col: str | None = None
    high_col: str | None = None
    low_col: str | None = None
    volume_col: str | None = None
    return_scale: str = "decimal"
    id_col: str | None = None
    protected: tuple[str, ...] = ()
    labels_optional: bool = False
    schema_path: Path | None = None

    def describe(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items() if v}

    def recent(self, path: Path) -> DataSource:
        """The source of a recent window (``--recent``) read with this source's column
        mapping: a file of its own, outcomes optional (recent applicants have none yet), no
        applicant key and no protected columns to keep aside."""
        from dataclasses import replace

        return replace(
            self, path=Path(path), bundled=None, labels_optional=True, id_col=None, protected=()
        )


def load(source: DataSource) -> CreditDataset | MarketDataset:
    """Load and validate a dataset; raises :class:`~riskops.errors.DataValidationError`."""
    if source.domain == "credit":
        from riskops.data.credit import load_credit

        return load_credit(
            source.path,
            target=source.target,
            positive_label=source.positive_label,
            date_col=source.date_col,
            id_col=source.id_col,
            protected=tuple(source.protected),
            labels_optional=source.labels_optional,
            schema_path=source.schema_path,
        )
    if source.domain == "market":
        from riskops.data.market import load_market

        return load_market(
            source.path,
            bundled=source.bundled or "sp500",
            date_col=source.date_col,
            price_col=source.price_col,
            return_col=source.return_col,
            high_col=source.high_col,
            low_col=source.low_col,
            volume_col=source.volume_col,
            return_scale=source.return_scale,
        )
    from riskops.errors import BadInputError

    raise BadInputError(f"domain: unknown domain {source.domain!r}; use credit or market")


def bundled_catalog() -> list[dict[str, str]]:
    """The datasets that ship with the installed packages, usable offline."""
    from riskops.data.credit import BUNDLED_CREDIT_SOURCE
    from riskops.data.market import BUNDLED_MARKET

    rows = [
        {
            "domain": "credit",
            "name": "credit_data",
            "description": f"{BUNDLED_CREDIT_SOURCE}: 4,454 applicants, Status good/bad",
        }
    ]
    rows += [{"domain": "market", "name": k, "description": v} for k, v in BUNDLED_MARKET.items()]
    return rows
