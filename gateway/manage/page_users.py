"""The users page: users with roles and systems (never a password), and the forms that
add one, set a password or roles, bind or unbind systems, and remove one."""

from __future__ import annotations

from typing import Any

from gateway.manage.api_users import (
    add_user,
    bind,
    change_password,
    change_roles,
    drop_user,
    unbind,
    user_list,
)
from gateway.manage.web_routes import Call, Page, Redirect, page
from gateway.persistence.audit_trail import Change
from gateway.security.roles import CONSOLE_ROLES, ROLES

__all__ = [
    "user_add",
    "user_binding",
    "user_password",
    "user_remove",
    "user_roles",
    "users_page",
]


def _form(call: Call) -> dict[str, Any]:
    form = call.request.form
    return {
        "username": form.get("username", ""),
        "password": form.get("password", ""),
        "roles": list(call.args("roles")),
        "systems": form.get("systems", ""),
        "all_systems": form.get("all_systems") == "on",
    }


def _said(change: Change | None, name: str) -> str:
    return change.describe() if change is not None else f"user {name}: no change"


@page("GET", "/users", role="ADMIN", summary="Users, their roles and systems")
def users_page(call: Call) -> Page:
    return Page(
        "users.html",
        {
            "title": "Users",
            "users": user_list(call),
            "roles": ROLES,
            "console_roles": CONSOLE_ROLES,
        },
    )


@page("POST", "/users", role="ADMIN", summary="Add a user")
def user_add(call: Call) -> Redirect:
    data = _form(call)
    return Redirect("/users", notice=_said(add_user(call, data), data["username"]))


@page("POST", "/users/<name>/roles", role="ADMIN", summary="Set a user's roles")
def user_roles(call: Call, name: str) -> Redirect:
    return Redirect("/users", notice=_said(change_roles(call, name, _form(call)), name))


@page("POST", "/users/<name>/password", role="ADMIN", summary="Set a user's password")
def user_password(call: Call, name: str) -> Redirect:
    change_password(call, name, _form(call))
    return Redirect("/users", notice=f"user {name}: password set")


@page("POST", "/users/<name>/<any(bind, unbind):action>", role="ADMIN",
      summary="Bind or unbind a user's systems")  # fmt: skip
def user_binding(call: Call, name: str, action: str) -> Redirect:
    change = (bind if action == "bind" else unbind)(call, name, _form(call))
    return Redirect("/users", notice=_said(change, name))


@page("POST", "/users/<name>/remove", role="ADMIN", summary="Remove a user")
def user_remove(call: Call, name: str) -> Redirect:
    return Redirect("/users", notice=drop_user(call, name).describe())
