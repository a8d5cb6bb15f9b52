"""The admin audit log: who changed the setup, what, when, before and after (never a
secret), filtered as ``omgw audit list`` filters it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.errors import ValidationError
from gateway.manage.web_routes import Call, Param, api
from gateway.persistence import audit_trail

__all__ = ["audit_list"]


def audit_list(call: Call) -> dict[str, Any]:
    """The entries the request's filters select, newest first, and the filters."""
    since_text = call.arg("since")
    since = None
    if since_text is not None:
        try:
            since = audit_trail.utc(datetime.fromisoformat(since_text))
        except ValueError:
            raise ValidationError(
                "PARAMETER_INVALID", f"since must be a date or time (ISO 8601), not {since_text!r}"
            ) from None
    entity, actor = call.arg("entity"), call.arg("actor")
    limit = call.number("limit", 50, least=1, most=1000)
    filters = {"entity": entity, "actor": actor, "since": since_text, "limit": limit}
    with call.reading() as s:
        entries = [
            audit_trail.entry_record(e)
            for e in audit_trail.entries(s, limit=limit, entity=entity, actor=actor, since=since)
        ]
    return {"entries": entries, "filters": filters}


@api(
    "GET",
    "/audit",
    role="VIEWER",
    tag="audit",
    summary="Setup changes, newest first (omgw audit list)",
    params=(
        Param("entity", "connector, wallet, routing_rule, user, trigger_point …"),
        Param("actor", "Who made the change"),
        Param("since", "Only changes at or after this time (ISO 8601, UTC)"),
        Param("limit", "How many (1 to 1000; 50)", "integer"),
    ),
)
def audit_get(call: Call) -> dict[str, Any]:
    return audit_list(call)
