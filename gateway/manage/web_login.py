"""Signing in and out of the console.

The sign-in form is guarded by a double-submit token (a random value in a cookie and in
the form; a page elsewhere can read neither), the password checked by the services'
authenticator under the same lockout rules, and only a user with a console role gets a
session. The session cookie is HttpOnly and SameSite=Strict, scoped to ``/manage``, and
Secure when the console is reached over HTTPS.
"""

from __future__ import annotations

import hmac
import secrets

from werkzeug.wrappers import Response

from gateway.errors import AuthError
from gateway.manage.templating import render
from gateway.manage.web_routes import PREFIX, Call, Page, page
from gateway.manage.web_sessions import SESSION_COOKIE
from gateway.security.roles import console_role

__all__ = ["sign_in", "sign_in_form", "sign_out"]

_LOGIN_COOKIE = "omgw_login"


def _secure(call: Call) -> bool:
    public = call.runtime.settings.public_url or ""
    return call.request.is_secure or public.startswith("https:")


def _next(call: Call) -> str:
    """Where to go once signed in: a console page, never another site."""
    target = call.arg("next") or ""
    if not target.startswith(PREFIX + "/") or target.startswith("//") or "\\" in target:
        return PREFIX + "/"
    return target


def _form(call: Call, status: int = 200, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    html = render(
        "login.html",
        call,
        login_token=token,
        next=_next(call),
        error=error,
        username=call.arg("username") or "",
    )
    response = Response(html, status, mimetype="text/html")
    response.set_cookie(
        _LOGIN_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=_secure(call),
        max_age=3600,
    )
    return response


@page("GET", "/login", role=None, summary="The sign-in form")
def sign_in_form(call: Call) -> Response:
    return _form(call)


@page("POST", "/login", role=None, summary="Sign in")
def sign_in(call: Call) -> Response | Page:
    given = call.request.form.get("login_token") or ""
    kept = call.request.cookies.get(_LOGIN_COOKIE) or ""
    if not kept or not hmac.compare_digest(given.encode(), kept.encode()):
        return _form(call, 403, "the form is stale or came from elsewhere: try again")
    username = call.request.form.get("username") or ""
    password = call.request.form.get("password") or ""
    try:
        principal = call.signing.authenticator.sign_in(
            username, password, address=call.request.remote_addr
        )
    except AuthError as err:
        return _form(call, 401, err.message)
    if console_role(principal.roles) is None:
        return _form(
            call,
            403,
            f"user {principal.username!r} holds no console role (ADMIN, OPERATOR or VIEWER)",
        )
    token = call.signing.sessions.open(principal.username, call.request.remote_addr)
    response = Response("", 303, headers={"Location": _next(call)})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=_secure(call),
    )
    response.delete_cookie(_LOGIN_COOKIE, path=PREFIX)
    return response


@page("POST", "/logout", role="VIEWER", summary="Sign out")
def sign_out(call: Call) -> Response:
    if call.session is not None:
        call.signing.sessions.close(call.session.token)
    response = Response("", 303, headers={"Location": f"{PREFIX}/login"})
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="Strict")
    return response
