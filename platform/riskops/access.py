"""Managing who may act: adding identities, issuing tokens and revoking them, each change
recorded in the audit trail.

A use case over two lower layers: :mod:`riskops.identity` (who is who, which the audit trail
itself reads to name its actors) and :mod:`riskops.audit` (which records the change).

Identity changes are audit records of the pseudo-model :data:`IDENTITIES` (a name no
registered model can take: model names start with a letter), so ``riskops audit all`` and
``riskops audit _identities`` show who created or revoked whom, and when; the token ids
are recorded, never the tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from riskops.audit import AuditTrail
from riskops.identity.roles import Principal, normalise, require
from riskops.identity.store import IdentityRow, IdentityStore
from riskops.identity.tokens import IssuedToken
from riskops.settings import Settings

IDENTITIES = "_identities"


def bootstrap(settings: Settings, name: str) -> tuple[str, IssuedToken]:
    """The first admin of a home without identities (refused once any exists).

    Whoever can write the home can do this, so the record names the operating-system user
    (or ``RISKOPS_ACTOR``) as a self-declared actor.
    """
    founder = Principal.single_user(settings.actor)
    who, issued = IdentityStore(settings).bootstrap(name)
    AuditTrail(settings, principal=founder).append(
        "identity_bootstrap", IDENTITIES, identity=who, roles=["admin"], token_id=issued.token_id
    )
    return who, issued


def add(
    settings: Settings, principal: Principal, name: str, roles: Iterable[str]
) -> tuple[str, IssuedToken]:
    require(principal, "users", "add identities")
    chosen = sorted({r.strip().casefold() for r in roles})
    who, issued = IdentityStore(settings).add(name, chosen, created_by=principal.name)
    AuditTrail(settings, principal=principal).append(
        "identity_added", IDENTITIES, identity=who, roles=chosen, token_id=issued.token_id
    )
    return who, issued


def issue(settings: Settings, principal: Principal, name: str) -> IssuedToken:
    require(principal, "users", "issue tokens")
    issued = IdentityStore(settings).issue(name, created_by=principal.name)
    AuditTrail(settings, principal=principal).append(
        "token_issued", IDENTITIES, identity=normalise(name), token_id=issued.token_id
    )
    return issued


def revoke(settings: Settings, principal: Principal, name: str) -> dict[str, Any]:
    require(principal, "users", "revoke identities")
    who = normalise(name)
    tokens = IdentityStore(settings).revoke(who, revoked_by=principal.name)
    record = AuditTrail(settings, principal=principal).append(
        "identity_revoked", IDENTITIES, identity=who, tokens_revoked=tokens
    )
    return {"identity": who, "tokens_revoked": tokens, "audit_seq": record.seq}


def listing(settings: Settings, principal: Principal) -> list[IdentityRow]:
    require(principal, "view", "list identities")
    return IdentityStore(settings).identities()
