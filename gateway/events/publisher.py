"""Turning noted changes into outbox rows, as the trigger points ask.

For each change the matching trigger point (event, criterion) is looked up; when it
raises events, one ``BUSINESS_EVENT`` row per associated connector holds the whole
``pushPayload`` envelope (one ``OrderHeader``, contract §5.4); when it sends e-mail, one
``EMAIL`` row holds the notification's subject and text for its recipients. Rows are
written in the order the changes happened, and the worker sends a connector's events
for one order in that order (:mod:`gateway.outbox.worker`).

Attribute changes are pushed per order, as Oracle pushes one result per order: where an
order's first attribute change was noted, one ``ORDER_ATTRIBUTE_UPDATE`` event per
attribute changed (criterion: the attribute) carries every fulfillment line that changed
it, and one more (no criterion) carries every attribute changed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from connectors.push_payload import PUSH_ACTION, PUSH_OPERATION, EventHeader
from connectors.push_payload_writer import push_envelope
from connectors.trigger_points import ORDER_ATTRIBUTES
from gateway.events import payloads
from gateway.events.mailtext import notification
from gateway.events.recorder import (
    AttributeChange,
    Change,
    HoldChange,
    JeopardyChange,
    SplitChange,
    StatusChange,
    take,
)
from gateway.lifecycle import TERMINAL
from gateway.persistence.models import (
    FulfillLine,
    Hold,
    OrderHeader,
    OrderLine,
    OutboxMessage,
)
from gateway.registry.registry_snapshot import current

__all__ = ["EMAIL_KIND", "EVENT_KIND", "publish"]

EVENT_KIND = "BUSINESS_EVENT"
EMAIL_KIND = "EMAIL"


@dataclass(frozen=True)
class _Event:
    """One event: the trigger point it matches, and how to build its payload (only
    when that point asks for it)."""

    point: str
    criterion: str
    header: OrderHeader
    payload: Callable[[], EventHeader]


class _Batch:
    """One publish call's changes, with what they did to each order and line."""

    def __init__(
        self, session: Session, changes: list[Change], wanted: set[tuple[str, str]]
    ) -> None:
        self.s = session
        self.changes = changes
        #: the (event, criterion) pairs some trigger point acts on: others are not built
        self.wanted = wanted
        # the first old and the last new status of each entity in this batch
        self._first: dict[tuple[str, int], str | None] = {}
        for c in changes:
            if isinstance(c, StatusChange):
                key = (c.history.entity, c.history.entity_id)
                self._first.setdefault(key, c.history.old_status)

    def change_of(self, entity: str, entity_id: int, current: str) -> tuple[str | None, str]:
        return self._first.get((entity, entity_id), current), current

    def header(self, header_id: int) -> OrderHeader:
        found = self.s.get(OrderHeader, header_id)
        assert found is not None
        return found


def _status_events(batch: _Batch, c: StatusChange) -> Iterable[_Event]:
    h = c.history
    if h.old_status == h.new_status or h.entity == "LINE":
        return  # order lines are reported inside their fulfillment lines' events
    if h.entity == "HEADER":
        if ("ORDER_STATUS_UPDATE", h.new_status) not in batch.wanted:
            return
    elif h.entity == "FULFILL_LINE":
        closed = h.new_status in TERMINAL and ("FLINE_CLOSED", "") in batch.wanted
        if not closed and ("FLINE_STATUS_UPDATE", h.new_status) not in batch.wanted:
            return
    header = batch.header(h.header_id)
    if h.entity == "HEADER":
        yield _Event(
            "ORDER_STATUS_UPDATE",
            h.new_status,
            header,
            partial(payloads.header_status, header, h.old_status, h.new_status),
        )
        return
    fline = batch.s.get(FulfillLine, h.entity_id)
    assert fline is not None
    line = fline.order_line
    yield _Event(
        "FLINE_STATUS_UPDATE",
        h.new_status,
        header,
        partial(
            payloads.fline_status,
            header,
            line,
            fline,
            batch.change_of("HEADER", header.id, header.status),
            batch.change_of("LINE", line.id, line.status),
            (h.old_status, h.new_status),
        ),
    )
    if h.new_status in TERMINAL:
        line_old, line_new = batch.change_of("LINE", line.id, line.status)
        open_old = "N" if line_old in TERMINAL else "Y"
        open_new = "N" if line_new in TERMINAL else "Y"
        yield _Event(
            "FLINE_CLOSED",
            "",
            header,
            partial(payloads.fline_closed, header, line, fline, (open_old, open_new)),
        )


def _hold_event(batch: _Batch, c: HoldChange) -> _Event:
    row: Hold = c.hold
    header = batch.header(row.header_id)
    lines: list[tuple[OrderLine, list[FulfillLine]]] = []
    for line in header.lines:
        if row.order_line_id is not None and line.id != row.order_line_id:
            continue
        if line.status in TERMINAL:
            continue
        lines.append((line, [f for f in line.fulfill_lines if f.status not in TERMINAL]))
    return _Event("HOLD", "", header, partial(payloads.hold, header, row, lines, c.released))


def _split_event(batch: _Batch, c: SplitChange) -> _Event:
    original = batch.s.get(FulfillLine, c.original_id)
    rest = batch.s.get(FulfillLine, c.rest_id)
    assert original is not None and rest is not None
    header = batch.header(original.header_id)
    line = original.order_line
    flines = [original, rest]
    return _Event("SPLIT", "", header, partial(payloads.split, header, line, c.pre_split, flines))


#: per fulfillment line, its attributes' (first old, last new) values in one batch
_Moves = dict[int, dict[str, tuple[object, object]]]


def _attribute_events(batch: _Batch, header_id: int) -> Iterable[_Event]:
    moves: _Moves = {}
    for c in batch.changes:
        if isinstance(c, AttributeChange) and c.header_id == header_id:
            pairs = moves.setdefault(c.fline_id, {})
            first = pairs[c.attribute][0] if c.attribute in pairs else c.old
            pairs[c.attribute] = (first, c.new)
    for pairs in moves.values():
        for attribute in [a for a, (old, new) in pairs.items() if old == new]:
            del pairs[attribute]  # changed and changed back within the batch
    changed = {a for pairs in moves.values() for a in pairs}
    if not changed:
        return
    header = batch.header(header_id)

    def event(criterion: str, attributes: set[str]) -> _Event:
        chosen: list[tuple[FulfillLine, dict[str, tuple[object, object]]]] = []
        for fline_id, pairs in moves.items():
            kept = {a: pairs[a] for a in ORDER_ATTRIBUTES if a in pairs and a in attributes}
            if kept:
                fline = batch.s.get(FulfillLine, fline_id)
                assert fline is not None
                chosen.append((fline, kept))
        build = partial(payloads.attribute_update, header, chosen)
        return _Event("ORDER_ATTRIBUTE_UPDATE", criterion, header, build)

    for attribute in ORDER_ATTRIBUTES:
        if attribute in changed and ("ORDER_ATTRIBUTE_UPDATE", attribute) in batch.wanted:
            yield event(attribute, {attribute})
    if ("ORDER_ATTRIBUTE_UPDATE", "") in batch.wanted:
        yield event("", changed)


def _events(batch: _Batch) -> Iterable[_Event]:
    reported: set[int] = set()  # orders whose attribute changes are out already
    for c in batch.changes:
        if isinstance(c, StatusChange):
            yield from _status_events(batch, c)
        elif isinstance(c, HoldChange):
            yield _hold_event(batch, c)
        elif isinstance(c, SplitChange):
            yield _split_event(batch, c)
        elif isinstance(c, JeopardyChange):
            line = c.fline.order_line
            yield _Event(
                "JEOPARDY",
                c.priority,
                c.header,
                partial(payloads.jeopardy, c.header, line, c.fline, c.priority),
            )
        elif isinstance(c, AttributeChange) and c.header_id not in reported:
            reported.add(c.header_id)
            yield from _attribute_events(batch, c.header_id)


def _message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def publish(session: Session) -> int:
    """Write the outbox rows for what changed since the last call; returns how many."""
    changes = take(session)
    if not changes:
        return 0
    points = {
        (tp.event, tp.criterion): tp
        for tp in current(session).triggers
        if tp.raise_event or tp.send_email
    }
    if not points:
        return 0
    written = 0
    with session.no_autoflush:
        events = list(_events(_Batch(session, changes, set(points))))
    for ev in events:
        point = points.get((ev.point, ev.criterion))
        if point is None:
            continue
        payload = ev.payload()
        if point.raise_event:
            for connector in point.connectors:
                message_id = _message_id()
                session.add(
                    OutboxMessage(
                        message_id=message_id,
                        kind=EVENT_KIND,
                        connector_id=connector.id,
                        header_id=ev.header.id,
                        order_number=ev.header.order_number,
                        event_code=payload.event_code,
                        invocation_mode="BUSINESS_EVENT",
                        operation=PUSH_OPERATION,
                        soap_action=PUSH_ACTION,
                        payload=push_envelope(payload, message_id=message_id, to=connector.url),
                    )
                )
                written += 1
        if point.send_email and point.email_to:
            subject, body = notification(payload, ev.header)
            session.add(
                OutboxMessage(
                    message_id=_message_id(),
                    kind=EMAIL_KIND,
                    connector_id=None,
                    header_id=ev.header.id,
                    order_number=ev.header.order_number,
                    event_code=payload.event_code,
                    recipients=point.email_to,
                    invocation_mode="EMAIL",
                    operation="sendmail",
                    soap_action="",
                    payload=json.dumps({"subject": subject, "body": body}).encode(),
                )
            )
            written += 1
    return written
