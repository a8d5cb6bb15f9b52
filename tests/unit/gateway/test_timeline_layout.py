"""The order timeline's layout: times to x, lanes to y, labels that do not run into each
other, and an order record turned into lanes and events (gateway.manage.timeline_layout)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from gateway.manage.timeline_layout import (
    ORDER_LANE,
    SLOT,
    Event,
    Lane,
    layout,
    timeline_of,
)

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LANES = [Lane(ORDER_LANE, "Order 100001"), Lane("7", "Line 1.1"), Lane("8", "Line 2.1")]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_instant_begins_at_one_x_on_every_lane_and_later_ones_lie_to_the_right():
    events = [
        Event(at(0), "status", "OPEN", "t", (ORDER_LANE,)),
        Event(at(0), "status", "CREATED", "t", ("7",)),
        Event(at(60), "out", "→ WMS01", "t", ("7",)),
        Event(at(3600), "status", "SHIPPED", "t", ("7",)),
    ]
    d = layout(LANES, events)
    xs = [m.x for m in d.markers]
    assert xs[0] == xs[1] == d.x0
    assert xs[1] < xs[2] < xs[3] == d.x1
    # beyond a slot, proportional to time: an hour takes far more room than a minute
    assert xs[3] - xs[2] > 20 * (xs[2] - xs[1] - SLOT)


def test_events_of_one_instant_on_one_lane_take_successive_slots():
    events = [Event(at(0), "status", s, "t", ("7",)) for s in ("CREATED", "SCHEDULED")]
    events += [Event(at(0), "out", "→ WMS01", "t", ("7", "8")), Event(at(0), "status", "X", "t",
                                                                      ("8",))]  # fmt: skip
    events.append(Event(at(5), "status", "SHIPPED", "t", ("8",)))
    xs = [m.x for m in layout(LANES, events).markers]
    assert xs[:3] == [xs[0], xs[0] + SLOT, xs[0] + 2 * SLOT]  # the request after both
    assert xs[3] == xs[0] + 3 * SLOT  # lane 8's own is after the request that crossed it
    assert xs[4] > xs[3]


def test_instants_close_together_are_still_spread_apart():
    events = [Event(at(i / 1000), "status", f"S{i}", "t", ("7",)) for i in range(5)]
    events.append(Event(at(86_400 * 3), "status", "CLOSED", "t", ("7",)))
    xs = [m.x for m in layout(LANES, events).markers]
    assert all(b - a >= SLOT - 1e-9 for a, b in itertools.pairwise(xs))
    assert xs[-1] <= 1280


def test_too_many_instants_for_the_width_are_spaced_evenly_in_order():
    events = [Event(at(i), "status", "S", "t", ("7",)) for i in range(400)]
    d = layout(LANES, events)
    xs = [m.x for m in d.markers]
    assert xs == sorted(xs) and len(set(xs)) == 400
    assert d.x0 <= xs[0] and xs[-1] <= d.x1 + 1e-6


def test_each_lane_has_its_row_and_a_marker_sits_on_the_lanes_it_concerns():
    d = layout(LANES, [Event(at(0), "out", "→ WMS01", "t", ("8", "7"))])
    assert [lane.key for lane in d.lanes] == [ORDER_LANE, "7", "8"]
    ys = [lane.y for lane in d.lanes]
    assert ys == sorted(ys) and len(set(ys)) == 3
    (marker,) = d.markers
    assert marker.ys == (ys[1], ys[2])
    assert d.height > ys[2]
    # unknown or no lanes: the order's lane
    (lone,) = layout(LANES, [Event(at(0), "in", "← all", "t", ("99",))]).markers
    assert lone.ys == (ys[0],)


def test_labels_alternate_sides_and_are_cut_before_the_next_on_their_side():
    long = "→ WMS01_Fulfillment processFulfillmentRequest"
    events = [Event(at(i), "out", long, "t", ("7",)) for i in range(3)]
    events.append(Event(at(86_400), "status", "CLOSED", "t", ("8",)))  # the others crowd
    d = layout(LANES, events)
    first, second, third, _far = d.markers
    assert first.label_y < first.ys[0] < second.label_y  # above, then below
    assert third.label_y == first.label_y
    assert first.label.endswith("…") and len(first.label) * 5.6 <= third.x - first.x + 6
    assert third.label == long  # the last on its side of the lane has the rest of the width
    assert first.anchor == third.anchor == "start"


def test_a_label_at_the_right_edge_ends_at_its_marker():
    long = "→ WMS01_Fulfillment processFulfillmentRequest"
    events = [Event(at(0), "status", "CREATED", "t", ("7",)), Event(at(60), "out", long, "t",
                                                                    ("7",))]  # fmt: skip
    _created, last = layout(LANES, events).markers
    assert last.anchor == "end" and last.label == long


def test_ticks_label_times_without_crowding():
    events = [Event(at(i * 10), "status", "S", "t", ("7",)) for i in range(50)]
    ticks = layout(LANES, events).ticks
    assert 2 <= len(ticks) <= 8
    assert ticks[0].label == "2027-03-01 09:00:00" and ticks[1].label.count(":") == 2
    assert ticks[0].anchor == "start" and ticks[-1].anchor == "end"
    assert all(b.x - a.x >= 110 for a, b in itertools.pairwise(ticks))
    assert layout(LANES, []).markers == () and layout(LANES, []).ticks == ()


def test_an_order_record_becomes_lanes_and_events():
    record = {
        "order_number": "100001",
        "status": "OPEN",
        "lines": [
            {
                "line_number": 1,
                "item": "AS54888",
                "uom": "Ea",
                "fulfill_lines": [
                    {"id": 7, "number": 1, "quantity": "2", "status": "AWAIT_SHIP",
                     "connector": "WMS01_Fulfillment", "warehouse": "M1"},
                    {"id": 8, "number": 2, "quantity": "1", "status": "CREATED",
                     "connector": None, "warehouse": None},
                ],
            }
        ],
        "status_history": [
            {"at": "2027-03-01T09:00:00+00:00", "entity": "HEADER", "entity_id": 1,
             "old_status": None, "new_status": "OPEN", "reason": "created"},
            {"at": "2027-03-01T09:00:01+00:00", "entity": "FULFILL_LINE", "entity_id": 8,
             "old_status": "CREATED", "new_status": "SCHEDULED", "reason": "scheduled"},
        ],
        "messages": [
            {"at": "2027-03-01T09:00:00+00:00", "direction": "IN", "log_id": 4,
             "service": "OrderImportService", "operation": "createOrders", "user": "all",
             "outcome": "OK", "fault_code": None},
            {"at": "2027-03-01T09:00:02+00:00", "direction": "OUT", "outbox_id": 5,
             "connector": "WMS01_Fulfillment", "operation": "processFulfillmentRequest",
             "task_type": "Shipment", "event_code": None, "status": "PARKED", "attempts": 2,
             "uncertain": False, "last_error": "SOAP fault Client: <b>no</b>"},
        ],
    }  # fmt: skip
    lanes, events = timeline_of(record, {5: (7, 8, 99)})
    assert [lane.key for lane in lanes] == [ORDER_LANE, "7", "8"]
    assert lanes[1].label == "Line 1.1 AS54888" and "WMS01_Fulfillment" in lanes[1].title
    by_ref = {e.ref: e for e in events if e.ref}
    assert set(by_ref) == {"in:4", "out:5"}
    assert by_ref["in:4"].label == "← all createOrders" and by_ref["in:4"].lanes == ()
    assert by_ref["in:4"].link == "/messages/inbound/4"
    out = by_ref["out:5"]
    assert out.lanes == ("7", "8") and out.label == "→ WMS01_Fulfillment processFulfillmentRequest"
    assert "PARKED, 2 attempt(s)" in out.title and "(Shipment)" in out.title
    statuses = [(e.lanes, e.label) for e in events if e.kind == "status"]
    assert statuses == [((ORDER_LANE,), "OPEN"), (("8",), "SCHEDULED")]
