"""The console's routes, declared where they are handled.

Every handler is registered with the method, path, role and summary it answers for;
the dispatcher (:mod:`.console_app`) builds its URL map from :data:`ROUTES`, and the
OpenAPI description (:mod:`.openapi_doc`) is written from the same list, so neither can
name a route the other does not know.

A handler takes a :class:`Call` and the path's values. An API handler returns what
becomes its JSON body; a page handler returns a :class:`Page` (rendered with the
template) or a :class:`Redirect`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.wrappers import Request

from gateway.errors import ValidationError
from gateway.manage.web_sessions import SessionStore, WebSession
from gateway.outbox.message_filter import parse_when
from gateway.runtime import Runtime
from gateway.security.authenticator import Authenticator

__all__ = [
    "PREFIX",
    "ROUTES",
    "Call",
    "Page",
    "Param",
    "Redirect",
    "Route",
    "Signing",
    "api",
    "page",
    "when_arg",
]

#: where the console and its API are served
PREFIX = "/manage"


@dataclass(frozen=True)
class Param:
    """A query parameter of an API route (for its OpenAPI description)."""

    name: str
    description: str
    type: str = "string"  # string | integer | boolean
    required: bool = False
    enum: tuple[str, ...] = ()
    #: the parameter may be given several times
    repeated: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    #: under /manage, with werkzeug's converters (``/api/v1/orders/<number>``)
    path: str
    handler: Callable[..., Any]
    #: the console role needed (VIEWER, OPERATOR, ADMIN); None: open (the sign-in page)
    role: str | None
    summary: str
    api: bool
    params: tuple[Param, ...] = ()
    #: the JSON body's schema (OpenAPI) for an API route that takes one
    body: dict[str, Any] | None = None
    #: the answer's schema (OpenAPI); an object of unstated shape without one
    answer: dict[str, Any] | None = None
    tag: str = ""


ROUTES: list[Route] = []


def api(
    method: str,
    path: str,
    *,
    role: str | None,
    summary: str,
    tag: str,
    params: tuple[Param, ...] = (),
    body: dict[str, Any] | None = None,
    answer: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a JSON route under ``/manage/api/v1``."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(
            Route(method, "/api/v1" + path, handler, role, summary, True, params, body, answer, tag)
        )
        return handler

    return register


def page(
    method: str, path: str, *, role: str | None, summary: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a page (HTML, or a redirect after a form's POST)."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(Route(method, path, handler, role, summary, False))
        return handler

    return register


def when_arg(name: str, text: object) -> datetime | None:
    """A ``since``/``until`` value (ISO 8601 with a time zone, or a date), as the CLI's
    options take it; a 400 naming it when it cannot be read."""
    if text is None or not str(text).strip():
        return None
    try:
        return parse_when(str(text))
    except ValueError as exc:
        raise ValidationError("PARAMETER_INVALID", f"{name}: {exc}") from None


@dataclass(frozen=True)
class Page:
    template: str
    values: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Redirect:
    """A redirect to a console path (``/orders/100001``), with a notice to show there."""

    to: str
    notice: str | None = None


@dataclass(frozen=True)
class Signing:
    """What signing in and out needs: the password check and the session store."""

    authenticator: Authenticator
    sessions: SessionStore


@dataclass
class Call:
    """One request to the console, once its caller is known."""

    request: Request
    runtime: Runtime
    #: "" on the open pages (sign-in) for a caller not signed in
    username: str
    roles: frozenset[str]
    #: the browser session (None for a script calling the API with HTTP Basic)
    session: WebSession | None
    signing: Signing

    @property
    def actor(self) -> str:
        """Who the audit log names for a change made in this call."""
        return self.username

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.runtime.read_sessions() as s, s.begin():
            yield s

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with self.runtime.sessions() as s, s.begin():
            yield s

    def arg(self, name: str) -> str | None:
        """A query (GET) or form (POST) value, stripped; None when absent or empty."""
        value = self.request.args.get(name)
        if value is None and self.request.method == "POST":
            value = self.request.form.get(name)
        value = (value or "").strip()
        return value or None

    def args(self, name: str) -> tuple[str, ...]:
        """Every value of a repeated parameter (``?id=1&id=2``), empty ones dropped."""
        values = self.request.args.getlist(name) or self.request.form.getlist(name)
        return tuple(v.strip() for v in values if v.strip())

    def number(self, name: str, default: int, least: int = 0, most: int = 100_000) -> int:
        text = self.arg(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ValidationError(
                "PARAMETER_INVALID", f"{name} must be a whole number, not {text!r}"
            ) from None
        if not least <= value <= most:
            raise ValidationError(
                "PARAMETER_INVALID", f"{name} must be between {least} and {most}, not {value}"
            )
        return value

    def flag(self, name: str) -> bool:
        text = (self.arg(name) or "").lower()
        if text in ("", "0", "false", "no", "off"):
            return False
        if text in ("1", "true", "yes", "on"):
            return True
        raise ValidationError("PARAMETER_INVALID", f"{name} must be true or false, not {text!r}")

    def body(self) -> dict[str, Any]:
        """The JSON object an API call sent (an empty one for none); a form's fields for
        a page's POST."""
        if not self.request.mimetype.endswith("json"):
            return {k: v for k, v in self.request.form.items()}
        if not self.request.get_data(cache=True):
            return {}
        try:
            data = self.request.get_json(force=True, cache=True)
        except Exception:  # werkzeug raises BadRequest with an HTML body: ours says why
            raise ValidationError("BODY_INVALID", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValidationError("BODY_INVALID", "the body must be a JSON object")
        return data
