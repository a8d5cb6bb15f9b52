"""An order carrying every attribute Oracle documents, sent as Oracle-era clients send
it, is created, and GetOrderDetails gives back every attribute that was sent."""

from __future__ import annotations

import random

import pytest

from tests.contract import roundtrip as rt

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def test_every_documented_attribute_in_oracles_order_comes_back(gateway, unique):
    values = rt.order_values(unique)
    created = rt.answer(gateway, "OrderImportService", rt.create_request(values))
    (result,) = created
    assert result.findtext(f"{{{rt.IMPORT.namespace}}}ReturnStatus") == "SUCCESS"
    got = rt.answer(gateway, "OrderInformationService", rt.details_request(unique), "all")
    (order,) = got
    compared = rt.assert_returned(values, rt.IMPORT["Order"], order, rt.INFO["Order"], "Order")
    assert compared > 300, compared  # every attribute of the order, two lines and children


def test_every_documented_attribute_shuffled_with_other_prefixes_comes_back(sqlite_gateway, unique):
    values = rt.order_values(unique, lines=3)
    body = rt.create_request(values, style="jaxws", shuffle=random.Random(unique), user=None)
    created = rt.answer(sqlite_gateway, "OrderImportService", body, "all")
    assert len(created) == 1
    got = rt.answer(
        sqlite_gateway, "OrderInformationService", rt.details_request(unique, "other"), "all"
    )
    (order,) = got
    rt.assert_returned(values, rt.IMPORT["Order"], order, rt.INFO["Order"], "Order")


def test_get_order_details_leaves_out_what_the_request_asks_to(sqlite_gateway, unique):
    values = rt.order_values(unique, lines=1)
    rt.answer(sqlite_gateway, "OrderImportService", rt.create_request(values))
    ns = rt.INFO.namespace

    def children(order, *names):
        return [el for name in names for el in order.iter(f"{{{ns}}}{name}")]

    body = rt.details_request(unique, IncludeHeaderAndLineAttributesOnly="Y")
    (order,) = rt.answer(sqlite_gateway, "OrderInformationService", body, "all")
    (line,) = order.findall(f"{{{ns}}}OrderLine")
    assert line.findtext(f"{{{ns}}}SourceTransactionScheduleIdentifier")  # line attributes
    assert not children(order, "OrderCharge", "Attachment", "SalesCredit", "OrderPreferences")

    body = rt.details_request(unique, ExcludeAttachments="Y")
    (order,) = rt.answer(sqlite_gateway, "OrderInformationService", body, "all")
    assert not children(order, "Attachment", "LineAttachment")
    assert children(order, "OrderCharge", "SalesCredit")  # the other children stay
