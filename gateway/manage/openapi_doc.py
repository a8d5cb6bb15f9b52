"""The management API's OpenAPI 3.1 description, written from the routes themselves
(:data:`.web_routes.ROUTES`), so it names every route served and no other."""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from gateway.manage.web_routes import PREFIX, ROUTES, Call, Route, api

__all__ = ["describe", "openapi"]

_PATH_VALUE = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "a stable code, e.g. NOT_FOUND"},
                "message": {"type": "string", "description": "what to do about it"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
_ERRORS = {
    "400": "The request's values are wrong (the message says which)",
    "401": "Not signed in: a session cookie or HTTP Basic credentials are needed",
    "403": "The user's role does not allow this, or the CSRF token is missing",
    "404": "Nothing by that key (or the console is off)",
    "409": "The change clashes with what exists",
    "503": "The database was busy: nothing was applied, send it again (see Retry-After)",
}


def _path(route: Route) -> tuple[str, list[dict[str, Any]]]:
    values = []
    for kind, name in _PATH_VALUE.findall(route.path):
        schema = {"type": "integer"} if kind == "int" else {"type": "string"}
        values.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PATH_VALUE.sub(lambda m: "{" + m.group(2) + "}", route.path), values


def _operation(route: Route) -> dict[str, Any]:
    path, parameters = _path(route)
    for p in route.params:
        schema: dict[str, Any] = {"type": p.type}
        if p.enum:
            schema["enum"] = list(p.enum)
        if p.repeated:
            schema = {"type": "array", "items": schema}
        parameters.append(
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": p.description,
                "schema": schema,
                **({"explode": True, "style": "form"} if p.repeated else {}),
            }
        )
    answers: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": route.answer or {"type": "object"}}},
        }
    }
    for status, why in _ERRORS.items():
        if status == "401" and route.role is None:
            continue
        answers[status] = {
            "description": why,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag] if route.tag else [],
        "parameters": parameters,
        "responses": answers,
    }
    if route.role is not None:
        operation["description"] = f"Needs the console role {route.role} (or a higher one)."
    else:
        operation["security"] = []
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    return {"path": path, "method": route.method.lower(), "operation": operation}


def _version() -> str:
    try:
        return metadata.version("omgw")
    except metadata.PackageNotFoundError:  # run from a source tree never installed
        return "0"


def describe(base: str = PREFIX) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        if not route.api:
            continue
        op = _operation(route)
        paths.setdefault(op["path"], {})[op["method"]] = op["operation"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "omgw management API",
            "version": _version(),
            "description": (
                "Orders, messages, connectors, wallet, routing, trigger points, users and "
                "status of an omgw gateway. Sign in with HTTP Basic (scripts) or the "
                "console's session cookie; with the cookie, every change (any method but "
                "GET) carries the session's CSRF token in X-CSRF-Token."
            ),
        },
        "servers": [{"url": base}],
        "security": [{"basic": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "apiKey", "in": "cookie", "name": "omgw_session"},
            },
            "schemas": {"Error": _ERROR},
        },
        "paths": dict(sorted(paths.items())),
    }


@api(
    "GET",
    "/openapi.json",
    role=None,
    tag="about",
    summary="This description of the API (OpenAPI 3.1)",
)
def openapi(call: Call) -> dict[str, Any]:
    return describe()
