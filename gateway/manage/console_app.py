"""The management API and web console under ``/manage/``: one WSGI application.

Every request goes through the same steps:

1. the console must be on: ``OMGW_CONSOLE`` is set and some user holds ``ADMIN`` (else
   404, saying how to turn it on), and with ``OMGW_CONSOLE_PORT`` it answers only there;
2. its route is found in :data:`.web_routes.ROUTES`;
3. the caller is known by the session cookie, or (API only) HTTP Basic under the
   services' lockout rules; a page without either goes to the sign-in page;
4. the caller's console role must grant the route's (:func:`gateway.security.roles.grants`);
5. a change (anything but GET) made with a session must carry the session's CSRF token
   (the ``X-CSRF-Token`` header or a ``csrf`` form field), and come from this origin;
6. the handler runs, and what it returns, or the :class:`GatewayError` it raises,
   becomes the answer; each error class maps to one HTTP status (:data:`_STATUS`).
"""

from __future__ import annotations

import hmac
import importlib
import json
import logging
import mimetypes
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from gateway.errors import (
    AuthError,
    ConflictError,
    GatewayError,
    NotFoundError,
    StateError,
    ValidationError,
)
from gateway.manage.templating import render
from gateway.manage.web_routes import PREFIX, ROUTES, Call, Page, Redirect, Route, Signing
from gateway.manage.web_sessions import SESSION_COOKIE, SessionStore, WebSession, notice_seal
from gateway.persistence.models import MAX_ROW_ID, User
from gateway.runtime import Runtime
from gateway.security.authenticator import Authenticator
from gateway.security.roles import console_role, grants
from gateway.security.tokens import parse_basic

__all__ = ["ConsoleApp"]

log = logging.getLogger(__name__)

#: the modules whose routes the console serves: each registers its own as it is imported
_AREAS = (
    "api_audit",
    "api_connectors",
    "api_jobs",
    "api_messages",
    "api_orders",
    "api_routing",
    "api_set_aside",
    "api_staged",
    "api_status",
    "api_users",
    "api_wallet",
    "openapi_doc",
    "page_dashboard",
    "page_messages",
    "page_orders",
    "page_routing",
    "page_set_aside",
    "page_setup",
    "page_users",
    "web_login",
)
for _area in _AREAS:
    importlib.import_module(f"gateway.manage.{_area}")

#: the HTTP status of each error class; anything else is ours (500)
_STATUS: tuple[tuple[type[GatewayError], int], ...] = (
    (ValidationError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (StateError, 409),
)
#: a write that got no turn (gateway.persistence.gate.busy): nothing was applied, so the
#: caller is told to send it again, not handed a 500 as if the gateway had failed
_BUSY = "DATABASE_BUSY"
_ADMIN_CHECK_SECONDS = 5.0
_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


class _RowIdConverter(IntegerConverter):
    """``<int:id>`` in a path: a key a row can have, so one past any matches no route
    (a 404) instead of reaching the database, which cannot hold it."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, **{"max": MAX_ROW_ID, **kwargs})


class _RefusedError(Exception):
    """A request refused before its handler: status, code and message."""

    def __init__(self, status: int, code: str, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        #: a 405's Allow header: the methods the path takes
        self.allow = allow


class ConsoleApp:
    def __init__(self, runtime: Runtime, authenticator: Authenticator) -> None:
        self._runtime = runtime
        self._auth = authenticator
        settings = runtime.settings
        self.sessions = SessionStore(
            runtime.sessions,
            runtime.read_sessions,
            idle=timedelta(seconds=settings.console_idle_seconds),
            longest=timedelta(seconds=settings.console_session_seconds),
        )
        self._map = Map(
            [Rule(r.path, methods=[r.method], endpoint=i) for i, r in enumerate(ROUTES)],
            strict_slashes=False,
            converters={"int": _RowIdConverter},
        )
        self._signing = Signing(authenticator, self.sessions)
        self._admin_lock = threading.Lock()
        self._admin_checked: tuple[float, bool] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._answer(request)
        except Exception as exc:  # before a handler runs: the sign-in check, the database
            reference = uuid.uuid4().hex[:12]
            log.error("console %s %s failed (reference %s)", request.method, request.path,
                      reference, exc_info=(type(exc), exc, exc.__traceback__))  # fmt: skip
            message = f"the gateway failed; its log has reference {reference}"
            is_api = request.path.startswith(PREFIX + "/api/")
            response = self._error(request, is_api, 500, "INTERNAL_ERROR", message)
        for name, value in _SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def on(self) -> str | None:
        """None while the console serves; else why it is off (said on every request)."""
        if not self._runtime.settings.console:
            return "the console is off (OMGW_CONSOLE=0)"
        if not self._admin_exists():
            return (
                "the console is off until a user holds the ADMIN role: "
                "omgw user add NAME --role ADMIN"
            )
        return None

    def _admin_exists(self) -> bool:
        with self._admin_lock:
            held = self._admin_checked
            if held is not None and time.monotonic() - held[0] < _ADMIN_CHECK_SECONDS:
                return held[1]
        with self._runtime.read_sessions() as s:
            rows = s.scalars(select(User.roles).where(User.roles.like("%ADMIN%")))
            found = any("ADMIN" in r.split() for r in rows)
        with self._admin_lock:
            self._admin_checked = (time.monotonic(), found)
        return found

    def _answer(self, request: Request) -> Response:
        path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
        is_api = path.startswith("/api/")
        try:
            off = self.on()
            if off is not None:
                raise _RefusedError(404, "CONSOLE_OFF", off)
            if path.startswith("/static/"):
                return _static(path[len("/static/") :])
            adapter = self._map.bind(request.host, script_name=PREFIX, url_scheme=request.scheme)
            try:
                index, values = adapter.match(path or "/", method=request.method)
            except MethodNotAllowed as exc:
                allowed = ", ".join(exc.valid_methods or ())
                raise _RefusedError(405, "METHOD_NOT_ALLOWED", f"use {allowed}", allowed) from None
            except NotFound:
                raise _RefusedError(404, "NOT_FOUND", f"nothing at {PREFIX}{path}") from None
            route = ROUTES[index]
            call = self._call(request, route)
            if call is None:  # a page without a session: sign in first
                query = request.query_string.decode("latin-1")
                target = PREFIX + path + (f"?{query}" if query else "")
                return _redirect(f"{PREFIX}/login?next={quote(target)}")
            return self._run(route, call, values)
        except _RefusedError as refused:
            answer = self._error(request, is_api, refused.status, refused.code, refused.message)
            if refused.allow:
                answer.headers["Allow"] = refused.allow
            return answer
        except HTTPException as exc:  # werkzeug's own (a form too large, a bad cookie)
            code, text = exc.code or 400, exc.description or "the request cannot be read"
            return self._error(request, is_api, code, "BAD_REQUEST", text)

    def _call(self, request: Request, route: Route) -> Call | None:
        """The caller of ``request``; None for a page that needs a session and has none."""
        session = self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            username, roles = session.username, session.roles
        elif route.role is None:
            username, roles = "", frozenset()
        elif route.api and request.headers.get("Authorization"):
            username, roles = self._basic(request)
        elif route.api:
            raise _RefusedError(
                401, "AUTH_REQUIRED", "sign in: a console session, or HTTP Basic credentials"
            )
        else:
            return None
        if route.role is not None and not grants(roles, route.role):
            held = console_role(roles) or "no console role"
            raise _RefusedError(
                403, "AUTH_FORBIDDEN", f"user {username!r} ({held}) lacks the role {route.role}"
            )
        if request.method != "GET" and session is not None and route.role is not None:
            _check_csrf(request, session)
        return Call(request, self._runtime, username, roles, session, self._signing)

    def _basic(self, request: Request) -> tuple[str, frozenset[str]]:
        basic = parse_basic(request.headers.get("Authorization"))
        if basic is None:
            raise _RefusedError(401, "AUTH_REQUIRED", "only HTTP Basic credentials are taken here")
        try:
            principal = self._auth.sign_in(
                basic.username, basic.password, address=request.remote_addr
            )
        except AuthError as err:
            raise _RefusedError(401, err.code, err.message) from None
        return principal.username, principal.roles

    def _run(self, route: Route, call: Call, values: Mapping[str, Any]) -> Response:
        try:
            return _response(call, route.handler(call, **values))
        except GatewayError as err:
            status = next((s for cls, s in _STATUS if isinstance(err, cls)), None)
            if status is not None:
                details = [{"code": d.code, "message": d.message} for d in err.details]
                return self._error(
                    call.request, route.api, status, err.code, err.message, details, call
                )
            if err.code == _BUSY:
                busy = self._error(call.request, route.api, 503, err.code, err.message, None, call)
                busy.headers["Retry-After"] = "1"
                return busy
            return self._failed(route, call, err)
        except Exception as exc:  # a fault of ours: the caller gets a reference, the log the rest
            return self._failed(route, call, exc)

    def _failed(self, route: Route, call: Call, exc: Exception) -> Response:
        reference = uuid.uuid4().hex[:12]
        log.error(
            "console %s %s failed (reference %s)",
            route.method,
            route.path,
            reference,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        message = f"the gateway failed; its log has reference {reference}"
        return self._error(call.request, route.api, 500, "INTERNAL_ERROR", message, None, call)

    def _error(
        self,
        request: Request,
        is_api: bool,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        call: Call | None = None,
    ) -> Response:
        """The error as JSON for the API, else as a page: with the signed-in user's
        menu when the caller is known, and a way back to the console page it came from."""
        if is_api or request.accept_mimetypes.best == "application/json":
            error: dict[str, Any] = {"code": code, "message": message}
            if details:
                error["details"] = details
            return _json({"error": error}, status)
        referrer = urlsplit(request.referrer or "")
        back = referrer.path if referrer.netloc == request.host else ""
        html = render(
            "error.html",
            call,
            status=status,
            code=code,
            message=message,
            details=details or [],
            back=back if back.startswith(PREFIX + "/") else PREFIX + "/",
        )
        return Response(html, status, mimetype="text/html")


def _response(call: Call, result: Any) -> Response:
    """What a handler returned, as the answer: a redirect, a page rendered, or JSON."""
    if isinstance(result, Redirect):
        to = PREFIX + result.to
        if result.notice and call.session is not None:
            seal = notice_seal(call.session.token, result.notice)
            to += ("&" if "?" in to else "?") + f"notice={quote(result.notice)}&seal={seal}"
        return _redirect(to)
    if isinstance(result, Page):
        html = render(result.template, call, **result.values)
        return Response(html, result.status, mimetype="text/html")
    if isinstance(result, Response):
        return result
    return _json(result)


def _check_csrf(request: Request, session: WebSession) -> None:
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf") or ""
    if not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise _RefusedError(
            403, "CSRF_FAILED", "the form is stale or came from elsewhere: reload the page"
        )
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise _RefusedError(403, "CSRF_FAILED", f"a change from another origin ({origin})")


def _json(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, ensure_ascii=False, default=str, indent=None)
    return Response(body, status, mimetype="application/json")


def _redirect(to: str) -> Response:
    # 303: the browser follows a form's POST with a GET
    return Response("", 303, headers=Headers([("Location", to)]))


def _static(name: str) -> Response:
    """A file of the console's own (stylesheet, script): no CDN, nothing fetched."""
    if not name or "/" in name or name.startswith("."):
        raise _RefusedError(404, "NOT_FOUND", f"no file {name!r}")
    item = resources.files("gateway.manage").joinpath("static", name)
    if not item.is_file():
        raise _RefusedError(404, "NOT_FOUND", f"no file {name!r}")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = Response(item.read_bytes(), 200, mimetype=kind)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
