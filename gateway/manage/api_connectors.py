"""Connectors with their health, source systems, and trigger points: what ``omgw
connector``, ``omgw source-system list`` and ``omgw trigger`` show and change, as JSON.

Changes go through the registry's own functions, audited under the console user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.connector_specs import ConnectorSpec
from gateway.errors import ValidationError
from gateway.manage.web_routes import Call, Param, api
from gateway.observe.ops_snapshot import read_snapshot, thresholds
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import utcnow
from gateway.registry.spec_building import build_spec
from gateway.registry.store import Registry
from gateway.registry.trigger_store import TriggerStore, trigger_record
from gateway.views.status_report import connector_rows

__all__ = [
    "change_connector",
    "connector_list",
    "connector_one",
    "create_connector",
    "remove_connector",
    "remove_trigger",
    "set_trigger",
    "source_system_list",
    "trigger_list",
]

_OBJECT: dict[str, Any] = {"type": "object"}
_CONNECTOR_BODY: dict[str, Any] = {
    "type": "object",
    "description": "The fields of a connector as 'omgw export' writes them (retry and tls "
    "as objects); an update takes only the fields to change",
    "properties": {
        "name": {"type": "string"},
        "target_system": {"type": "string"},
        "url": {"type": "string"},
        "description": {"type": "string"},
        "credential_map": {"type": "string"},
        "credential_key": {"type": ["string", "null"]},
        "auth": {"type": "string"},
        "invocation_mode": {"type": "string"},
        "response_processing": {"type": "string"},
        "send_attachments": {"type": "boolean"},
        "timeout": {"type": "number"},
        "retry": _OBJECT,
        "tls": _OBJECT,
        "enabled": {"type": "boolean"},
    },
}
_TRIGGER_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {"type": "string"},
        "criterion": {"type": "string"},
        "raise_event": {"type": "boolean"},
        "send_email": {"type": "boolean"},
        "email_to": {"type": "array", "items": {"type": "string"}},
        "connectors": {"type": "array", "items": {"type": "string"}},
    },
}


def _changes(changes: list[Change | None]) -> dict[str, Any]:
    return {"changes": [c.to_json() for c in changes if c is not None]}


# -- connectors ------------------------------------------------------------------------


def _health(call: Call) -> dict[str, dict[str, Any]]:
    with call.reading() as s:
        snap = read_snapshot(s, utcnow(), thresholds(call.runtime.settings))
    return {row["connector"]: row for row in connector_rows(snap, as_json=True)}


def _record(spec: ConnectorSpec, health: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    row = health.get(spec.name, {})
    return {
        **spec.to_mapping(),
        "credential_key": spec.credential_key,
        "health": {
            "breaker": row.get("breaker", "CLOSED"),
            "breaker_for": row.get("breaker_for"),
            "last_error": row.get("last_error"),
            "ready": row.get("ready", 0),
            "oldest_ready": row.get("oldest_ready"),
            "parked": row.get("parked", 0),
            "unacknowledged": row.get("unacknowledged", 0),
            "no_response": row.get("no_response", 0),
            "late_events": row.get("late_events", 0),
        },
    }


def connector_list(call: Call, target_system: str | None = None) -> list[dict[str, Any]]:
    health = _health(call)
    with call.reading() as s:
        registry = Registry(s)
        specs = registry.connectors_for(target_system) if target_system else registry.connectors()
    return [_record(c, health) for c in specs]


def connector_one(call: Call, name: str) -> dict[str, Any]:
    with call.reading() as s:
        spec = Registry(s).require_connector(name)
    return _record(spec, _health(call))


def create_connector(call: Call, data: Mapping[str, Any]) -> Change | None:
    spec = build_spec("connector", data, ConnectorSpec.from_mapping)
    with call.writing() as s:
        return Registry(s, call.actor).put_connector(spec, mode="create")


def change_connector(call: Call, name: str, changes: Mapping[str, Any]) -> Change | None:
    """Change the fields given of connector ``name`` (``retry`` and ``tls`` field by field)."""
    if "name" in changes and changes["name"] != name:
        raise ValidationError("INVALID_VALUE", "a connector cannot be renamed")
    with call.writing() as s:
        registry = Registry(s, call.actor)
        base = registry.require_connector(name).to_mapping()
        data = {**base, **changes}
        for part in ("retry", "tls"):
            given = changes.get(part)
            if isinstance(given, Mapping):
                data[part] = {**base.get(part, {}), **given}
        if changes.get("credential_key") == "":
            data.pop("credential_key")
        spec = build_spec("connector", data, ConnectorSpec.from_mapping)
        return registry.put_connector(spec, mode="update")


def remove_connector(call: Call, name: str) -> Change:
    with call.writing() as s:
        return Registry(s, call.actor).remove_connector(name)


@api(
    "GET",
    "/connectors",
    role="VIEWER",
    tag="setup",
    summary="Connectors with their health: breaker, queue, parked (omgw connector list)",
    params=(Param("target_system", "Only this target system's connectors"),),
)
def connectors_get(call: Call) -> dict[str, Any]:
    return {"connectors": connector_list(call, call.arg("target_system"))}


@api("GET", "/connectors/<name>", role="VIEWER", tag="setup", summary="One connector")
def connector_get(call: Call, name: str) -> dict[str, Any]:
    return connector_one(call, name)


@api(
    "POST",
    "/connectors",
    role="ADMIN",
    tag="setup",
    summary="Register a connector (omgw connector add)",
    body=_CONNECTOR_BODY,
)
def connector_post(call: Call) -> dict[str, Any]:
    return _changes([create_connector(call, call.body())])


@api(
    "PATCH",
    "/connectors/<name>",
    role="ADMIN",
    tag="setup",
    summary="Change the given fields of a connector (omgw connector update)",
    body=_CONNECTOR_BODY,
)
def connector_patch(call: Call, name: str) -> dict[str, Any]:
    return _changes([change_connector(call, name, call.body())])


@api("POST", "/connectors/<name>/enable", role="ADMIN", tag="setup", summary="Enable a connector")
def connector_enable(call: Call, name: str) -> dict[str, Any]:
    return _changes([change_connector(call, name, {"enabled": True})])


@api(
    "POST",
    "/connectors/<name>/disable",
    role="ADMIN",
    tag="setup",
    summary="Disable a connector: nothing more is sent through it",
)
def connector_disable(call: Call, name: str) -> dict[str, Any]:
    return _changes([change_connector(call, name, {"enabled": False})])


@api(
    "DELETE",
    "/connectors/<name>",
    role="ADMIN",
    tag="setup",
    summary="Remove a connector that carried nothing (omgw connector remove)",
)
def connector_delete(call: Call, name: str) -> dict[str, Any]:
    return _changes([remove_connector(call, name)])


# -- source systems --------------------------------------------------------------------


def source_system_list(call: Call) -> list[dict[str, Any]]:
    with call.reading() as s:
        registry = Registry(s)
        return [
            {
                **spec.to_mapping(),
                "events_only": spec.events_only,
                "connectors": [c.name for c in registry.connectors_for(spec.code)],
            }
            for spec in registry.source_systems()
        ]


@api(
    "GET",
    "/source-systems",
    role="VIEWER",
    tag="setup",
    summary="Source systems and their connectors (omgw source-system list)",
)
def source_systems_get(call: Call) -> dict[str, Any]:
    return {"source_systems": source_system_list(call)}


# -- trigger points --------------------------------------------------------------------


def trigger_list(call: Call) -> list[dict[str, Any]]:
    with call.reading() as s:
        return [trigger_record(p) for p in TriggerStore(s).trigger_points()]


def _names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ValidationError("INVALID_VALUE", f"{what} must be a list of names")


def _flag(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValidationError("INVALID_VALUE", f"{what} must be true or false")


def set_trigger(call: Call, data: Mapping[str, Any]) -> Change | None:
    """Create a trigger point, or change the options given (omgw trigger set)."""
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        raise ValidationError("INVALID_VALUE", "a trigger point needs an event")
    with call.writing() as s:
        return TriggerStore(s, call.actor).set_trigger_point(
            event,
            str(data.get("criterion") or ""),
            raise_event=_flag(data.get("raise_event"), "raise_event"),
            send_email=_flag(data.get("send_email"), "send_email"),
            email_to=_names(data.get("email_to"), "email_to"),
            connectors=_names(data.get("connectors"), "connectors"),
        )


def remove_trigger(call: Call, event: str, criterion: str) -> Change:
    with call.writing() as s:
        return TriggerStore(s, call.actor).remove_trigger_point(event.strip().upper(), criterion)


@api(
    "GET",
    "/trigger-points",
    role="VIEWER",
    tag="setup",
    summary="Trigger points: which changes raise business events (omgw trigger list)",
)
def triggers_get(call: Call) -> dict[str, Any]:
    return {"trigger_points": trigger_list(call)}


@api(
    "PUT",
    "/trigger-points",
    role="ADMIN",
    tag="setup",
    summary="Create a trigger point or change the options given (omgw trigger set)",
    body=_TRIGGER_BODY,
)
def trigger_put(call: Call) -> dict[str, Any]:
    return _changes([set_trigger(call, call.body())])


@api(
    "DELETE",
    "/trigger-points",
    role="ADMIN",
    tag="setup",
    summary="Remove a trigger point (omgw trigger remove)",
    params=(
        Param("event", "The event", required=True),
        Param("criterion", "The criterion (none for events without one)"),
    ),
)
def trigger_delete(call: Call) -> dict[str, Any]:
    event = call.arg("event")
    if event is None:
        raise ValidationError("PARAMETER_INVALID", "give the event")
    return _changes([remove_trigger(call, event, call.arg("criterion") or "")])
