"""Routing rules: the draft and its edits, published versions, the draft's difference
from the version in use, publish, rollback, and how routing decides for a line; the
RuleStore functions ``omgw rule`` calls, audited under the console user."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.errors import ValidationError
from gateway.manage.web_routes import Call, Param, api
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import MAX_ROW_ID
from gateway.registry.rule_draft import build_rule, rule_row
from gateway.registry.rule_store import RuleStore
from gateway.views.rule_explain import LineExplanation, explain_line
from routing.rule_attributes import ALIASES, ATTRIBUTES, SCHEMA
from routing.rule_set import RuleSet, parse_instant

__all__ = [
    "RULE_FIELDS",
    "draft_view",
    "edit_rule",
    "explain",
    "explain_given",
    "publish",
    "remove_rule",
    "rollback",
    "set_default",
    "version_view",
    "versions",
]

#: the fields of a rule an edit may give, as ``omgw rule add|update`` takes them
RULE_FIELDS = (
    "condition",
    "connector",
    "priority",
    "description",
    "active",
    "active_from",
    "active_until",
    "operation",
    "interface_type",
)
_RULE_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "condition": {"type": "string"},
        "connector": {"type": "string"},
        "priority": {"type": "integer"},
        "description": {"type": "string"},
        "active": {"type": "boolean"},
        "active_from": {"type": "string", "description": 'ISO 8601 with a zone; "" clears'},
        "active_until": {"type": "string", "description": 'ISO 8601 with a zone; "" clears'},
        "operation": {"type": "string"},
        "interface_type": {"type": "string"},
    },
}


def _ranked(rule_set: RuleSet) -> dict[str, Any]:
    rules = sorted(rule_set.rules, key=lambda r: (-r.priority, r.rule_id))
    return {"rules": [rule_row(r) for r in rules], "defaults": dict(rule_set.defaults)}


def versions(call: Call) -> list[dict[str, Any]]:
    with call.reading() as s:
        rows = [v.to_mapping() for v in RuleStore(s).versions()]
    for row in rows:
        row["in_use"] = row is rows[-1]
    return rows


def draft_view(call: Call) -> dict[str, Any]:
    """The draft's rules by rank, its defaults, and what publishing would change."""
    with call.reading() as s:
        store = RuleStore(s)
        current = store.current()
        return {
            **_ranked(store.draft()),
            "in_use": None if current is None else current[0].version,
            "diff": store.draft_diff(),
        }


def version_view(call: Call, version: int) -> dict[str, Any]:
    with call.reading() as s:
        info, rule_set = RuleStore(s).version(version)
    return {**info.to_mapping(), **_ranked(rule_set)}


def _rule_values(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - {*RULE_FIELDS, "id"})
    if unknown:
        raise ValidationError("INVALID_VALUE", f"a rule has no field {', '.join(unknown)}")
    return {k: data.get(k) for k in RULE_FIELDS}


def edit_rule(call: Call, rule_id: str, data: Mapping[str, Any], mode: str) -> Change | None:
    """Add (``create``) a rule to the draft, or change (``update``) the fields given."""
    values = _rule_values(data)
    with call.writing() as s:
        store = RuleStore(s, call.actor)
        base = {"id": rule_id} if mode == "create" else store.rule(rule_id).to_dict()
        return store.put_rule(build_rule(base, values), mode=mode)


def remove_rule(call: Call, rule_id: str) -> Change:
    with call.writing() as s:
        return RuleStore(s, call.actor).remove_rule(rule_id)


def set_default(call: Call, task_type: str, connector: str | None) -> Change | None:
    with call.writing() as s:
        return RuleStore(s, call.actor).set_default(task_type, connector)


def publish(call: Call) -> dict[str, Any]:
    with call.writing() as s:
        store = RuleStore(s, call.actor)
        info = store.publish()
        current = store.current()
    if info is None:
        assert current is not None
        return {"published": None, "current": current[0].version}
    return {"published": info.to_mapping(), "current": info.version}


def rollback(call: Call, version: int, discard_draft: bool) -> dict[str, Any]:
    with call.writing() as s:
        info, dropped = RuleStore(s, call.actor).rollback(version, discard_draft)
    return {**info.to_mapping(), "draft_changes": [c.to_json() for c in dropped]}


#: the names an explain request may give attributes under (aliases included)
_ATTRIBUTE_NAMES = (*SCHEMA, *(a for a in ALIASES if a not in SCHEMA))


def explain_given(call: Call) -> dict[str, str]:
    """The attributes a request gives, by their names (``Item=CM5008&TaskType=Shipment``)."""
    return {n: v for n in _ATTRIBUTE_NAMES if (v := call.arg(n)) is not None}


def explain(call: Call) -> LineExplanation:
    """How routing decides for the line the request describes (omgw rule explain)."""
    given = explain_given(call)
    order = call.arg("order")
    if not given and order is None:
        raise ValidationError("PARAMETER_INVALID", "give attributes, or an order number")
    version = call.arg("version")
    draft = call.flag("draft")
    if draft and version is not None:
        raise ValidationError("PARAMETER_INVALID", "give draft or version, not both")
    try:
        at = parse_instant(at_text) if (at_text := call.arg("at")) else datetime.now(UTC)
    except ValueError as exc:
        raise ValidationError("PARAMETER_INVALID", f"at: {exc}") from None
    with call.reading() as s:
        return explain_line(
            s,
            given,
            at,
            order=order,
            line_number=call.number("line", 1, least=1),
            version=None if version is None else call.number("version", 0, least=1),
            draft=draft,
        )


def _changes(*changes: Change | None) -> dict[str, Any]:
    return {"changes": [c.to_json() for c in changes if c is not None]}


@api("GET", "/routing/versions", role="VIEWER", tag="routing", summary="Published versions")
def versions_get(call: Call) -> dict[str, Any]:
    return {"versions": versions(call)}


@api(
    "GET",
    "/routing/versions/<int:version>",
    role="VIEWER",
    tag="routing",
    summary="The rules and defaults of a published version",
)
def version_get(call: Call, version: int) -> dict[str, Any]:
    return version_view(call, version)


@api(
    "GET",
    "/routing/draft",
    role="VIEWER",
    tag="routing",
    summary="The draft's rules by rank and defaults, and its difference from the version in use",
)
def draft_get(call: Call) -> dict[str, Any]:
    return draft_view(call)


@api(
    "GET",
    "/routing/diff",
    role="VIEWER",
    tag="routing",
    summary="What publishing the draft would change: rules and defaults added, removed, changed",
)
def diff_get(call: Call) -> dict[str, Any]:
    with call.reading() as s:
        return {"diff": RuleStore(s).draft_diff()}


@api(
    "POST",
    "/routing/draft/rules",
    role="ADMIN",
    tag="routing",
    summary="Add a rule to the draft (omgw rule add)",
    body={**_RULE_BODY, "required": ["id", "condition", "connector"]},
)
def rule_post(call: Call) -> dict[str, Any]:
    data = call.body()
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise ValidationError("INVALID_VALUE", "a rule needs an id")
    return _changes(edit_rule(call, rule_id.strip(), data, "create"))


@api(
    "PATCH",
    "/routing/draft/rules/<rule_id>",
    role="ADMIN",
    tag="routing",
    summary="Change the given fields of a draft rule (omgw rule update)",
    body=_RULE_BODY,
)
def rule_patch(call: Call, rule_id: str) -> dict[str, Any]:
    data = call.body()
    if data.get("id", rule_id) != rule_id:
        raise ValidationError("INVALID_VALUE", "a rule cannot be renamed: add one, remove this")
    data.pop("id", None)
    return _changes(edit_rule(call, rule_id, data, "update"))


@api(
    "DELETE",
    "/routing/draft/rules/<rule_id>",
    role="ADMIN",
    tag="routing",
    summary="Remove a rule from the draft (omgw rule remove)",
)
def rule_delete(call: Call, rule_id: str) -> dict[str, Any]:
    return _changes(remove_rule(call, rule_id))


@api(
    "PUT",
    "/routing/draft/defaults/<task_type>",
    role="ADMIN",
    tag="routing",
    summary="Set the draft's default connector for a task type (omgw rule default)",
    body={"type": "object", "required": ["connector"], "properties": {"connector": {}}},
)
def default_put(call: Call, task_type: str) -> dict[str, Any]:
    connector = call.body().get("connector")
    if not isinstance(connector, str) or not connector.strip():
        raise ValidationError("INVALID_VALUE", "give the connector")
    return _changes(set_default(call, task_type, connector.strip()))


@api(
    "DELETE",
    "/routing/draft/defaults/<task_type>",
    role="ADMIN",
    tag="routing",
    summary="Clear the draft's default for a task type (omgw rule default --clear)",
)
def default_delete(call: Call, task_type: str) -> dict[str, Any]:
    return _changes(set_default(call, task_type, None))


@api(
    "POST",
    "/routing/publish",
    role="ADMIN",
    tag="routing",
    summary="Check the whole draft and publish it as the next version (omgw rule publish)",
)
def publish_post(call: Call) -> dict[str, Any]:
    return publish(call)


@api(
    "POST",
    "/routing/rollback",
    role="ADMIN",
    tag="routing",
    summary="Re-publish an older version; refused over unpublished draft edits unless "
    "discard_draft (omgw rule rollback)",
    body={
        "type": "object",
        "required": ["version"],
        "properties": {"version": {"type": "integer"}, "discard_draft": {"type": "boolean"}},
    },
)
def rollback_post(call: Call) -> dict[str, Any]:
    data = call.body()
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or abs(version) > MAX_ROW_ID:
        raise ValidationError("INVALID_VALUE", "version must be a version's number")
    discard = data.get("discard_draft", False)
    if not isinstance(discard, bool):
        raise ValidationError("INVALID_VALUE", "discard_draft must be true or false")
    return rollback(call, version, discard)


@api(
    "GET",
    "/routing/explain",
    role="VIEWER",
    tag="routing",
    summary="How routing decides for a line: each rule's verdict and the winner "
    "(omgw rule explain); give attributes by name, or an order and line",
    params=(
        *(Param(n, f"The {n} attribute ({k})") for g in ATTRIBUTES.values() for n, k in g.items()),
        Param("order", "An order number: take the line's attributes from it"),
        Param("line", "The order's line number (1)", "integer"),
        Param("version", "A published version (default: the one in use)", "integer"),
        Param("draft", "Explain with the unpublished draft", "boolean"),
        Param("at", "Routing time, ISO 8601 with a zone (now)"),
    ),
)
def explain_get(call: Call) -> dict[str, Any]:
    found = explain(call)
    return {**found.record, "outcome": found.outcome}
