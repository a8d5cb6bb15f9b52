"""Where an order's timeline puts things: pure computation, no I/O and no markup.

The order page draws its story as an SVG picture (``order.html`` only draws what this
module computed): a lane for the order itself on top, then one lane per fulfillment line;
x is time; a marker for each status change and each message in or out.

Time is not drawn to a strict scale: an order's first few changes happen within a second
and its shipment days later, so a linear axis would pile the first ones up. Markers of one
lane stand a slot apart (:data:`SLOT`, narrower when there are many), and the width left
over is shared out between instants in proportion to the time between them. An instant
begins at one x on every lane, so one moment lines up across lanes.

:func:`timeline_of` turns the record of :func:`gateway.views.order_history.order_history`
into lanes and events; :func:`layout` gives their coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

__all__ = [
    "ORDER_LANE",
    "SLOT",
    "Drawing",
    "Event",
    "Lane",
    "LaneBox",
    "Marker",
    "Tick",
    "layout",
    "timeline_of",
]

#: the lane of what concerns the order as a whole (its status, calls naming it, events)
ORDER_LANE = "order"
#: the distance between markers of one lane, while the width allows
SLOT = 60.0
WIDTH = 1280.0
LABELS = 190.0  # the lane names on the left
RIGHT = 30.0
AXIS = 30.0  # the time axis on top
LANE_HEIGHT = 58.0
#: about how wide one character of a marker's label is
CHAR = 5.6
MOST_TICKS = 8


@dataclass(frozen=True)
class Lane:
    key: str
    label: str
    title: str = ""


@dataclass(frozen=True)
class Event:
    """Something that happened: ``kind`` is ``status``, ``in`` or ``out``; ``lanes`` the
    lanes it concerns (none or unknown ones: the order's lane)."""

    at: datetime
    kind: str
    label: str
    title: str
    lanes: tuple[str, ...] = ()
    #: what the marker links to, under the console (``/messages/5``); "" for nothing
    link: str = ""
    #: a message's key (``out:5``, ``in:12``), for tests and scripts; "" for a status change
    ref: str = ""


@dataclass(frozen=True)
class LaneBox:
    key: str
    label: str
    title: str
    #: the lane's middle line
    y: float
    top: float


@dataclass(frozen=True)
class Marker:
    kind: str
    x: float
    #: one point per lane it concerns (a request for three lines: three), top down
    ys: tuple[float, ...]
    label: str
    #: where its label's baseline is (above or below the lane's line, alternately)
    label_y: float
    title: str
    link: str
    ref: str
    #: the label's text-anchor: start (after the marker), or end (before it)
    anchor: str = "start"


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    #: the label's text-anchor: start, or end near the right edge
    anchor: str = "start"


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    lanes: tuple[LaneBox, ...]
    markers: tuple[Marker, ...]
    ticks: tuple[Tick, ...]
    #: where time runs: from x0 to x1
    x0: float
    x1: float


def _positions(
    ordered: Sequence[Event], lanes_of: Sequence[tuple[str, ...]], x0: float, x1: float
) -> tuple[list[float], dict[datetime, float]]:
    """Each event's x (``ordered`` by time), and where each distinct instant begins.

    Events of one instant that share a lane take successive slots; the slot is
    :data:`SLOT` wide while the width allows, narrower when it does not; the width left
    over goes between instants in proportion to the time between them."""
    groups: list[list[int]] = []
    for i, e in enumerate(ordered):
        if groups and ordered[groups[-1][0]].at == e.at:
            groups[-1].append(i)
        else:
            groups.append([i])
    index = [0] * len(ordered)
    needs = []
    for g in groups:
        used: dict[str, int] = {}
        for i in g:
            k = max(used.get(lane, 0) for lane in lanes_of[i])
            index[i] = k
            for lane in lanes_of[i]:
                used[lane] = k + 1
        needs.append(max(used.values()))
    slots = sum(needs) - 1
    span = x1 - x0
    slot = min(SLOT, span / slots) if slots > 0 else SLOT
    spare = span - slot * slots
    times = [ordered[g[0]].at for g in groups]
    total = sum((b - a).total_seconds() for a, b in pairwise(times))
    xs = [0.0] * len(ordered)
    starts: dict[datetime, float] = {}
    x = x0 if len(ordered) > 1 else (x0 + x1) / 2
    for n, g in enumerate(groups):
        if n:
            seconds = (times[n] - times[n - 1]).total_seconds()
            x += slot * (needs[n - 1] - 1) + slot
            x += spare * seconds / total if total > 0 else 0.0
        starts[times[n]] = x
        for i in g:
            xs[i] = x + slot * index[i]
    return xs, starts


def _ticks(starts: Mapping[datetime, float], x1: float) -> tuple[Tick, ...]:
    """Up to :data:`MOST_TICKS` labelled instants, first and last among them, none
    closer than a label's width; the date shown where it changes."""
    times = sorted(starts)
    if not times:
        return ()
    k = min(MOST_TICKS, len(times))
    picked = {round(i * (len(times) - 1) / (k - 1)) for i in range(k)} if k > 1 else {0}
    ticks: list[Tick] = []
    day = None
    for t in (times[i] for i in sorted(picked)):
        if ticks and starts[t] - ticks[-1].x < 110:
            continue
        label = t.strftime("%H:%M:%S") if t.date() == day else t.strftime("%Y-%m-%d %H:%M:%S")
        day = t.date()
        anchor = "end" if starts[t] > x1 - 60 else "start"
        ticks.append(Tick(starts[t], label, anchor))
    return tuple(ticks)


def _fit(label: str, room: float) -> str:
    most = max(3, int(room / CHAR))
    return label if len(label) <= most else label[: most - 1] + "…"


def layout(lanes: Sequence[Lane], events: Sequence[Event], width: float = WIDTH) -> Drawing:
    """Coordinates of ``lanes`` (top down, in the order given) and of a marker per event."""
    boxes = tuple(
        LaneBox(lane.key, lane.label, lane.title, AXIS + (i + 0.5) * LANE_HEIGHT,
                AXIS + i * LANE_HEIGHT)
        for i, lane in enumerate(lanes)
    )  # fmt: skip
    y_of = {b.key: b.y for b in boxes}
    first = boxes[0].key if boxes else ORDER_LANE
    x0, x1 = LABELS + 20, width - RIGHT
    ordered = sorted(events, key=lambda e: e.at)
    lanes_of = [tuple(k for k in e.lanes if k in y_of) or (first,) for e in ordered]
    xs, starts = _positions(ordered, lanes_of, x0, x1)
    placed = [
        (e, x, tuple(sorted({y_of.get(k, AXIS) for k in keys})))
        for e, x, keys in zip(ordered, xs, lanes_of, strict=True)
    ]
    # a label sits above its marker's first lane or below it, alternately along the lane,
    # and is cut short where the next label on the same side of that lane begins
    count: dict[float, int] = {}
    sides = []
    for _e, _x, ys in placed:
        sides.append((ys[0], count.get(ys[0], 0) % 2 == 1))
        count[ys[0]] = count.get(ys[0], 0) + 1
    markers: list[Marker] = []
    ends: dict[tuple[float, bool], float] = {}  # where the last label on each side ends
    for n, (e, x, ys) in enumerate(placed):
        y, below = sides[n]
        later = [placed[k][1] for k in range(n + 1, len(placed)) if sides[k] == sides[n]]
        room = (later[0] if later else x1 + RIGHT) - x
        anchor = "start"
        before = x - ends.get(sides[n], x0 - 20)
        if not later and len(e.label) * CHAR > room and before > room:
            # the last on its side of the lane, near the right edge: its label ends there
            anchor, room = "end", before
        label = _fit(e.label, room)
        ends[sides[n]] = x + len(label) * CHAR if anchor == "start" else x
        label_y = y + (16 if below else -9)
        markers.append(Marker(e.kind, x, ys, label, label_y, e.title, e.link, e.ref, anchor))
    height = AXIS + LANE_HEIGHT * max(1, len(boxes)) + 8
    return Drawing(width, height, boxes, tuple(markers), _ticks(starts, x1), x0, x1)


# -- an order's record as lanes and events -------------------------------------------------


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def timeline_of(
    record: Mapping[str, Any], message_lines: Mapping[int, Sequence[int]]
) -> tuple[list[Lane], list[Event]]:
    """Lanes and events of an order record (``order_history``); ``message_lines`` gives
    the fulfillment lines each outbound message carried, by outbox id."""
    lanes = [Lane(ORDER_LANE, f"Order {record['order_number']}", f"status {record['status']}")]
    flines: set[int] = set()
    for line in record["lines"]:
        for fl in line["fulfill_lines"]:
            flines.add(fl["id"])
            where = fl["connector"] or fl["warehouse"] or ""
            lanes.append(
                Lane(
                    str(fl["id"]),
                    f"Line {line['line_number']}.{fl['number']} {line['item']}",
                    f"fulfillment line {fl['id']}: {fl['quantity']} {line['uom']} of "
                    f"{line['item']}, {fl['status']}" + (f", {where}" if where else ""),
                )
            )
    events: list[Event] = []
    for h in record["status_history"]:
        at = _at(h["at"])
        if at is None:
            continue
        lane = str(h["entity_id"]) if h["entity"] == "FULFILL_LINE" else ORDER_LANE
        what = {"HEADER": "order", "LINE": "line", "FULFILL_LINE": "fulfillment line"}.get(
            h["entity"], h["entity"].lower()
        )
        events.append(
            Event(
                at,
                "status",
                h["new_status"],
                f"{at:%Y-%m-%d %H:%M:%S} {what} {h['entity_id']}: "
                f"{h['old_status'] or '-'} → {h['new_status']} ({h['reason']})",
                (lane,),
            )
        )
    for m in record["messages"]:
        at = _at(m["at"])
        if at is None:
            continue
        if m["direction"] == "IN":
            party = m.get("user") or m["service"]
            label = f"← {party} {m['operation'] or ''}".rstrip()
            title = (
                f"{at:%Y-%m-%d %H:%M:%S} in: {m['operation']} to {m['service']}"
                + (f" from {m['user']}" if m.get("user") else "")
                + f", {m['outcome']}"
                + (f" {m['fault_code']}" if m["fault_code"] else "")
            )
            link, ref = f"/messages/inbound/{m['log_id']}", f"in:{m['log_id']}"
            events.append(Event(at, "in", label, title, (), link, ref))
            continue
        carried = tuple(str(i) for i in message_lines.get(m["outbox_id"], ()) if i in flines)
        what = m.get("event_code") or m.get("task_type") or ""
        label = f"→ {m['connector']} {m['operation']}"
        title = (
            f"{at:%Y-%m-%d %H:%M:%S} out #{m['outbox_id']}: {m['operation']}"
            + (f" ({what})" if what else "")
            + f" to {m['connector']}, {m['status']}, {m['attempts']} attempt(s)"
            + (", uncertain" if m["uncertain"] else "")
            + (f"; {m['last_error']}" if m["last_error"] else "")
        )
        events.append(
            Event(
                at,
                "out",
                label,
                title,
                carried,
                f"/messages/{m['outbox_id']}",
                f"out:{m['outbox_id']}",
            )
        )
    return lanes, events
