"""``OrderAttributeUpdate`` from an order as stored (:func:`gateway.events.payloads.attribute_update`)
and from the changes noted in one transaction (:mod:`gateway.events.publisher`): the pairs
that changed, in the XSD's types, grouped under their order lines; the first old and the
last new value of an attribute changed twice; nothing for one changed back."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import select

from connectors.connector_specs import ConnectorSpec
from connectors.push_payload import EVENTS_NS
from connectors.push_payload_reader import parse_results
from connectors.push_payload_writer import results_document
from connectors.trigger_points import TriggerPointSpec
from gateway.events import payloads, publisher, recorder
from gateway.orders.intake import OrderIntake
from gateway.orders.message_values import LineInput, OrderInput
from gateway.persistence.models import OrderHeader, OutboxMessage
from gateway.registry.store import Registry
from gateway.registry.trigger_store import TriggerStore


def two_lines(revision: str = "1", first: int = 5, second: int = 2, **site: str) -> OrderInput:
    return OrderInput(
        "LEGACY",
        "P1",
        "SO-P1",
        revision,
        (
            LineInput("L1", "1", "ITEM", Decimal(first), "Ea", attributes=dict(site)),
            LineInput(
                "L2",
                "2",
                "ITEM2",
                Decimal(second),
                "Ea",
                attributes={"CancelReason": "not needed"} if second == 0 else {},
            ),
        ),
    )


@pytest.fixture
def header_id(domain) -> int:
    with domain.sessions() as s, s.begin():
        return OrderIntake(s).create(two_lines()).header.id


def every_attribute(domain) -> None:
    with domain.sessions() as s, s.begin():
        Registry(s, "tests").put_connector(
            ConnectorSpec("SUB", "WMS01", "http://127.0.0.1:9/ev", invocation_mode="BUSINESS_EVENT")
        )
        TriggerStore(s, "tests").put_trigger_point(
            TriggerPointSpec.from_mapping(
                {"event": "ORDER_ATTRIBUTE_UPDATE", "connectors": ["SUB"]}
            )
        )


def test_the_payload_carries_each_changed_pair_in_its_schema_type(domain, header_id):
    with domain.sessions() as s:
        header = s.get(OrderHeader, header_id)
        assert header is not None
        first, second = header.lines
        (f1,), (f2,) = first.fulfill_lines, second.fulfill_lines
        naive = datetime(2026, 12, 1, 8, 0)  # as SQLite gives a stored time back
        event = payloads.attribute_update(
            header,
            [
                (
                    f1,
                    {
                        "OrderedQty": (Decimal("5.0000"), Decimal("3.0000")),
                        "ScheduleShipDate": (naive, datetime(2026, 12, 24, tzinfo=UTC)),
                        "ShipToSiteUseId": ("SITE-A", "300100"),
                    },
                ),
                (f2, {"CancelFlag": ("N", "Y"), "ShipToSiteUseId": ("SITE-A", "SITE-B")}),
            ],
        )
        root = etree.fromstring(results_document(event))
        (back,) = parse_results(root)  # valid against the XSD, and read back
    assert back == event
    assert (event.event_code, event.orchestration_order_id, event.customer_id) == (
        "OrderAttributeUpdate",
        header_id,
        None,
    )
    assert [ln.source_order_line_id for ln in event.lines] == ["L1", "L2"]
    (a,), (b,) = (ln.fulfillment_lines for ln in event.lines)
    assert a.fulfillment_order_line_id == f1.id and a.fulfillment_order_line_number == 1
    assert (a.ordered_qty_old, a.ordered_qty_new) == (Decimal(5), Decimal(3))
    assert a.schedule_ship_date_old == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    # a site that is no number is not an xs:decimal: nil on its side, the pair kept
    assert (a.ship_to_site_use_id_old, a.ship_to_site_use_id_new) == (None, Decimal(300100))
    assert (b.cancel_flag_old_value, b.cancel_flag_new_value) == ("N", "Y")
    assert b.ship_to_site_use_id_new is None and b.ship_to_site_use_id_old is None
    flines = root.findall(f".//{{{EVENTS_NS}}}OrderFulfillmentLine")
    assert flines[0].findtext(f"{{{EVENTS_NS}}}OrderedQtyOld") == "5"
    # neither site of the second line is a number: the pair is left out
    assert flines[1].find(f"{{{EVENTS_NS}}}ShipToSiteUseIdNew") is None


def test_one_transaction_pushes_first_old_to_last_new_and_nothing_changed_back(domain, header_id):
    with domain.sessions() as s, s.begin():
        Registry(s, "tests").put_connector(
            ConnectorSpec("SUB", "WMS01", "http://127.0.0.1:9/ev", invocation_mode="BUSINESS_EVENT")
        )
        TriggerStore(s, "tests").put_trigger_point(
            TriggerPointSpec.from_mapping(
                {"event": "ORDER_ATTRIBUTE_UPDATE", "connectors": ["SUB"]}
            )
        )
    with domain.sessions() as s, s.begin():
        header = s.get(OrderHeader, header_id)
        assert header is not None
        (f1,), (f2,) = (line.fulfill_lines for line in header.lines)
        recorder.attribute_changed(s, f1, "OrderedQty", Decimal(5), Decimal(4))
        recorder.attribute_changed(s, f1, "OrderedQty", Decimal(4), Decimal(3))
        recorder.attribute_changed(s, f1, "OrderedQty", Decimal(3), Decimal(3))  # kept: none
        recorder.attribute_changed(s, f2, "OrderedQty", Decimal(2), Decimal(1))
        recorder.attribute_changed(s, f2, "OrderedQty", Decimal(1), Decimal(2))  # back
        assert publisher.publish(s) == 1
        (row,) = s.new
        assert isinstance(row, OutboxMessage) and row.event_code == "OrderAttributeUpdate"
        body = etree.fromstring(row.payload).find("{*}Body/{*}results")
        assert body is not None
        (event,) = parse_results(body)
    (line,) = event.lines  # the second line changed back: not reported
    (fl,) = line.fulfillment_lines
    assert (fl.fulfillment_order_line_id, fl.ordered_qty_old, fl.ordered_qty_new) == (
        f1.id,
        Decimal(5),
        Decimal(3),
    )


def test_a_line_no_system_holds_is_reported_as_its_revision_changes_it(domain, header_id):
    every_attribute(domain)
    with domain.sessions() as s:
        header = s.get(OrderHeader, header_id)
        assert header is not None
        (f1,), (f2,) = (line.fulfill_lines for line in header.lines)
        # no connector here: the lines went to no fulfillment system, so they change at once
        assert f1.request is None or f1.request.connector_id is None
        ids = (f1.id, f2.id)
    with domain.sessions() as s, s.begin():
        OrderIntake(s).create(two_lines("2", first=3, second=0, ShipToPartySiteIdentifier="300100"))
    with domain.sessions() as s:
        rows = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.header_id == header_id,
                OutboxMessage.event_code == "OrderAttributeUpdate",
            )
        ).all()
        (row,) = rows
        body = etree.fromstring(row.payload).find("{*}Body/{*}results")
        assert body is not None
        (event,) = parse_results(body)
    (a,), (b,) = (ln.fulfillment_lines for ln in event.lines)
    assert (a.fulfillment_order_line_id, b.fulfillment_order_line_id) == ids
    assert (a.ordered_qty_old, a.ordered_qty_new) == (Decimal(5), Decimal(3))
    assert (a.ship_to_site_use_id_old, a.ship_to_site_use_id_new) == (None, Decimal(300100))
    assert (b.cancel_flag_old_value, b.cancel_flag_new_value) == ("N", "Y")
    assert b.ordered_qty_new is None
