"""Roles, the permission table, and who is acting (:class:`Principal`).

The table is explicit: a permission is granted by the roles listed against it and by no
other. An identity may hold several roles; it may do what any of them permits.

==================  ===================================================================
permission          what it allows (roles)
==================  ===================================================================
``train``           train, retrain or register a challenger (data_scientist)
``promote``         gate a version and request its promotion (data_scientist)
``shadow``          run a version in shadow beside the champion (data_scientist)
``approve``         approve another person's promotion request (validator)
``reject``          reject a promotion request (validator)
``findings``        record and close validation findings (validator)
``force``           promote despite failed gates, with a reason (admin)
``rollback``        make the previous champion champion again (admin)
``users``           add, list and revoke identities and tokens (admin)
``score``           call the service's model routes, record an offline portfolio's
                    decisions (service)
``observe``         feed market observations to the live champions: ``riskops observe``,
                    ``riskops stream``, ``POST /market/observe`` (service)
``outcomes``        record matured credit outcomes and run the validation tests on them
                    (data_scientist, validator)
``view``            read the inventory, versions, approvals, audit and findings (every
                    human role)
==================  ===================================================================

Names are normalised (:func:`normalise`) before they are stored or compared, so
``"root "``, ``"Root"`` and ``"root"`` are one person, and an empty name is refused.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from riskops.errors import BadInputError, PermissionDenied

Source = Literal["token", "oidc", "self_declared", "shared_key", "anonymous"]
"""How an identity was established: a RiskOps token verified against its hash, an OIDC
token verified against the issuer's keys, a name nobody verified (local single-user mode),
the service's deprecated shared key, or nothing at all (an open local service)."""

AUTHENTICATED_SOURCES = frozenset({"token", "oidc"})

ROLES = ("data_scientist", "validator", "admin", "service")

PERMISSIONS: dict[str, frozenset[str]] = {
    "train": frozenset({"data_scientist"}),
    "promote": frozenset({"data_scientist"}),
    "shadow": frozenset({"data_scientist"}),
    "approve": frozenset({"validator"}),
    "reject": frozenset({"validator"}),
    "findings": frozenset({"validator"}),
    "force": frozenset({"admin"}),
    "rollback": frozenset({"admin"}),
    "users": frozenset({"admin"}),
    "score": frozenset({"service"}),
    "outcomes": frozenset({"data_scientist", "validator"}),
    "observe": frozenset({"service"}),
    "view": frozenset({"data_scientist", "validator", "admin"}),
}
"""permission -> the roles that grant it (the table above)."""

ALL_PERMISSIONS = frozenset(PERMISSIONS)

_MAX_NAME = 200


def normalise(raw: str | None, field_name: str = "name") -> str:
    """One spelling per person: Unicode NFKC, surrounding blanks removed, case folded.

    Raises :class:`BadInputError` naming ``field_name`` for an empty name, a name with
    control characters, or one longer than 200 characters.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip().casefold()
    if not text:
        raise BadInputError(f"{field_name}: an identity needs a name (got {raw!r})")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise BadInputError(f"{field_name}: {raw!r} contains control characters")
    if len(text) > _MAX_NAME:
        raise BadInputError(f"{field_name}: longer than {_MAX_NAME} characters")
    return text


def canonical(name: str | None) -> str:
    """A recorded actor as one spelling per person (never raises: old records may hold
    anything, even an empty name, which then matches nobody)."""
    return unicodedata.normalize("NFKC", name or "").strip().casefold()


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two recorded actors are one person ("root ", "Root" and "root" are)."""
    left, right = canonical(a), canonical(b)
    return bool(left) and left == right


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    """The roles, each one of :data:`ROLES` (else :class:`BadInputError` naming it)."""
    chosen = frozenset(r.strip().casefold() for r in roles if r and r.strip())
    unknown = sorted(chosen - set(ROLES))
    if unknown:
        raise BadInputError(f"--role: {unknown} not among {list(ROLES)}")
    if not chosen:
        raise BadInputError(f"--role: give at least one of {list(ROLES)}")
    return chosen


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    held = set(roles)
    return frozenset(p for p, granting in PERMISSIONS.items() if granting & held)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a normalised ``name``, its ``roles`` and ``permissions``, and how it
    was established (``source``). ``token_id`` names the token used, if any."""

    name: str
    roles: frozenset[str]
    source: Source
    kind: Literal["user", "service"] = "user"
    token_id: str | None = None
    permissions: frozenset[str] = field(default=frozenset())

    @classmethod
    def of(
        cls,
        name: str,
        roles: Iterable[str],
        source: Source,
        kind: Literal["user", "service"] = "user",
        token_id: str | None = None,
    ) -> Principal:
        held = frozenset(roles)
        return cls(normalise(name), held, source, kind, token_id, permissions_of(held))

    @classmethod
    def single_user(cls, name: str) -> Principal:
        """The local single-user mode: no identities defined, the one user may do anything,
        and the record says the name was only declared."""
        return cls(
            normalise(name, "RISKOPS_ACTOR"),
            frozenset(),
            "self_declared",
            "user",
            None,
            ALL_PERMISSIONS,
        )

    @property
    def authenticated(self) -> bool:
        return self.source in AUTHENTICATED_SOURCES

    def can(self, permission: str) -> bool:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        return permission in self.permissions

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": sorted(self.roles),
            "source": self.source,
            "kind": self.kind,
            "token_id": self.token_id,
        }


def require(principal: Principal, permission: str, what: str = "") -> Principal:
    """``principal`` if it holds ``permission``; else :class:`PermissionDenied` naming it.

    The message says which roles grant the permission, so the fix is clear.
    """
    if principal.can(permission):
        return principal
    held = ", ".join(sorted(principal.roles)) or "no role"
    granting = " or ".join(sorted(PERMISSIONS[permission]))
    action = f" to {what}" if what else ""
    raise PermissionDenied(
        f"permission '{permission}' denied: {principal.name} ({held}) needs the "
        f"{granting} role{action}",
        permission,
        principal.name,
    )
