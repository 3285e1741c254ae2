"""What a lifecycle use case needs from the :class:`~riskops.lifecycle.Lifecycle` facade.

The use cases (:mod:`~riskops.lifecycle.training`, :mod:`~riskops.lifecycle.promotion`,
:mod:`~riskops.lifecycle.shadow`) take the facade as an argument. Typing that argument
with this protocol, rather than with the facade class, keeps the facade importing its use
cases and never the other way round (no import cycle, not even one for the type checker),
and says in one place which of the facade's services a use case may use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from riskops.audit import AuditTrail
    from riskops.gates import GateReport
    from riskops.ledger.loader import VerifiedLoader
    from riskops.policy import PolicyBook
    from riskops.registry import Registry
    from riskops.settings import Settings


class LifecycleContext(Protocol):
    """The facade's services a use case may call (structural: ``Lifecycle`` satisfies it)."""

    settings: Settings
    registry: Registry
    trail: AuditTrail
    loader: VerifiedLoader

    @property
    def policies(self) -> PolicyBook: ...

    def actor(self) -> str: ...

    def require(self, permission: str, what: str) -> None: ...

    def register_version(
        self, run_id: str, name: str, tags: dict[str, str], **record: Any
    ) -> int: ...

    def project(self, name: str, intent_seq: int) -> None: ...

    def record_report(
        self, name: str, version: int, report: GateReport, status: str, audit_seq: int
    ) -> None: ...

    def required_approvals(self, name: str, version: int, state: Any) -> int: ...

    def document_decision(self, name: str, version: int, audit_seq: int) -> dict[str, Any]: ...
