"""The whole inbound surface through a real server and real zeep clients."""

from __future__ import annotations

from decimal import Decimal

import pytest
from zeep.exceptions import Fault

from tests.common.orders import fline_ids, order, response, shipped
from tests.common.soap import client, zeep_fault_code

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def details(info, **query):
    orders = info.service.GetOrderDetails(Order=[query])
    assert len(orders) == 1
    return orders[0]


def test_import_read_ack_ship_bill_close(imports, info, ofrs, unique):
    # Given an order of two lines imported through createOrders
    result = imports.service.createOrders(
        request={"BatchName": "B1", "Order": [order(unique, [("AS54888", 10), ("CM5008", 2)])]}
    )
    (created,) = result
    assert (created.ReturnStatus, created.FlowType, created.MessageName) == (
        "SUCCESS",
        "CREATE",
        None,
    )
    assert created.OrderStatus == "OPEN"
    assert [ln.SourceTransactionLineIdentifier for ln in created.OrderImportResponseLine] == [
        "L1",
        "L2",
    ]

    # When it is read back by its source transaction number
    got = details(info, SourceTransactionNumber=f"SO-{unique}")
    assert got.OrderNumber == created.OrderNumber
    assert got.SourceTransactionSystem == "LEGACY"
    assert [(ln.ProductNumber, ln.StatusCode) for ln in got.OrderLine] == [
        ("AS54888", "AWAIT_SHIP"),
        ("CM5008", "AWAIT_SHIP"),
    ]
    assert got.OrderLine[0].OrderedQuantity._value_1 == Decimal(10)
    assert got.OrderLine[0].OrderedQuantity.unitCode == "Ea"
    request_id = got.OrderLine[0].FulfillmentRequestIdentifier

    # The warehouse acknowledges the shipment request, then ships everything
    ofrs.service.processAcknowledgement(
        fulfillmentRequestAcknowledgement={
            "FulfillmentSystem": "WMS01",
            "FulfillmentRequestIdentifier": request_id,
            "RequestStatusCode": "SUCCESS",
        }
    )
    f1, f2 = (ln.FulfillLineIdentifier for ln in got.OrderLine)
    res = ofrs.service.processFulfillmentResponse(
        **response(f"R-{unique}-1", [shipped(f1), shipped(f2)])
    )
    assert res.OverallStatusCode == "SUCCESS"
    assert res.FulfillmentSystemResponseIdentifier == f"R-{unique}-1"
    assert [
        (ln.FulfillLineIdentifier, ln.StatusCode, ln.TaskInstanceStatusCode)
        for ln in res.ResponseProcessingFulfillLine
    ] == [
        (f1, "SUCCESS", "AWAIT_BILLING"),
        (f2, "SUCCESS", "AWAIT_BILLING"),
    ]
    got = details(info, OrderNumber=created.OrderNumber)
    assert [ln.StatusCode for ln in got.OrderLine] == ["AWAIT_BILLING", "AWAIT_BILLING"]
    assert got.OrderLine[0].ShippedQuantity._value_1 == Decimal(10)
    assert got.OrderLine[0].ActualShipDate is not None
    assert got.OrderLine[0].ActualShipDateTime is not None

    # Billing closes the lines, and the header rolls up to CLOSED
    res = ofrs.service.processFulfillmentResponse(
        **response(f"R-{unique}-2", [shipped(f1), shipped(f2)], task="Invoice")
    )
    assert {ln.TaskInstanceStatusCode for ln in res.ResponseProcessingFulfillLine} == {"CLOSED"}
    got = details(info, OrderNumber=created.OrderNumber)
    assert got.StatusCode == "CLOSED"
    assert {ln.StatusCode for ln in got.OrderLine} == {"CLOSED"}


def test_partial_shipment_splits_the_fulfillment_line(imports, info, ofrs, unique):
    (created,) = imports.service.createOrders(request={"Order": [order(unique, [("AS54888", 10)])]})
    (fline,) = fline_ids(created)

    res = ofrs.service.processFulfillmentResponse(**response(f"R-{unique}", [shipped(fline, 3)]))
    assert res.OverallStatusCode == "SUCCESS"
    by_id = {ln.FulfillLineIdentifier: ln for ln in res.ResponseProcessingFulfillLine}
    assert by_id[fline].TaskInstanceStatusCode == "AWAIT_BILLING"
    (rest_id,) = set(by_id) - {fline}
    assert by_id[rest_id].FulfillmentSplitReferenceIdentifier == fline
    assert by_id[rest_id].FulfillLineNumber == 2

    got = details(info, OrderNumber=created.OrderNumber)
    lines = {ln.FulfillLineIdentifier: ln for ln in got.OrderLine}
    assert lines[fline].OrderedQuantity._value_1 == Decimal(3)
    assert lines[fline].StatusCode == "AWAIT_BILLING"
    assert lines[rest_id].OrderedQuantity._value_1 == Decimal(7)
    assert lines[rest_id].StatusCode == "AWAIT_SHIP"
    assert lines[rest_id].SplitFromFlineIdentifier == fline
    assert lines[rest_id].FulfillLineNumber == 2
    assert {ln.LineStatusCode for ln in got.OrderLine} == {"PARTIALLY_SHIPPED"}
    assert got.StatusCode == "OPEN"

    # Shipping the remainder completes the shipment of the order line
    ofrs.service.processFulfillmentResponse(**response(f"R-{unique}-b", [shipped(rest_id, 7)]))
    got = details(info, OrderNumber=created.OrderNumber)
    assert {ln.StatusCode for ln in got.OrderLine} == {"AWAIT_BILLING"}
    assert {ln.LineStatusCode for ln in got.OrderLine} == {"AWAIT_BILLING"}


def test_same_order_twice_is_one_order(imports, info, unique):
    (first,) = imports.service.createOrders(request={"Order": [order(unique)]})
    (again,) = imports.service.createOrders(request={"Order": [order(unique)]})
    assert (again.ReturnStatus, again.MessageName) == ("SUCCESS", "OMGW-ORDER_EXISTS")
    assert first.MessageName is None
    assert again.OrderNumber == first.OrderNumber
    assert again.HeaderId == first.HeaderId
    orders = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}"}])
    assert len(orders) == 1


def test_new_revision_supersedes_the_old_one(imports, info, unique):
    (first,) = imports.service.createOrders(request={"Order": [order(unique)]})
    (second,) = imports.service.createOrders(
        request={"Order": [order(unique, [("AS54888", 4)], revision="2")]}
    )
    assert (second.FlowType, second.ChangeVersionNumber) == ("CHANGE", "2")
    assert (first.FlowType, first.ChangeVersionNumber) == ("CREATE", "1")
    assert second.OrderNumber == first.OrderNumber
    # the order is changed in place: the identifiers fulfillment systems hold stay valid
    assert second.HeaderId == first.HeaderId
    assert fline_ids(second) == fline_ids(first)

    current = details(info, OrderNumber=first.OrderNumber)
    assert current.SourceTransactionRevision == "2"
    assert current.OrderLine[0].OrderedQuantity._value_1 == Decimal(4)
    old = details(
        info,
        SourceTransactionIdentifier=unique,
        SourceTransactionSystem="LEGACY",
        SourceTransactionRevision="1",
    )
    assert old.StatusCode == "DOO_REFERENCE"
    # the reference keeps revision 1 as it was
    assert old.OrderLine[0].OrderedQuantity._value_1 == Decimal(10)
    assert old.HeaderId != first.HeaderId

    # An older revision arriving late is refused, and changes nothing
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [order(unique, revision="0")]})
    assert zeep_fault_code(exc.value) == "OMGW-REVISION_STALE"
    assert details(info, OrderNumber=first.OrderNumber).SourceTransactionRevision == "2"


def test_repeated_response_returns_first_result_and_changes_nothing(imports, info, ofrs, unique):
    (created,) = imports.service.createOrders(request={"Order": [order(unique, [("X", 10)])]})
    (fline,) = fline_ids(created)
    first = ofrs.service.processFulfillmentResponse(**response(f"R-{unique}", [shipped(fline, 4)]))
    again = ofrs.service.processFulfillmentResponse(**response(f"R-{unique}", [shipped(fline, 4)]))
    assert [
        (ln.FulfillLineIdentifier, ln.TaskInstanceStatusCode)
        for ln in again.ResponseProcessingFulfillLine
    ] == [
        (ln.FulfillLineIdentifier, ln.TaskInstanceStatusCode)
        for ln in first.ResponseProcessingFulfillLine
    ]
    got = details(info, OrderNumber=created.OrderNumber)
    # still exactly one split: 4 shipped and 6 open, not 4 + 4 + 2
    assert sorted(ln.OrderedQuantity._value_1 for ln in got.OrderLine) == [Decimal(4), Decimal(6)]


def test_xsi_nil_for_absent_values(gateway, unique):
    from tests.common.soap import basic, post

    c = client(gateway.base, "OrderImportService")
    c.service.createOrders(request={"Order": [order(unique)]})
    body = f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:typ="http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/types/"
      xmlns:ord="http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/">
      <soapenv:Body><typ:GetOrderDetails><typ:Order>
        <ord:SourceTransactionNumber>SO-{unique}</ord:SourceTransactionNumber>
      </typ:Order></typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>""".encode()
    resp = post(gateway.url("OrderInformationService"), body, basic("inquirer"))
    assert resp.status == 200
    text = resp.body.decode()
    assert 'CustomerPONumber xsi:nil="true"' in text
    assert "GetOrderDetailsResponse" in text
