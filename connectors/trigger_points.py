"""Trigger points and jeopardy thresholds as plain values (contract §5.9, DESIGN §2).

A trigger point says which change raises a business event: an order header status
value (``ORDER_STATUS_UPDATE``), a fulfillment line status value
(``FLINE_STATUS_UPDATE``), a fulfillment line closing (``FLINE_CLOSED``), a hold or its
release (``HOLD``), a split (``SPLIT``), a jeopardy priority (``JEOPARDY``), or a
fulfillment line attribute a revision changes (``ORDER_ATTRIBUTE_UPDATE``, per attribute
or, with no criterion, for every attribute); whether
the event is raised, whether it is also mailed and to whom, and which connectors (in
``BUSINESS_EVENT`` mode, checked where connectors are known) receive it. Oracle keeps
these in ``DOO_EVENT_DETAILS``, one row per (event, criterion).

A jeopardy threshold maps a range of delay (minutes late against the planned
completion of the current step) to a priority, per task type. :func:`check_thresholds`
refuses ranges that overlap, since a delay must give exactly one priority.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from connectors.connector_errors import Problem, SpecInvalid
from connectors.mail_message import check_address
from connectors.spec_reader import MAX_PLANNED_MINUTES, SpecReader, format_duration, parse_duration

__all__ = [
    "JEOPARDY_PRIORITIES",
    "ORDER_ATTRIBUTES",
    "TRIGGER_EVENTS",
    "JeopardyThresholdSpec",
    "TriggerPointSpec",
    "canonical_criterion",
    "check_thresholds",
    "priority_rank",
]

TRIGGER_EVENTS = (
    "ORDER_STATUS_UPDATE",
    "FLINE_STATUS_UPDATE",
    "FLINE_CLOSED",
    "HOLD",
    "SPLIT",
    "JEOPARDY",
    "ORDER_ATTRIBUTE_UPDATE",
)
#: the attributes an ``ORDER_ATTRIBUTE_UPDATE`` trigger point can name: the old/new pairs
#: of the payload (contract §5.3) that a revision changes, spelled as there
ORDER_ATTRIBUTES = (
    "OrderedQty",
    "RequestShipDate",
    "ScheduleShipDate",
    "ShipToSiteUseId",
    "CancelFlag",
)
_ATTRIBUTE_BY_KEY = {name.upper(): name for name in ORDER_ATTRIBUTES}
#: events whose trigger points are kept per value (a status, a priority)
CRITERION_EVENTS = frozenset({"ORDER_STATUS_UPDATE", "FLINE_STATUS_UPDATE", "JEOPARDY"})
JEOPARDY_PRIORITIES = ("LOW", "MEDIUM", "HIGH")
_STATUS = re.compile(r"[A-Z][A-Z_]*\Z")


def canonical_criterion(event: str, criterion: str) -> str:
    """``criterion`` as trigger points keep it: an attribute as §5.3 spells it (given in
    any case), anything else in capitals."""
    criterion = criterion.strip()
    if event == "ORDER_ATTRIBUTE_UPDATE":
        return _ATTRIBUTE_BY_KEY.get(criterion.upper().replace("_", ""), criterion)
    return criterion.upper()


def priority_rank(priority: str | None) -> int:
    """0 for no jeopardy, then LOW < MEDIUM < HIGH."""
    return JEOPARDY_PRIORITIES.index(priority) + 1 if priority in JEOPARDY_PRIORITIES else 0


def _strings(r: SpecReader, key: str, max_len: int) -> tuple[str, ...]:
    value = r.raw(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.problem(key, "must be a list of strings")
        return ()
    out: list[str] = []
    for item in value:
        item = item.strip()
        if not item or len(item) > max_len:
            r.problem(key, f"{item!r} must be 1 to {max_len} characters")
        elif item in out:
            r.problem(key, f"{item!r} appears twice")
        else:
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class TriggerPointSpec:
    event: str
    criterion: str = ""
    raise_event: bool = True
    send_email: bool = False
    email_to: tuple[str, ...] = ()
    connectors: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.event}/{self.criterion}" if self.criterion else self.event

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TriggerPointSpec:
        r = SpecReader(data)
        event = r.choice("event", TRIGGER_EVENTS, "")
        if r.raw("event") is None:
            r.problem("event", f"is required (one of {', '.join(TRIGGER_EVENTS)})")
        criterion = canonical_criterion(event, r.text("criterion", default="", max_len=30) or "")
        if event == "ORDER_ATTRIBUTE_UPDATE":
            if criterion and criterion not in ORDER_ATTRIBUTES:
                r.problem(
                    "criterion",
                    f"{criterion!r} is not an attribute omgw reports ({', '.join(ORDER_ATTRIBUTES)}"
                    "; none for every attribute)",
                )
        elif event in CRITERION_EVENTS and not criterion:
            what = "a jeopardy priority" if event == "JEOPARDY" else "a status value"
            r.problem("criterion", f"{event} trigger points are kept per value: give {what}")
        elif event and event not in CRITERION_EVENTS and criterion:
            r.problem("criterion", f"{event} trigger points take no criterion")
        elif event == "JEOPARDY" and criterion not in JEOPARDY_PRIORITIES:
            r.problem(
                "criterion", f"{criterion!r} is not a priority ({', '.join(JEOPARDY_PRIORITIES)})"
            )
        elif criterion and not _STATUS.match(criterion):
            r.problem("criterion", f"{criterion!r} is not a status code such as SHIPPED")
        emails: list[str] = []
        for address in _strings(r, "email_to", 254):
            try:
                emails.append(check_address(address))
            except ValueError as exc:
                r.problem("email_to", str(exc))
        spec = cls(
            event=event,
            criterion=criterion,
            raise_event=r.flag("raise_event", True),
            send_email=r.flag("send_email", False),
            email_to=tuple(emails),
            connectors=tuple(sorted(_strings(r, "connectors", 120))),
        )
        if spec.send_email and not spec.email_to:
            r.problem("email_to", "send_email is on: name at least one recipient")
        r.finish()
        return spec

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event}
        if self.criterion:
            out["criterion"] = self.criterion
        out["raise_event"] = self.raise_event
        out["send_email"] = self.send_email
        if self.email_to:
            out["email_to"] = list(self.email_to)
        out["connectors"] = list(self.connectors)
        return out


@dataclass(frozen=True)
class JeopardyThresholdSpec:
    """Delays from ``from_minutes`` (inclusive) to ``to_minutes`` (exclusive; None: no
    end) give ``priority`` on a line whose current step is of ``task_type`` ("" for any
    task type without ranges of its own)."""

    priority: str
    from_minutes: int
    to_minutes: int | None = None
    task_type: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> JeopardyThresholdSpec:
        r = SpecReader(data)
        bounds: dict[str, int | None] = {}
        for key in ("from", "to"):
            text = r.text(key, required=key == "from", max_len=20)
            bounds[key] = None
            if text:
                try:
                    bounds[key] = parse_duration(text)
                except ValueError as exc:
                    r.problem(key, str(exc))
        priority = r.choice("priority", JEOPARDY_PRIORITIES, "")
        if r.raw("priority") is None:
            r.problem("priority", f"is required ({', '.join(JEOPARDY_PRIORITIES)})")
        spec = cls(
            priority=priority,
            from_minutes=bounds["from"] or 0,
            to_minutes=bounds["to"],
            task_type=r.text("task_type", default="", max_len=30) or "",
        )
        if spec.to_minutes is not None and spec.to_minutes <= spec.from_minutes:
            r.problem("to", "must be later than from")
        if spec.from_minutes > MAX_PLANNED_MINUTES:
            r.problem("from", "is longer than 366d")
        r.finish()
        return spec

    def describe(self) -> str:
        end = format_duration(self.to_minutes) if self.to_minutes is not None else "∞"
        scope = self.task_type or "any task"
        return f"{scope} {format_duration(self.from_minutes)}–{end} {self.priority}"

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.task_type:
            out["task_type"] = self.task_type
        out["from"] = format_duration(self.from_minutes)
        if self.to_minutes is not None:
            out["to"] = format_duration(self.to_minutes)
        out["priority"] = self.priority
        return out

    def covers(self, delay_minutes: int) -> bool:
        return self.from_minutes <= delay_minutes and (
            self.to_minutes is None or delay_minutes < self.to_minutes
        )


def check_thresholds(specs: Sequence[JeopardyThresholdSpec]) -> list[Problem]:
    """Every pair of ranges of one task type that overlap, as problems."""
    problems: list[Problem] = []
    by_task: dict[str, list[JeopardyThresholdSpec]] = {}
    for spec in specs:
        by_task.setdefault(spec.task_type, []).append(spec)
    for task, group in sorted(by_task.items()):
        ordered = sorted(group, key=lambda s: s.from_minutes)
        for earlier, later in pairwise(ordered):
            if earlier.to_minutes is None or earlier.to_minutes > later.from_minutes:
                problems.append(
                    Problem(
                        ("jeopardy_threshold", task or "*"),
                        f"ranges overlap: {earlier.describe()} and {later.describe()}; "
                        "a delay must give one priority",
                    )
                )
    return problems


def thresholds_or_raise(specs: Sequence[JeopardyThresholdSpec]) -> None:
    problems = check_thresholds(specs)
    if problems:
        raise SpecInvalid(problems)
