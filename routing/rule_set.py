"""Routing rules and rule sets: the model, its checks, and the JSON form a version keeps.

A rule says IF ``condition`` THEN route to ``connector`` (Oracle's *Set Connector Name*),
optionally overriding the operation and setting the interface type. Among the active
rules whose activation window holds the routing time, the highest ``priority`` that
matches wins; equal priorities break by rule id (code-point order, lowest first). A
window is half-open: ``active_from <= t < active_until``, either end open.

A rule set is what an admin edits as a draft and publishes as a numbered version: the
rules plus an optional default connector per task type, used when no rule matches.
Everything that can be wrong with it is found by :func:`check` at publish time, never
at routing time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from routing.condition_compiler import compile_condition
from routing.condition_syntax import parse
from routing.routing_errors import ConditionError, Problem, RuleSetInvalid
from routing.rule_attributes import SCHEMA

__all__ = [
    "MAX_PRIORITY",
    "Rule",
    "RuleSet",
    "check",
    "parse_instant",
    "rule_from_mapping",
]

#: how far from 0 a priority may go, either way
MAX_PRIORITY = 1_000_000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,49}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\- ]{0,49}")
_FIELDS = (
    "id",
    "description",
    "priority",
    "active",
    "active_from",
    "active_until",
    "condition",
    "connector",
    "operation",
    "interface_type",
)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    condition: str
    connector: str
    priority: int = 0
    active: bool = True
    description: str = ""
    active_from: datetime | None = None
    active_until: datetime | None = None
    operation: str | None = None
    interface_type: str | None = None

    def in_window(self, at: datetime) -> bool:
        """Whether ``at`` falls in ``[active_from, active_until)``."""
        if self.active_from is not None and at < self.active_from:
            return False
        return self.active_until is None or at < self.active_until

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-able values, keyed as the setup file and CLI name them."""
        return {
            "id": self.rule_id,
            "description": self.description,
            "priority": self.priority,
            "active": self.active,
            "active_from": self.active_from.isoformat() if self.active_from else None,
            "active_until": self.active_until.isoformat() if self.active_until else None,
            "condition": self.condition,
            "connector": self.connector,
            "operation": self.operation,
            "interface_type": self.interface_type,
        }


@dataclass(frozen=True)
class RuleSet:
    """Rules and the default connector per task type; the content of a draft or version."""

    rules: tuple[Rule, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # one canonical order, so equal sets compare and serialise equal
        object.__setattr__(self, "rules", tuple(sorted(self.rules, key=lambda r: r.rule_id)))
        object.__setattr__(self, "defaults", dict(sorted(self.defaults.items())))

    def to_json(self) -> str:
        data = {
            "rules": [r.to_dict() for r in self.rules],
            "defaults": dict(sorted(self.defaults.items())),
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        data = json.loads(text)
        rules = tuple(rule_from_mapping(r) for r in data["rules"])
        return cls(rules, dict(data["defaults"]))


def parse_instant(value: object) -> datetime:
    """A time-zone-aware instant from a ``datetime`` or ISO 8601 text with an offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date and time; write e.g. 2026-12-01T00:00:00+00:00"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"{value!r} is not a date and time with a time zone")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value.isoformat()} has no time zone; add one, e.g. {value.isoformat()}+00:00"
        )
    return value


def rule_from_mapping(data: Mapping[str, Any]) -> Rule:
    """A :class:`Rule` from setup-file or CLI values; every bad field is reported at once.

    This checks each field on its own; :func:`check` then checks the condition against
    the attribute schema and the connector against the registry.
    """
    problems: list[Problem] = []
    raw_id = data.get("id")
    rule_id = raw_id if isinstance(raw_id, str) else None
    label = rule_id if rule_id else None

    def fail(name: str, message: str) -> None:
        problems.append(Problem(label, name, message))

    _check_field_names(data, fail)
    if rule_id is None or not _ID.fullmatch(rule_id):
        fail(
            "id", "required: 1-50 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    condition = _text(data, "condition", fail, required=True)
    if condition is not None:
        _check_condition(condition, fail)
    connector = _text(data, "connector", fail, required=True, limit=120)
    description = _text(data, "description", fail, limit=1000) or ""
    operation = _text(data, "operation", fail, limit=50)
    interface_type = _text(data, "interface_type", fail, limit=50)
    for name, value in (("operation", operation), ("interface_type", interface_type)):
        if value is not None and not _TOKEN.fullmatch(value):
            fail(name, "1-50 letters, digits, spaces, '_', '.' or '-'")
    priority = _priority(data.get("priority", 0), fail)
    active = _active(data.get("active", True), fail)
    start, end = _window(data, fail)
    if problems:
        raise RuleSetInvalid(problems)
    assert rule_id is not None and condition is not None and connector is not None
    return Rule(
        rule_id=rule_id,
        condition=condition.strip(),
        connector=connector.strip(),
        priority=priority,
        active=active,
        description=description.strip(),
        active_from=start,
        active_until=end,
        operation=operation.strip() if operation else None,
        interface_type=interface_type.strip() if interface_type else None,
    )


#: notes one problem of the rule being read: (field, message)
_Fail = Callable[[str, str], None]


def _check_field_names(data: Mapping[str, Any], fail: _Fail) -> None:
    for key in data:
        if key not in _FIELDS:
            fail(str(key), f"unknown field; known: {', '.join(_FIELDS)}")


def _text(
    data: Mapping[str, Any], name: str, fail: _Fail, required: bool = False, limit: int = 4000
) -> str | None:
    """Field ``name`` as text, or None when it is absent, blank (and not required) or bad."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            fail(name, "required")
        return None
    if not isinstance(value, str):
        fail(name, f"must be text, not {type(value).__name__}")
        return None
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value) or len(value) > limit:
        fail(name, f"at most {limit} characters, no control characters")
        return None
    if required and not value.strip():
        fail(name, "required")
        return None
    return value


def _check_condition(condition: str, fail: _Fail) -> None:
    """The condition must parse and name only attributes of the schema, as they are typed."""
    try:
        compile_condition(parse(condition), SCHEMA)
    except ConditionError as exc:
        fail("condition", str(exc))


def _priority(value: object, fail: _Fail) -> int:
    """A whole number within :data:`MAX_PRIORITY` either way (digits as text too); 0 when
    it is not a whole number."""
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,8}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        fail("priority", f"must be a whole number, not {value!r}")
        return 0
    if abs(value) > MAX_PRIORITY:
        fail("priority", f"must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")
    return value


def _active(value: object, fail: _Fail) -> bool:
    if not isinstance(value, bool):
        fail("active", f"must be true or false, not {value!r}")
        return True
    return value


def _window(data: Mapping[str, Any], fail: _Fail) -> tuple[datetime | None, datetime | None]:
    """(active_from, active_until), each None when not given or bad; the end must come
    after the start."""
    window: dict[str, datetime | None] = {}
    for name in ("active_from", "active_until"):
        value = data.get(name)
        window[name] = None
        if value is not None and value != "":
            try:
                window[name] = parse_instant(value)
            except ValueError as exc:
                fail(name, str(exc))
    start, end = window["active_from"], window["active_until"]
    if start is not None and end is not None and start >= end:
        fail("active_until", f"{end.isoformat()} is not after active_from {start.isoformat()}")
    return start, end


def check(
    rule_set: RuleSet,
    connectors: Mapping[str, bool] | None = None,
    task_types: Collection[str] | None = None,
) -> list[Problem]:
    """Every reason ``rule_set`` cannot be published.

    ``connectors`` maps each known connector to whether it is enabled and ``task_types``
    lists the known task types; ``None`` skips those checks (the pure engine has no
    registry). An active rule or a default naming a disabled connector is a problem; an
    inactive rule only needs its connector to exist.
    """
    problems: list[Problem] = []
    seen: set[str] = set()
    for rule in rule_set.rules:
        if rule.rule_id in seen:
            problems.append(Problem(rule.rule_id, "id", "two rules have this id"))
        seen.add(rule.rule_id)
        try:
            compile_condition(parse(rule.condition), SCHEMA)
        except ConditionError as exc:
            problems.append(Problem(rule.rule_id, "condition", str(exc)))
        problems += _connector_problems(rule.rule_id, rule.connector, rule.active, connectors)
    for task_type, connector in sorted(rule_set.defaults.items()):
        label = f"default for {task_type}"
        if task_types is not None and task_type not in task_types:
            problems.append(Problem(None, label, f"task type {task_type!r} does not exist"))
        for p in _connector_problems(None, connector, True, connectors):
            problems.append(Problem(None, label, p.message))
    return problems


def _connector_problems(
    rule: str | None, name: str, active: bool, connectors: Mapping[str, bool] | None
) -> list[Problem]:
    if connectors is None:
        return []
    if name not in connectors:
        return [Problem(rule, "connector", f"connector {name!r} does not exist")]
    if active and not connectors[name]:
        return [Problem(rule, "connector", f"connector {name!r} is disabled")]
    return []
