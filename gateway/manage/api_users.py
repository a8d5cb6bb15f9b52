"""Users of the services and the console: listed with roles and systems (never a
password or its hash), added, their password or roles changed, bound to systems,
removed, as ``omgw user`` does (:mod:`gateway.registry.user_admin`).

A password is write-only. When a user's password or roles change or the user goes,
their console sessions end in the same transaction. The last ADMIN can be neither
removed nor demoted: without one the console switches itself off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ValidationError
from gateway.manage.web_routes import Call, api
from gateway.persistence.audit_trail import Change
from gateway.registry.user_admin import (
    bind_systems,
    put_user,
    refuse_last_admin,
    remove_user,
    set_password,
    set_roles,
    unbind_systems,
    user_records,
)
from gateway.security.roles import ROLES, console_role

__all__ = [
    "add_user",
    "bind",
    "change_password",
    "change_roles",
    "drop_user",
    "unbind",
    "user_list",
]

_NAMES = {"type": "array", "items": {"type": "string"}}
_PASSWORD = {"type": "string", "format": "password", "writeOnly": True, "minLength": 8}
_ADD_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password", "roles"],
    "properties": {
        "username": {"type": "string"},
        "password": _PASSWORD,
        "roles": {"type": "array", "items": {"type": "string", "enum": list(ROLES)}},
        "systems": _NAMES,
        "all_systems": {"type": "boolean"},
    },
}
_BINDING_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"systems": _NAMES, "all_systems": {"type": "boolean"}},
}


def _names(data: Mapping[str, Any], name: str) -> list[str]:
    value = data.get(name) or []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("INVALID_VALUE", f"{name} must be a list of names")
    return [v.strip() for v in value if v.strip()]


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ValidationError("INVALID_VALUE", f"{name} must be true or false")
    return value


def _password(data: Mapping[str, Any]) -> str:
    value = data.get("password")
    if not isinstance(value, str) or not value:
        raise ValidationError("INVALID_VALUE", "give the password")
    return value


def user_list(call: Call) -> list[dict[str, Any]]:
    with call.reading() as s:
        records = user_records(s)
    for record in records:
        record["roles"] = record["roles"].split()
        record["console_role"] = console_role(record["roles"])
    return records


def add_user(call: Call, data: Mapping[str, Any]) -> Change:
    username = data.get("username")
    if not isinstance(username, str):
        raise ValidationError("INVALID_VALUE", "give the user name")
    with call.writing() as s:
        return put_user(
            s,
            lambda: call.runtime.secret_box,
            call.actor,
            username.strip(),
            _password(data),
            _names(data, "roles"),
            _names(data, "systems"),
            _flag(data, "all_systems"),
        )


def change_password(call: Call, name: str, data: Mapping[str, Any]) -> Change:
    with call.writing() as s:
        change = set_password(s, lambda: call.runtime.secret_box, call.actor, name, _password(data))
        call.signing.sessions.close_all_of(s, name)
    return change


def change_roles(call: Call, name: str, data: Mapping[str, Any]) -> Change | None:
    roles = _names(data, "roles")
    with call.writing() as s:
        refuse_last_admin(s, name, roles)
        change = set_roles(s, call.actor, name, roles)
        if change is not None:
            call.signing.sessions.close_all_of(s, name)
    return change


def bind(call: Call, name: str, data: Mapping[str, Any]) -> Change | None:
    systems, every = _names(data, "systems"), _flag(data, "all_systems")
    if not systems and not every:
        raise ValidationError("INVALID_VALUE", "give systems, or all_systems")
    if systems and every:
        raise ValidationError("INVALID_VALUE", "give systems or all_systems, not both")
    with call.writing() as s:
        return bind_systems(s, call.actor, name, systems, every)


def unbind(call: Call, name: str, data: Mapping[str, Any]) -> Change | None:
    systems, every = _names(data, "systems"), _flag(data, "all_systems")
    if not systems and not every:
        raise ValidationError("INVALID_VALUE", "give systems, or all_systems")
    with call.writing() as s:
        return unbind_systems(s, call.actor, name, systems, every)


def drop_user(call: Call, name: str) -> Change:
    with call.writing() as s:
        refuse_last_admin(s, name, None)
        change = remove_user(s, call.actor, name)
        call.signing.sessions.close_all_of(s, name)
    return change


def _changes(*changes: Change | None) -> dict[str, Any]:
    return {"changes": [c.to_json() for c in changes if c is not None]}


@api(
    "GET",
    "/users",
    role="ADMIN",
    tag="users",
    summary="Users with their roles and systems (never a password)",
)
def users_get(call: Call) -> dict[str, Any]:
    return {"users": user_list(call)}


@api(
    "POST",
    "/users",
    role="ADMIN",
    tag="users",
    summary="Add a user (omgw user add); the password is write-only",
    body=_ADD_BODY,
)
def user_post(call: Call) -> dict[str, Any]:
    return _changes(add_user(call, call.body()))


@api(
    "PUT",
    "/users/<name>/roles",
    role="ADMIN",
    tag="users",
    summary="Give a user exactly these roles; ends their console sessions",
    body={"type": "object", "required": ["roles"], "properties": {"roles": _NAMES}},
)
def user_roles_put(call: Call, name: str) -> dict[str, Any]:
    return _changes(change_roles(call, name, call.body()))


@api(
    "POST",
    "/users/<name>/password",
    role="ADMIN",
    tag="users",
    summary="Set a user's password; ends their console sessions",
    body={"type": "object", "required": ["password"], "properties": {"password": _PASSWORD}},
)
def user_password_post(call: Call, name: str) -> dict[str, Any]:
    return _changes(change_password(call, name, call.body()))


@api(
    "POST",
    "/users/<name>/bind",
    role="ADMIN",
    tag="users",
    summary="Let a user act for more systems, or every system (omgw user bind)",
    body=_BINDING_BODY,
)
def user_bind_post(call: Call, name: str) -> dict[str, Any]:
    return _changes(bind(call, name, call.body()))


@api(
    "POST",
    "/users/<name>/unbind",
    role="ADMIN",
    tag="users",
    summary="Stop a user acting for systems, or revoke every system (omgw user unbind)",
    body=_BINDING_BODY,
)
def user_unbind_post(call: Call, name: str) -> dict[str, Any]:
    return _changes(unbind(call, name, call.body()))


@api(
    "DELETE",
    "/users/<name>",
    role="ADMIN",
    tag="users",
    summary="Remove a user (omgw user remove); ends their console sessions",
)
def user_delete(call: Call, name: str) -> dict[str, Any]:
    return _changes(drop_user(call, name))
