"""Which systems each API user may act for (``security.systems``), as stored and audited.

Bindings are by system code: a user bound to ``WMS01`` may answer for the fulfillment
system of that code and import for and read the orders of the source system of that
code. A code must name a registered source system when it is bound; removing a system
later leaves the binding, which then names nothing until the code is registered again.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, did_you_mean
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import SourceSystem, User
from gateway.security.systems import SystemGrant

__all__ = ["binding_of", "check_systems", "set_binding", "stored_systems"]


def stored_systems(codes: Iterable[str]) -> str:
    """The ``users.systems`` column for ``codes``: sorted, once each, space-separated."""
    return " ".join(sorted({c.strip() for c in codes if c.strip()}))


def binding_of(user: User) -> dict[str, object]:
    """A user's binding as shown and audited."""
    return {"systems": user.systems.split(), "all_systems": user.all_systems}


def check_systems(session: Session, codes: Iterable[str]) -> None:
    """Refuse (``SOURCE_SYSTEM_UNKNOWN``) a code that names no source system, so a typo
    cannot leave a user bound to a system that does not exist."""
    wanted = {c.strip() for c in codes if c.strip()}
    if not wanted:
        return
    known = set(session.scalars(select(SourceSystem.code).where(SourceSystem.code.in_(wanted))))
    unknown = wanted - known
    if unknown:
        names = ", ".join(sorted(unknown))
        like = ""
        if len(unknown) == 1:
            like = did_you_mean(names, session.scalars(select(SourceSystem.code)))
        raise NotFoundError(
            "SOURCE_SYSTEM_UNKNOWN",
            f"there is no source system {names}{like}: register it first "
            "('omgw source-system add') or check the code",
        )


def set_binding(
    session: Session, actor: str, user: User, systems: Iterable[str], all_systems: bool
) -> Change | None:
    """Bind ``user`` to exactly ``systems`` (and to every system when ``all_systems``),
    recording the change in the audit log; None when that is its binding already."""
    text = stored_systems(systems)
    if SystemGrant.stored(text, all_systems) == SystemGrant.stored(user.systems, user.all_systems):
        return None
    check_systems(session, text.split())
    before = binding_of(user)
    user.systems = text
    user.all_systems = all_systems
    change = Change("update", "user", user.username, before, binding_of(user))
    audit_trail.record(session, actor, change)
    return change
