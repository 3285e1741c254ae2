"""Errors that carry their own exit code, so the CLI maps them without guessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RiskOpsError(Exception):
    """Base class. ``exit_code`` follows the CLI contract: 2 bad input, 3 refused, 1 other."""

    exit_code = 1

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": str(self)}


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column (or field), which rule, and a few offending values."""

    column: str
    rule: str
    values: tuple[Any, ...] = ()

    def __str__(self) -> str:
        shown = ", ".join(repr(v) for v in self.values[:5])
        return f"{self.column}: {self.rule}" + (f" (e.g. {shown})" if shown else "")


@dataclass
class DataValidationError(RiskOpsError):
    """A dataset or payload broke its schema. Raised before anything is written."""

    dataset: str
    violations: list[Violation] = field(default_factory=list)
    exit_code = 2

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.dataset}: {len(self.violations)} validation error(s)"]
        lines += [f"  - {v}" for v in self.violations]
        return "\n".join(lines)

    @property
    def columns(self) -> list[str]:
        return sorted({v.column for v in self.violations})

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": "DataValidationError",
            "dataset": self.dataset,
            "violations": [
                {"column": v.column, "rule": v.rule, "values": [_jsonable(x) for x in v.values[:5]]}
                for v in self.violations
            ],
        }


class BadInputError(RiskOpsError):
    """Bad arguments or configuration from the user (exit 2)."""

    exit_code = 2


class PromotionRefused(RiskOpsError):
    """A gate refused the challenger (exit 3). ``report`` holds the gate report."""

    exit_code = 3

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.report is not None and hasattr(self.report, "to_dict"):
            out["report"] = self.report.to_dict()
        return out


class NotFoundError(RiskOpsError):
    """A model, version or alias that does not exist (exit 2: the user named it)."""

    exit_code = 2


class RegistryError(RiskOpsError):
    """The model registry failed for another reason than "not found" (unreachable, denied).

    Exit 1: nothing can be decided safely, so training and promotion stop.
    """

    exit_code = 1


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class ArtifactIntegrityError(RiskOpsError):
    """A model's files differ from the audited hashes, or it has none (exit 1): not loaded."""

    exit_code = 1


class AuthenticationError(RiskOpsError):
    """No identity could be established: no token, a wrong, unknown or revoked one, or a
    self-declared name where an identity provider is configured (exit 2, HTTP 401)."""

    exit_code = 2


class PermissionDenied(RiskOpsError):
    """An authenticated identity whose roles lack a permission (exit 2, HTTP 403).

    ``permission`` names what was needed, ``actor`` who asked.
    """

    exit_code = 2

    def __init__(self, message: str, permission: str, actor: str) -> None:
        super().__init__(message)
        self.permission = permission
        self.actor = actor

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "permission": self.permission, "actor": self.actor}
