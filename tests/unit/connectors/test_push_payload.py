"""Business-event payloads (connectors/push_payload.py, push_payload_writer.py,
push_payload_reader.py; connectors/wsdl/events): the published schema is
contract §5.3 to the letter, each EventCode fills exactly contract §5.4's fields (nil where
no value), pushes round-trip, and a subscriber refuses anything malformed."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from connectors.connector_errors import PayloadInvalidError
from connectors.push_payload import (
    CHANGED_ONLY,
    CONNECTOR_NS,
    EVENT_CODES,
    EVENTS_NS,
    FILLS,
    PUSH_ACTION,
    SCHEMA_PATH,
    WSDL_PATH,
    EventFulfillLine,
    EventHeader,
    EventLine,
)
from connectors.push_payload_reader import (
    parse_push,
    parse_results,
    results_schema,
    validate_results,
)
from connectors.push_payload_writer import push_envelope, results_document
from tests.common.business_events import (
    PUSHES,
    fline_closed,
    hold,
    jeopardy,
    order_attribute_update,
    order_header_status_update,
    split,
)

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
NIL = f"{{{XSI}}}nil"
LEVELS = (("header", "OrderHeader"), ("line", "OrderLine"), ("fline", "OrderFulfillmentLine"))
CHILD = {"OrderHeader": "OrderLine", "OrderLine": "OrderFulfillmentLine"}


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def snake(wire: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", wire).lower()


def leaves(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if local(c) != CHILD.get(local(el))]


def xsd() -> etree._Element:
    return etree.parse(str(SCHEMA_PATH)).getroot()


def sequence(type_name: str) -> list[etree._Element]:
    ct = xsd().find(f"{{{XS}}}complexType[@name='{type_name}']")
    assert ct is not None, type_name
    return ct.findall(f"{{{XS}}}sequence/{{{XS}}}element")


def sequence_names(type_name: str) -> list[str]:
    return [str(e.get("name")) for e in sequence(type_name)]


def expected_text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def partner(wire: str) -> str:
    """``OrderedQtyNew`` ↔ ``OrderedQtyOld``, ``CancelFlagOldValue`` ↔ ``…NewValue``."""
    for a, b in (("NewValue", "OldValue"), ("New", "Old")):
        if wire.endswith(a):
            return wire[: -len(a)] + b
        if wire.endswith(b):
            return wire[: -len(b)] + a
    raise AssertionError(wire)


def test_every_event_code_has_a_push() -> None:
    assert set(PUSHES) == set(EVENT_CODES) == set(FILLS)


# --- one test per EventCode: validates, fills exactly FILLS in order, nil, round trip ---


@pytest.mark.parametrize("code", EVENT_CODES)
def test_push_of_each_event_code(code: str) -> None:
    header = PUSHES[code]()
    root = etree.fromstring(results_document(header))

    # (a) the XSD accepts it; one OrderHeader per push
    validate_results(root)
    assert root.tag == f"{{{EVENTS_NS}}}results"
    (head,) = root

    # (b) exactly the elements FILLS names, at each level, in schema order
    objects: dict[str, list[tuple[etree._Element, Any]]] = {"OrderHeader": [(head, header)]}
    objects["OrderLine"] = [
        (el, ln)
        for el, ln in zip(head.findall(f"{{{EVENTS_NS}}}OrderLine"), header.lines, strict=True)
    ]
    assert len(objects["OrderLine"]) == len(header.lines)
    objects["OrderFulfillmentLine"] = []
    for line_el, line in objects["OrderLine"]:
        fl_els = line_el.findall(f"{{{EVENTS_NS}}}OrderFulfillmentLine")
        assert len(fl_els) == len(line.fulfillment_lines)
        objects["OrderFulfillmentLine"] += list(zip(fl_els, line.fulfillment_lines, strict=True))
    nils = 0
    for level, element in LEVELS:
        if FILLS[code][level]:
            assert objects[element], f"the {code} sample exercises no {element}"
        for el, obj in objects[element]:
            names = [local(c) for c in leaves(el)]
            # a changed-only pair is there when either side holds a value, else left out
            sparse = CHANGED_ONLY.get(code, frozenset())
            expected = [
                name
                for name in FILLS[code][level]
                if name not in sparse
                or getattr(obj, snake(name)) is not None
                or getattr(obj, snake(partner(name))) is not None
            ]
            assert names == expected
            # (c) a value where the dataclass has one, xsi:nil where it is None
            for leaf in leaves(el):
                name = local(leaf)
                value = getattr(obj, snake(name))
                if name == "EventCode":
                    value = code
                if value is None:
                    assert leaf.get(NIL) == "true" and leaf.text is None and len(leaf) == 0
                    nils += 1
                else:
                    assert leaf.get(NIL) is None
                    assert leaf.text == expected_text(value)
    assert nils >= 1, "each sample leaves a filled field None, to show the nil rule"

    # (d) round trip through the SOAP envelope and the subscriber's parser
    envelope = push_envelope(header, message_id="urn:uuid:0e1f", to="https://sub.example/ev")
    pushed = parse_push(envelope)
    assert pushed.headers == (header,)
    assert pushed.message_id == "urn:uuid:0e1f"
    assert pushed.action == PUSH_ACTION == "pushPayload"
    assert pushed.results == results_document(header)


def test_event_code_placement() -> None:
    for code in EVENT_CODES:
        if code == "JEOPARDY":
            assert FILLS[code]["header"] == ()
            assert FILLS[code]["line"][0] == "EventCode"
        else:
            assert FILLS[code]["header"][0] == "EventCode"
            assert "EventCode" not in FILLS[code]["line"]
    root = etree.fromstring(results_document(jeopardy()))
    head = root[0]
    assert [local(c) for c in head] == ["OrderLine"]
    assert head[0][0].text == "JEOPARDY"


def test_header_status_update_carries_no_line() -> None:
    assert FILLS["OrderHeaderStatusUpdate"]["line"] == ()
    root = etree.fromstring(results_document(order_header_status_update()))
    assert root[0].find(f"{{{EVENTS_NS}}}OrderLine") is None


KEYS = {
    "SourceOrderSystem",
    "SourceOrderId",
    "SourceOrderNumber",
    "OrchestrationOrderNumber",
    "OrchestrationOrderId",
}
#: contract §5.4, transcribed a second time (as sets) so that FILLS cannot drift from it
CONTRACT_5_4 = {
    "OrderHeaderStatusUpdate": (
        {"EventCode", *KEYS, "CustomerId", "StatusPriorValue", "StatusNewValue"},
        set(),
        set(),
    ),
    "FlineStatusUpdate": (
        {"EventCode", "SourceOrderSystem", "SourceOrderId", "SourceOrderNumber"}
        | {"StatusCodeOldValue", "StatusCodeNewValue"},
        {"OrchestrationOrderLineNumber", "StatusCodeOldValue", "StatusCodeNewValue"},
        {"SourceOrderScheduleId", "OrchestrationOrderLineId", "FulfillmentOrderLineId"}
        | {"StatusCodeOldValue", "StatusCodeNewValue"},
    ),
    "FlineClosed": (
        {"EventCode", "SourceOrderNumber", "OrchestrationOrderId"},
        {"OrchestrationOrderLineId", "OpenFlagNewValue", "OpenFlagOldValue"},
        {"FulfillmentOrderLineId", "CancelFlagOldValue", "CancelFlagNewValue"},
    ),
    "HOLD": (
        {"EventCode", *KEYS, "HoldCode", "HoldComments"},
        {"OrchestrationOrderLineId", "OrchestrationOrderLineNumber", "HoldCode", "HoldComments"}
        | {"SourceOrderLineId", "SourceOrderLineNumber"},
        {"SourceOrderScheduleId", "FulfillmentOrderLineId", "FulfillmentOrderLineNumber"}
        | {"HoldCode", "HoldComments", "ItemId", "InventoryOrganizationId"},
    ),
    "JEOPARDY": (
        set(),
        {"EventCode", "OrchestrationOrderLineId", "OrchestrationOrderLineNumber"}
        | {"SourceOrderLineId", "SourceOrderLineNumber", "SourceOrderSystem", "SourceOrderId"}
        | {"SourceOrderScheduleId"},
        {"FulfillmentOrderLineId", "FulfillmentOrderLineNumber", "ItemId"}
        | {"InventoryOrganizationId", "JeopardyPriority"},
    ),
    "SPLIT": (
        {"EventCode", *KEYS, "CustomerId"},
        {"OrchestrationOrderLineId", "OrchestrationOrderLineNumber", "SourceOrderLineId"}
        | {"SourceOrderLineNumber", "PreSplitOrderedQuantity", "ItemId", "InventoryOrganizationId"},
        {"FulfillmentOrderLineId", "FulfillmentOrderLineNumber", "ShippedQuantity"}
        | {"OrderedQuantity"},
    ),
    # the fulfillment line's pairs: those of §5.3 that omgw's revisions change
    "OrderAttributeUpdate": (
        {"EventCode", *KEYS},
        {"OrchestrationOrderLineId", "OrchestrationOrderLineNumber", "SourceOrderLineId"}
        | {"SourceOrderLineNumber"},
        {"SourceOrderScheduleId", "FulfillmentOrderLineId", "FulfillmentOrderLineNumber"}
        | {"OrderedQtyNew", "OrderedQtyOld", "RequestShipDateNew", "RequestShipDateOld"}
        | {"ScheduleShipDateNew", "ScheduleShipDateOld", "ShipToSiteUseIdNew"}
        | {"ShipToSiteUseIdOld", "CancelFlagOldValue", "CancelFlagNewValue"},
    ),
}


def test_fills_is_the_contract_table() -> None:
    assert set(FILLS) == set(CONTRACT_5_4)
    for code, (header, line, fline) in CONTRACT_5_4.items():
        got = FILLS[code]
        assert set(got) == {"header", "line", "fline"}
        for level, expected in (("header", header), ("line", line), ("fline", fline)):
            assert len(got[level]) == len(set(got[level])), (code, level)
            assert set(got[level]) == expected, (code, level)


def test_fills_follow_schema_order_and_dataclass_fields() -> None:
    classes = {"header": EventHeader, "line": EventLine, "fline": EventFulfillLine}
    for code, levels in FILLS.items():
        for level, element in LEVELS:
            order = sequence_names(element)
            filled = levels[level]
            positions = [order.index(name) for name in filled]
            assert positions == sorted(positions), (code, level)
            fields = {f.name for f in dataclasses.fields(classes[level])}
            for name in filled:
                assert snake(name) in fields, (code, level, name)


def test_dataclass_fields_are_schema_elements_of_the_right_type() -> None:
    py_types = {
        "xs:string": "str | None",
        "xs:long": "int | None",
        "xs:int": "int | None",
        "xs:decimal": "Decimal | None",
        "xs:dateTime": "datetime | None",
    }
    levels = (
        (EventHeader, "OrderHeader"),
        (EventLine, "OrderLine"),
        (EventFulfillLine, "OrderFulfillmentLine"),
    )
    for cls, element in levels:
        by_attr = {snake(str(e.get("name"))): str(e.get("type")) for e in sequence(element)}
        for field in dataclasses.fields(cls):
            name = field.name
            if name in ("lines", "fulfillment_lines"):
                continue
            assert name in by_attr, (element, name)
            expected = py_types[by_attr[name]]
            if cls is EventHeader and name == "event_code":
                expected = "str"
            assert field.type == expected, (element, name)


# --- refusals when building ---


def test_value_in_a_field_the_code_does_not_fill_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"OrderHeaderStatusUpdate does not fill OrderHeader/HoldCode"
    ):
        results_document(EventHeader("OrderHeaderStatusUpdate", hold_code="CREDIT_HOLD"))
    closed = fline_closed()
    line = closed.lines[0]
    bad_fline = EventFulfillLine(fulfillment_order_line_id=1, item_id=5)
    bad = EventHeader(
        "FlineClosed",
        lines=(
            EventLine(
                orchestration_order_line_id=line.orchestration_order_line_id,
                fulfillment_lines=(bad_fline,),
            ),
        ),
    )
    with pytest.raises(ValueError, match=r"FlineClosed does not fill OrderFulfillmentLine/ItemId"):
        results_document(bad)
    # FlineStatusUpdate's header carries neither the OM order number nor the customer
    with pytest.raises(ValueError, match=r"FlineStatusUpdate does not fill OrderHeader/CustomerId"):
        results_document(EventHeader("FlineStatusUpdate", customer_id=1))
    # a header-only code carries no lines at all
    with pytest.raises(ValueError, match=r"OrderHeaderStatusUpdate carries no OrderLine"):
        results_document(EventHeader("OrderHeaderStatusUpdate", lines=(EventLine(),)))


def test_event_code_on_a_line_belongs_to_jeopardy_only() -> None:
    with pytest.raises(ValueError, match=r"HOLD does not fill OrderLine/EventCode"):
        results_document(EventHeader("HOLD", lines=(EventLine(event_code="HOLD"),)))
    with pytest.raises(ValueError, match=r"JEOPARDY.*not 'HOLD'"):
        results_document(EventHeader("JEOPARDY", lines=(EventLine(event_code="HOLD"),)))
    with pytest.raises(ValueError, match=r"JEOPARDY push names its EventCode on its lines"):
        results_document(EventHeader("JEOPARDY"))
    # left None, a JEOPARDY line still carries its code: the push must say what it is
    root = etree.fromstring(results_document(EventHeader("JEOPARDY", lines=(EventLine(),))))
    assert root[0][0][0].text == "JEOPARDY"


@pytest.mark.parametrize("code", ["ORDER_ATTRIBUTE_UPDATE", "OcResponse", "hold", ""])
def test_unknown_event_code_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match=r"unknown EventCode"):
        results_document(EventHeader(code))
    with pytest.raises(ValueError, match=r"unknown EventCode"):
        push_envelope(EventHeader(code), message_id="m", to="t")


def test_values_the_schema_type_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match=r"OrchestrationOrderId is an xs:long: '12' is not one"):
        results_document(EventHeader("SPLIT", orchestration_order_id="12"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"OrchestrationOrderLineNumber is an xs:int: .* range"):
        results_document(
            EventHeader("SPLIT", lines=(EventLine(orchestration_order_line_number=2**31),))
        )
    with pytest.raises(ValueError, match=r"PreSplitOrderedQuantity is an xs:decimal"):
        results_document(
            EventHeader("SPLIT", lines=(EventLine(pre_split_ordered_quantity=Decimal("NaN")),))
        )
    with pytest.raises(ValueError, match=r"OrderHeader/SourceOrderId"):
        results_document(EventHeader("SPLIT", source_order_id="bad\x00id"))


def test_decimals_are_written_without_exponent() -> None:
    def written(qty: Decimal) -> str | None:
        header = EventHeader("SPLIT", lines=(EventLine(pre_split_ordered_quantity=qty),))
        root = etree.fromstring(results_document(header))
        return root.findtext(f".//{{{EVENTS_NS}}}PreSplitOrderedQuantity")

    assert written(Decimal("1E+1")) == "10"
    assert written(Decimal("2.5")) == "2.5"
    assert written(Decimal("1.5E-7")) == "0.00000015"


def test_envelope_carries_ws_addressing() -> None:
    env = etree.fromstring(push_envelope(hold(), message_id="urn:uuid:1", to="https://s/ev"))
    assert env.tag == f"{{{ENV}}}Envelope"
    assert env.findtext(f"{{{ENV}}}Header/{{{WSA}}}MessageID") == "urn:uuid:1"
    assert env.findtext(f"{{{ENV}}}Header/{{{WSA}}}To") == "https://s/ev"
    assert env.findtext(f"{{{ENV}}}Header/{{{WSA}}}Action") == "pushPayload"
    (body_child,) = env.find(f"{{{ENV}}}Body")  # type: ignore[misc]
    assert body_child.tag == f"{{{EVENTS_NS}}}results"
    assert len(body_child) == 1  # one OrderHeader per push


# --- the published schema is contract §5.3 ---


def test_schema_namespace_and_root() -> None:
    root = xsd()
    assert root.get("targetNamespace") == EVENTS_NS
    assert root.get("elementFormDefault") == "qualified"
    (top,) = root.findall(f"{{{XS}}}element")
    assert top.get("name") == "results"
    (header,) = sequence("results")
    assert (header.get("name"), header.get("minOccurs"), header.get("maxOccurs")) == (
        "OrderHeader",
        "0",
        "unbounded",
    )


def test_schema_order_header_sequence() -> None:
    assert sequence_names("OrderHeader") == [
        "EventCode",
        "SourceOrderSystem",
        "SourceOrderId",
        "SourceOrderNumber",
        "OrchestrationOrderNumber",
        "OrchestrationOrderId",
        "CustomerId",
        "HoldCode",
        "HoldComments",
        "CompensationStatus",
        "CompensationMessage",
        "StatusCodeOldValue",
        "StatusCodeNewValue",
        "StatusPriorValue",
        "StatusNewValue",
        "OrderLine",
    ]


def test_schema_order_line_sequence() -> None:
    assert sequence_names("OrderLine") == [
        "EventCode",
        "OrchestrationOrderLineId",
        "OrchestrationOrderLineNumber",
        "HoldCode",
        "HoldComments",
        "SourceOrderLineId",
        "SourceOrderLineNumber",
        "SourceOrderSystem",
        "SourceOrderId",
        "SourceOrderScheduleId",
        "PreSplitOrderedQuantity",
        "ItemId",
        "InventoryOrganizationId",
        "OpenFlagNewValue",
        "OpenFlagOldValue",
        "StatusCodeOldValue",
        "StatusCodeNewValue",
        "OrderFulfillmentLine",
    ]


def test_schema_fulfillment_line_pairs_new_before_old() -> None:
    names = sequence_names("OrderFulfillmentLine")
    assert names[:4] == [
        "SourceOrderScheduleId",
        "OrchestrationOrderLineId",
        "FulfillmentOrderLineId",
        "FulfillmentOrderLineNumber",
    ]
    pairs = names[4:74]
    assert len(pairs) == 70
    for new, old in zip(pairs[::2], pairs[1::2], strict=True):
        assert new.endswith("New") and old == new[: -len("New")] + "Old", (new, old)
    assert names.index("ActualShipDateNew") + 1 == names.index("ActualShipDateOld")
    assert pairs[0] == "ActualShipDateNew" and pairs[-1] == "ReturnReasonCodeOld"
    assert names[74:] == [
        "HoldCode",
        "HoldComments",
        "ItemId",
        "InventoryOrganizationId",
        "ShippedQuantity",
        "OrderedQuantity",
        "JeopardyPriority",
        "StatusCodeOldValue",
        "StatusCodeNewValue",
        "CancelFlagOldValue",
        "CancelFlagNewValue",
        "OrderFulfillmentLineDetails",
        "OrderFulfillmentLineEFFs",
    ]


def test_schema_types_date_versus_datetime_and_number_kinds() -> None:
    def types(type_name: str) -> dict[str, str]:
        return {str(e.get("name")): str(e.get("type")) for e in sequence(type_name)}

    fl = types("OrderFulfillmentLine")
    assert fl["ActualShipDateNew"] == fl["LatestAcceptableShipDateOld"] == "xs:dateTime"
    for name in ("ActualCompletionDate", "EarliestAcceptableShipDate", "FulfillmentDate"):
        assert fl[name + "New"] == fl[name + "Old"] == "xs:date", name
    assert fl["UnitSellingPriceNew"] == fl["BillToContactIdOld"] == "xs:decimal"
    assert fl["FulfillmentOrderLineNumber"] == "xs:int"
    assert fl["ShippedQuantity"] == fl["OrderedQuantity"] == "xs:long"
    assert types("OrderHeader")["OrchestrationOrderId"] == "xs:long"
    assert types("OrderLine")["OrchestrationOrderLineNumber"] == "xs:int"
    assert types("OrderLine")["PreSplitOrderedQuantity"] == "xs:decimal"
    details = types("OrderFulfillmentLineDetails")
    assert details["BillOfLaddingNumber"] == "xs:string"  # Oracle's spelling
    assert "BillOfLadingNumber" not in details
    assert details["RmaReceiptDate"] == "xs:date"
    assert details["BillingTransactionDate"] == "xs:dateTime"
    assert list(details)[-1] == "OrderFulfillmentLineEFFs"
    assert list(types("OrderFulfillmentLineEFFs")) == [
        "ContextCode",
        "SegmentCode",
        "SegmentCharOldValue",
        "SegmentCharNewValue",
        "SegmentNumOldValue",
        "SegmentNumNewValue",
        "SegmentDateOldValue",
        "SegmentDateNewValue",
        "SegmentTimeOldValue",
        "SegmentTimeNewValue",
    ]


def test_schema_leaves_are_optional_and_nillable_and_lists_unbounded() -> None:
    complex_types = {str(ct.get("name")) for ct in xsd().findall(f"{{{XS}}}complexType")}
    assert complex_types == {
        "results",
        "OrderHeader",
        "OrderLine",
        "OrderFulfillmentLine",
        "OrderFulfillmentLineDetails",
        "OrderFulfillmentLineEFFs",
    }
    for type_name in complex_types:
        for el in sequence(type_name):
            assert el.get("minOccurs") == "0", (type_name, el.get("name"))
            if str(el.get("type")).startswith("xs:"):
                assert el.get("nillable") == "true", (type_name, el.get("name"))
            else:
                assert el.get("maxOccurs") == "unbounded", (type_name, el.get("name"))


def test_schema_is_cached_and_validate_reports_the_first_error() -> None:
    assert results_schema() is results_schema()
    root = etree.fromstring(results_document(split()))
    head = root[0]
    # out of sequence: CustomerId before EventCode
    head.insert(0, head[6])
    with pytest.raises(
        PayloadInvalidError,
        match=r"does not match BusinessEventsConnectorPayload.xsd: line 1: .*EventCode'?: "
        r"This element is not expected",
    ):
        validate_results(root)


# --- the subscriber side refuses what is not a pushPayload ---


def envelope(body: str, header: str = "") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:wsa="{WSA}">'
        f"<soapenv:Header>{header}</soapenv:Header><soapenv:Body>{body}</soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()


def test_parse_push_refuses_non_xml() -> None:
    with pytest.raises(PayloadInvalidError, match=r"not well-formed XML"):
        parse_push(b"HTTP/1.1 200 OK\r\n\r\n{}")
    with pytest.raises(PayloadInvalidError, match=r"not well-formed XML"):
        parse_push(b"")


def test_parse_push_refuses_a_dtd_entity_bomb() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    ) + envelope(
        f'<results xmlns="{EVENTS_NS}"><OrderHeader><EventCode>&lol3;</EventCode>'
        "</OrderHeader></results>"
    )
    with pytest.raises(PayloadInvalidError, match=r"document type declaration \(DTD\)"):
        parse_push(bomb)


def test_parse_push_refuses_an_external_entity() -> None:
    xxe = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + envelope(
        f'<results xmlns="{EVENTS_NS}"><OrderHeader><EventCode>&x;</EventCode>'
        "</OrderHeader></results>"
    )
    with pytest.raises(PayloadInvalidError, match=r"DTD") as err:
        parse_push(xxe)
    assert "root:" not in str(err.value)


def test_parse_push_refuses_a_non_envelope() -> None:
    with pytest.raises(
        PayloadInvalidError, match=r"not a SOAP 1.1 envelope: its root element is .*results"
    ):
        parse_push(results_document(hold()))
    soap12 = b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'
    with pytest.raises(PayloadInvalidError, match=r"SOAP 1.2 envelope; pushPayload is SOAP 1.1"):
        parse_push(soap12)
    no_body = f'<soapenv:Envelope xmlns:soapenv="{ENV}"><soapenv:Header/></soapenv:Envelope>'
    with pytest.raises(PayloadInvalidError, match=r"has no Body"):
        parse_push(no_body.encode())


def test_parse_push_refuses_another_body_element() -> None:
    fault = "<soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>x</faultstring></soapenv:Fault>"
    with pytest.raises(
        PayloadInvalidError, match=r"Body holds .*Fault, not pushPayload's .*results"
    ):
        parse_push(envelope(fault))
    other_ns = '<results xmlns="http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"/>'
    with pytest.raises(PayloadInvalidError, match=r"not pushPayload's"):
        parse_push(envelope(other_ns))
    with pytest.raises(PayloadInvalidError, match=r"Body is empty"):
        parse_push(envelope("<!-- nothing -->"))
    two = results_document(hold()).decode() * 2
    with pytest.raises(PayloadInvalidError, match=r"Body holds 2 elements"):
        parse_push(envelope(two))


def test_parse_push_refuses_a_schema_violation() -> None:
    body = results_document(hold()).replace(
        b"<OrchestrationOrderId>300000123456789</OrchestrationOrderId>",
        b"<OrchestrationOrderId>ORD-1</OrchestrationOrderId>",
    )
    assert b"ORD-1" in body
    with pytest.raises(
        PayloadInvalidError,
        match=r"does not match BusinessEventsConnectorPayload.xsd: line \d+: .*OrchestrationOrderId.*'ORD-1'.*xs:long",
    ):
        parse_push(envelope(body.decode()))


def test_parse_push_refuses_values_the_code_does_not_fill() -> None:
    body = results_document(order_header_status_update()).replace(
        b"<StatusPriorValue>", b"<HoldCode>CREDIT_HOLD</HoldCode><StatusPriorValue>"
    )
    with pytest.raises(
        PayloadInvalidError,
        match=r"OrderHeaderStatusUpdate does not fill OrderHeader/HoldCode, yet it holds 'CREDIT_HOLD'",
    ):
        parse_push(envelope(body.decode()))
    # a nil in an unfilled field is what Oracle's XSLs copy through: tolerated
    nil = body.replace(b"<HoldCode>CREDIT_HOLD</HoldCode>", b'<HoldCode xsi:nil="true"/>')
    assert parse_push(envelope(nil.decode())).headers == (order_header_status_update(),)
    # JEOPARDY carries its EventCode on the line, never on the header
    jeo = results_document(jeopardy()).replace(
        b"<OrderHeader>", b"<OrderHeader><EventCode>JEOPARDY</EventCode>"
    )
    with pytest.raises(PayloadInvalidError, match=r"JEOPARDY does not fill OrderHeader/EventCode"):
        parse_push(envelope(jeo.decode()))


def test_parse_push_refuses_a_header_without_known_event_code() -> None:
    none = f'<results xmlns="{EVENTS_NS}"><OrderHeader><SourceOrderId>1</SourceOrderId></OrderHeader></results>'
    with pytest.raises(PayloadInvalidError, match=r"carries no EventCode"):
        parse_push(envelope(none))
    oracle_only = f'<results xmlns="{EVENTS_NS}"><OrderHeader><EventCode>OcResponse</EventCode></OrderHeader></results>'
    with pytest.raises(PayloadInvalidError, match=r"'OcResponse' is not one omgw reads"):
        parse_push(envelope(oracle_only))


def test_parse_results_reads_several_headers_and_a_foreign_prefix() -> None:
    # a results written with a prefix (as zeep or Oracle would), two headers, nil as "1"
    doc = (
        f'<ev:results xmlns:ev="{EVENTS_NS}" xmlns:i="{XSI}">'
        "<ev:OrderHeader><ev:EventCode>FlineClosed</ev:EventCode>"
        '<ev:SourceOrderNumber>520001</ev:SourceOrderNumber><ev:OrchestrationOrderId i:nil="1"/>'
        "</ev:OrderHeader>"
        "<ev:OrderHeader><ev:EventCode>OrderHeaderStatusUpdate</ev:EventCode>"
        "<ev:StatusNewValue> CLOSED </ev:StatusNewValue></ev:OrderHeader></ev:results>"
    )
    headers = parse_results(etree.fromstring(doc))
    assert headers == (
        EventHeader("FlineClosed", source_order_number="520001"),
        EventHeader("OrderHeaderStatusUpdate", status_new_value=" CLOSED "),
    )
    with pytest.raises(PayloadInvalidError, match=r"expected .*results"):
        parse_results(etree.fromstring(f'<OrderHeader xmlns="{EVENTS_NS}"/>'))


# --- the published WSDL ---


def test_zeep_loads_the_wsdl_one_way_push_payload() -> None:
    zeep = pytest.importorskip("zeep")
    client = zeep.Client(str(WSDL_PATH))
    service = client.wsdl.services["businesseventsconnetor_client_ep"]
    port = service.ports["BusinessEventsConnectorPayload_pt"]
    assert port.binding_options["address"] == "http://localhost:8090/events"
    operation = port.binding._operations["pushPayload"]
    assert operation.output is None  # one-way
    assert operation.soapaction == "pushPayload"
    assert operation.input.body.qname == etree.QName(EVENTS_NS, "results")
    assert port.binding.port_name.namespace == CONNECTOR_NS

    # a subscriber built on zeep reads omgw's push, nil as None
    read = operation.input.deserialize(
        etree.fromstring(push_envelope(hold(), message_id="m", to="t"))
    )
    (head,) = read
    assert head["EventCode"] == "HOLD" and head["HoldComments"] is None
    assert head["OrderLine"][0]["OrderFulfillmentLine"][0]["ItemId"] == 100000011112222


def test_wsdl_declares_a_one_way_document_literal_port() -> None:
    root = etree.parse(str(WSDL_PATH)).getroot()
    assert root.get("targetNamespace") == CONNECTOR_NS
    (imp,) = root.iter(f"{{{XS}}}import")
    assert imp.get("schemaLocation") == SCHEMA_PATH.name
    assert imp.get("namespace") == EVENTS_NS
    (message,) = root.findall(f"{{{WSDL}}}message")
    assert message.get("name") == "BusinessEventsConnectorPayloadRequestMessage"
    (part,) = message
    assert part.get("name") == "payload"
    prefix, name = str(part.get("element")).split(":")
    assert (part.nsmap[prefix], name) == (EVENTS_NS, "results")
    (port_type,) = root.findall(f"{{{WSDL}}}portType")
    assert port_type.get("name") == "BusinessEventsConnectorPayload"
    (op,) = port_type
    assert op.get("name") == "pushPayload"
    assert [local(c) for c in op] == ["input"]
    (binding,) = root.findall(f"{{{WSDL}}}binding")
    assert binding.find(f"{{{WSDL_SOAP}}}binding").get("style") == "document"  # type: ignore[union-attr]
    soap_op = binding.find(f"{{{WSDL}}}operation/{{{WSDL_SOAP}}}operation")
    assert soap_op is not None and soap_op.get("soapAction") == "pushPayload"
    assert binding.find(f".//{{{WSDL_SOAP}}}body").get("use") == "literal"  # type: ignore[union-attr]


# --- OrderAttributeUpdate: only the pairs that changed, each written New then Old ---


def test_attribute_update_writes_only_the_pairs_that_changed() -> None:
    root = etree.fromstring(results_document(order_attribute_update()))
    first, second = root.findall(f".//{{{EVENTS_NS}}}OrderFulfillmentLine")
    assert [local(c) for c in first][3:] == [
        "OrderedQtyNew",
        "OrderedQtyOld",
        "ScheduleShipDateNew",
        "ScheduleShipDateOld",
    ]
    assert first.findtext(f"{{{EVENTS_NS}}}OrderedQtyNew") == "3"
    assert first.findtext(f"{{{EVENTS_NS}}}OrderedQtyOld") == "5"
    assert first.findtext(f"{{{EVENTS_NS}}}ScheduleShipDateNew") == "2026-12-24T09:30:00+00:00"
    assert first.find(f"{{{EVENTS_NS}}}ScheduleShipDateOld").get(NIL) == "true"  # type: ignore[union-attr]
    assert [local(c) for c in second][3:] == ["CancelFlagOldValue", "CancelFlagNewValue"]
    # a status code's pairs stay codes of their own: an attribute update does not fill them
    with pytest.raises(ValueError, match=r"OrderAttributeUpdate does not fill .*/JeopardyPriority"):
        results_document(
            EventHeader(
                "OrderAttributeUpdate",
                lines=(EventLine(fulfillment_lines=(EventFulfillLine(jeopardy_priority="LOW"),)),),
            )
        )


def test_a_time_without_its_zone_is_refused() -> None:
    naive = EventFulfillLine(schedule_ship_date_new=datetime(2026, 12, 24, 9, 30))
    header = EventHeader("OrderAttributeUpdate", lines=(EventLine(fulfillment_lines=(naive,)),))
    with pytest.raises(ValueError, match=r"ScheduleShipDateNew is an xs:dateTime: .* no time zone"):
        results_document(header)
