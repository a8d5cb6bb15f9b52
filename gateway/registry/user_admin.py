"""Users of the services and the console: added, their password and roles set, bound to
systems, removed; every change audited, never a password or its hash.

``omgw user`` and the console's user pages both change users through these functions,
in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.spec_reader import is_plain
from gateway.errors import ConflictError, NotFoundError, ValidationError, did_you_mean
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import User
from gateway.registry.bindings import binding_of, check_systems, set_binding, stored_systems
from gateway.registry.wallet_store import Keys, seal_user_secret
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES

__all__ = [
    "MIN_PASSWORD",
    "bind_systems",
    "check_name",
    "check_password",
    "put_user",
    "refuse_existing",
    "refuse_last_admin",
    "remove_user",
    "require_user",
    "set_password",
    "set_roles",
    "unbind_systems",
    "user_records",
]

#: the fewest characters a password may have
MIN_PASSWORD = 8


def user_records(session: Session) -> list[dict[str, Any]]:
    """Every user: name, roles (space-separated) and systems; never a password."""
    users = session.scalars(select(User).order_by(User.username))
    return [{"username": u.username, "roles": u.roles, **binding_of(u)} for u in users]


def require_user(session: Session, name: str) -> User:
    row = session.scalar(select(User).where(User.username == name))
    if row is None:
        like = did_you_mean(name, session.scalars(select(User.username)))
        raise NotFoundError("USER_UNKNOWN", f"there is no user {name!r}{like}")
    return row


def refuse_existing(session: Session, name: str) -> None:
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(
            "ALREADY_EXISTS",
            f"user {name} already exists; to change its password or roles, run "
            f"'omgw user add {name} --replace --role ROLE...' (its systems: omgw user bind)",
        )


def check_name(name: str) -> None:
    if not is_plain(name, 100):
        raise ValidationError(
            "INVALID_VALUE", "a user name is 1 to 100 characters, no control characters"
        )


def check_password(password: str) -> None:
    """Refuse a password too short; the message never holds the password."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            "INVALID_VALUE", f"the password must have at least {MIN_PASSWORD} characters"
        )


def _role_text(roles: Iterable[str]) -> str:
    wanted = {r.strip() for r in roles if r.strip()}
    unknown = sorted(wanted - set(ROLES))
    if unknown:
        raise ValidationError(
            "INVALID_VALUE", f"unknown role {', '.join(unknown)} (one of {', '.join(ROLES)})"
        )
    if not wanted:
        raise ValidationError("INVALID_VALUE", "a user needs at least one role")
    return " ".join(sorted(wanted))


def put_user(
    session: Session,
    keys: Keys,
    actor: str,
    name: str,
    password: str,
    roles: Iterable[str],
    systems: Iterable[str] = (),
    all_systems: bool = False,
    *,
    replace: bool = False,
) -> Change:
    """Add a user, or with ``replace`` set an existing one's password and roles anew (its
    systems are kept unless given)."""
    check_name(name)
    check_password(password)
    systems = tuple(systems)
    if systems and all_systems:
        raise ValidationError("INVALID_VALUE", "give systems or all systems, not both")
    role_text = _role_text(roles)
    check_systems(session, systems)
    sealed = seal_user_secret(session, keys, name, password)
    if not replace:
        refuse_existing(session, name)
    row = session.scalar(select(User).where(User.username == name))
    before = None if row is None else {"roles": row.roles, **binding_of(row)}
    if row is None:
        row = User(username=name, systems="", all_systems=False)
        session.add(row)
    row.password_hash = hash_password(password)
    row.digest_secret = sealed
    row.roles = role_text
    if systems or all_systems:
        row.systems = stored_systems(systems)
        row.all_systems = all_systems
    change = Change(
        "create" if before is None else "update",
        "user",
        name,
        before,
        {"roles": role_text, **binding_of(row), "password": "set"},
    )
    audit_trail.record(session, actor, change)
    return change


def set_password(session: Session, keys: Keys, actor: str, name: str, password: str) -> Change:
    """Give a user a new password (both its hash and its sealed form)."""
    check_password(password)
    row = require_user(session, name)
    row.digest_secret = seal_user_secret(session, keys, name, password)
    row.password_hash = hash_password(password)
    change = Change("update", "user", name, None, {"password": "set"})
    audit_trail.record(session, actor, change)
    return change


def set_roles(session: Session, actor: str, name: str, roles: Iterable[str]) -> Change | None:
    """Give a user exactly ``roles``; None when those are its roles already."""
    row = require_user(session, name)
    role_text = _role_text(roles)
    if role_text == row.roles:
        return None
    change = Change("update", "user", name, {"roles": row.roles}, {"roles": role_text})
    row.roles = role_text
    audit_trail.record(session, actor, change)
    return change


def refuse_last_admin(session: Session, name: str, roles_after: Iterable[str] | None) -> None:
    """Refuse (``LAST_ADMIN``) to take ADMIN from the only user holding it (``roles_after``
    None: the user goes): the console serves only while some user holds ADMIN."""
    row = session.scalar(select(User).where(User.username == name))
    if row is None or "ADMIN" not in row.roles.split():
        return
    if roles_after is not None and "ADMIN" in set(roles_after):
        return
    stmt = select(User.username, User.roles).where(User.roles.like("%ADMIN%"))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two admins demoting each other: one waits
    others = [u for u, r in session.execute(stmt) if u != name and "ADMIN" in r.split()]
    if not others:
        raise ConflictError(
            "LAST_ADMIN",
            f"user {name} is the only ADMIN: give another user ADMIN first (without one, "
            "the console switches itself off)",
        )


def bind_systems(
    session: Session, actor: str, name: str, systems: Iterable[str], all_systems: bool
) -> Change | None:
    """Let a user act for more systems (or, with ``all_systems``, every system)."""
    row = require_user(session, name)
    codes = [*row.systems.split(), *systems]
    return set_binding(session, actor, row, codes, row.all_systems or all_systems)


def unbind_systems(
    session: Session, actor: str, name: str, systems: Iterable[str], all_systems: bool
) -> Change | None:
    """Stop a user acting for ``systems`` (and, with ``all_systems``, revoke every system)."""
    row = require_user(session, name)
    dropped = set(systems)
    codes = [c for c in row.systems.split() if c not in dropped]
    return set_binding(session, actor, row, codes, row.all_systems and not all_systems)


def remove_user(session: Session, actor: str, name: str) -> Change:
    row = require_user(session, name)
    change = Change("delete", "user", name, {"roles": row.roles, **binding_of(row)}, None)
    session.delete(row)
    audit_trail.record(session, actor, change)
    return change
