"""``OrderAttributeUpdate`` end to end on SQLite and PostgreSQL: a real gateway whose
warehouse is a receiver on 127.0.0.1 (the test plays its answers) and a simulated
subscriber behind ``ORDER_ATTRIBUTE_UPDATE`` trigger points. A revision's change is
pushed when the warehouse accepts it, with the old and new values of what changed,
valid against the published XSD; a change still waiting, or refused, pushes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from connectors.connector_specs import ConnectorSpec
from connectors.push_payload import EVENTS_NS, EventHeader
from connectors.push_payload_reader import parse_push, validate_results
from connectors.trigger_points import TriggerPointSpec
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from gateway.registry.trigger_store import TriggerStore
from simulators.subscriber import RunningSubscriber, SubscriberOptions, serve_subscriber
from tests.common.receiver import receiving
from tests.common.shop import Shop, line
from tests.common.soap import client
from tests.conftest import make_settings, serving

pytestmark = pytest.mark.both_databases


@dataclass
class Watched:
    shop: Shop
    sub: RunningSubscriber

    def pushes(self) -> list[tuple[bytes, EventHeader]]:
        """Each push the subscriber accepted: its ``results`` document and what it says."""
        out = []
        for e in self.sub.state(xml=True)["events"]:
            envelope = (
                b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                + e["xml"].encode()
                + b"</s:Body></s:Envelope>"
            )
            pushed = parse_push(envelope)  # validates against the XSD
            (header,) = pushed.headers
            out.append((pushed.results, header))
        return out


@pytest.fixture
def watched(fresh_database_url: str, tmp_path: Path) -> Iterator[Watched]:
    """The warehouse receiver of ``test_order_changes``, and a subscriber that gets
    quantity changes (``ORDER_ATTRIBUTE_UPDATE/OrderedQty``) on one connector and every
    attribute change (no criterion) on another."""
    settings = make_settings(tmp_path / "home", fresh_database_url)
    with serving(settings) as gw, receiving() as rx:
        sub = serve_subscriber(SubscriberOptions())
        try:
            with gw.runtime.sessions() as s, s.begin():
                registry = Registry(s, "tests")
                registry.put_connector(ConnectorSpec("WMS01_Fulfillment", "WMS01", rx.url))
                for name in ("ATTR_Qty", "ATTR_All"):
                    registry.put_connector(
                        ConnectorSpec(name, "WMS01", sub.url, invocation_mode="BUSINESS_EVENT")
                    )
                rules = RuleStore(s, "tests")
                for task in ("Shipment", "Return", "Invoice"):
                    rules.set_default(task, "WMS01_Fulfillment")
                assert rules.publish() is not None
                triggers = TriggerStore(s, "tests")
                for criterion, connector in (("OrderedQty", "ATTR_Qty"), ("", "ATTR_All")):
                    spec = {"event": "ORDER_ATTRIBUTE_UPDATE", "connectors": [connector]}
                    if criterion:
                        spec["criterion"] = criterion
                    triggers.put_trigger_point(TriggerPointSpec.from_mapping(spec))
            shop = Shop(
                gw,
                rx,
                client(gw.base, "OrderImportService"),
                client(gw.base, "OrderFulfillmentResponseService"),
                client(gw.base, "OrderInformationService"),
            )
            yield Watched(shop, sub)
        finally:
            sub.close()


def fline_of(results: bytes, tag: str) -> list[str]:
    """The element names of the pushed fulfillment line from ``tag`` on."""
    (fline,) = etree.fromstring(results).iter(f"{{{EVENTS_NS}}}OrderFulfillmentLine")
    names = [etree.QName(c).localname for c in fline]
    return names[names.index(tag) :]


def test_an_accepted_quantity_change_pushes_its_old_and_new_quantity(
    watched: Watched, unique: str
) -> None:
    shop = watched.shop
    number, request = shop.released(unique, [line("A", 5)])
    (fid,) = request.lines
    assert watched.pushes() == []  # intake and release change no attribute
    when = "2031-02-03T00:00:00"
    shop.send(unique, [line("A", 3, RequestedShipDate=when)], revision="2")
    (update,) = shop.deliver()
    # waiting for the warehouse: the line has not changed, nothing is pushed
    assert watched.pushes() == []
    shop.ack(update.request_id)
    assert shop.deliver() == []  # the events went to the subscriber, not the warehouse
    pushes = watched.pushes()
    assert [h.event_code for _, h in pushes] == ["OrderAttributeUpdate"] * 2
    # the OrderedQty point's push carries that pair only, New then Old
    (qty_xml, qty), (_, every) = sorted(pushes, key=lambda p: len(fline_of(p[0], "OrderedQtyNew")))
    assert fline_of(qty_xml, "FulfillmentOrderLineNumber") == [
        "FulfillmentOrderLineNumber",
        "OrderedQtyNew",
        "OrderedQtyOld",
    ]
    validate_results(etree.fromstring(qty_xml))
    assert qty.orchestration_order_number == number
    assert qty.source_order_id == unique and qty.customer_id is None
    (ln,) = qty.lines
    assert ln.source_order_line_id == "A"
    (fl,) = ln.fulfillment_lines
    assert fl.fulfillment_order_line_id == fid
    assert (fl.ordered_qty_old, fl.ordered_qty_new) == (Decimal(5), Decimal(3))
    # the push for every attribute adds the dates the revision moved
    (all_fl,) = every.lines[0].fulfillment_lines
    new_date = datetime(2031, 2, 3, tzinfo=UTC)
    assert (all_fl.ordered_qty_old, all_fl.ordered_qty_new) == (Decimal(5), Decimal(3))
    assert all_fl.schedule_ship_date_new == new_date
    assert all_fl.request_ship_date_new == new_date
    assert all_fl.cancel_flag_new_value is None
    state = watched.sub.state()
    assert state["events"] and not state["last_invalid"]


def test_a_refused_change_pushes_nothing(watched: Watched, unique: str) -> None:
    shop = watched.shop
    number, request = shop.released(unique, [line("A", 5)])
    shop.send(unique, [line("A", 3)], revision="2")
    (update,) = shop.deliver()
    shop.ack(update.request_id, "ERROR", "CHANGE_REJECTED")
    shop.deliver()
    (fid,) = request.lines
    assert shop.flines(number)[fid].quantity == Decimal(5)
    assert watched.pushes() == []


def test_an_accepted_cancel_pushes_the_cancel_flag(watched: Watched, unique: str) -> None:
    shop = watched.shop
    _, request = shop.released(unique, [line("A", 5)])
    shop.send(unique, [line("A", 0, CancelReason="changed my mind")], revision="2")
    (cancel,) = shop.deliver()
    assert watched.pushes() == []
    shop.ack(cancel.request_id)
    shop.deliver()
    ((xml, header),) = watched.pushes()  # only the point for every attribute wants it
    (fl,) = header.lines[0].fulfillment_lines
    assert fl.fulfillment_order_line_id == next(iter(request.lines))
    assert (fl.cancel_flag_old_value, fl.cancel_flag_new_value) == ("N", "Y")
    assert fline_of(xml, "FulfillmentOrderLineNumber") == [
        "FulfillmentOrderLineNumber",
        "CancelFlagOldValue",
        "CancelFlagNewValue",
    ]
