"""The registry at work on the SOAP surface: value maps rewrite what a cross-referenced
system sends, and a response is processed under its connector's option."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from zeep.exceptions import Fault

from connectors.connector_specs import ConnectorSpec, SourceSystemSpec
from gateway.persistence.models import Connector, FulfillLine, FulfillmentRequest
from gateway.registry.store import Registry
from tests.common.orders import first_fline, order, response, shipped
from tests.common.soap import zeep_fault_code, zeep_fault_details

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def setup(gateway, work) -> None:
    with gateway.runtime.sessions() as s, s.begin():
        work(Registry(s, "tests"))


def test_orders_from_a_cross_referenced_system_are_mapped(gateway, imports, info, unique):
    system = f"X{unique[:8]}"

    def work(reg: Registry) -> None:
        reg.put_source_system(SourceSystemSpec(system, order_capture=True, cross_reference=True))
        reg.put_xref(system, "ITEM", "WEB-1", "CM5008")
        reg.put_xref(system, "UOM", "EACH", "Ea")
        reg.put_xref(system, "CUSTOMER", "C-77", "1006")

    setup(gateway, work)
    payload = order(unique, [("WEB-1", 2)], system=system)
    payload["Line"][0]["OrderedUOMCode"] = "EACH"
    payload["BuyingPartyNumber"] = "C-77"
    imports.service.createOrders(request={"Order": [payload]})
    got = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}"}])[0]
    assert (got.OrderLine[0].ProductNumber, got.OrderLine[0].OrderedUOMCode) == ("CM5008", "Ea")
    assert got.BuyingPartyNumber == "1006"

    unmapped = order(f"{unique}-2", [("WEB-9", 1)], system=system)
    unmapped["Line"][0]["OrderedUOMCode"] = "EACH"
    unmapped["BuyingPartyNumber"] = "C-77"
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [unmapped]})
    assert zeep_fault_code(exc.value) == "OMGW-XREF_MISSING"
    assert f"omgw xref add {system} ITEM WEB-9" in exc.value.message

    # With cross-reference off the same values pass through unchanged.
    setup(
        gateway,
        lambda reg: reg.put_source_system(SourceSystemSpec(system, order_capture=True)),
    )
    unmapped["Line"][0]["OrderedUOMCode"] = "Ea"
    imports.service.createOrders(request={"Order": [unmapped]})
    got = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}-2"}])[0]
    assert got.OrderLine[0].ProductNumber == "WEB-9"


def _fulfillment_system(gateway, code: str, connectors: list[tuple[str, str, str]]) -> None:
    def work(reg: Registry) -> None:
        reg.put_source_system(SourceSystemSpec(code, fulfillment=True, cross_reference=True))
        reg.put_xref(code, "STATUS", "shipped_ok", "SHIPPED")
        for name, mode, option in connectors:
            reg.put_connector(
                ConnectorSpec(
                    name,
                    code,
                    "http://127.0.0.1:9/x",
                    invocation_mode=mode,
                    response_processing=option,
                )
            )

    setup(gateway, work)


def test_the_option_comes_from_the_systems_first_enabled_service_connector(gateway, ofrs, unique):
    code = f"F{unique[:8]}"
    _fulfillment_system(
        gateway,
        code,
        [
            (f"{code}_A_events", "BUSINESS_EVENT", "REJECT_ERROR_GROUPS"),  # not a service
            (f"{code}_B", "ASYNC_SERVICE", "REJECT_ALL_ON_ANY_ERROR"),
            (f"{code}_C", "SYNC_SERVICE", "REJECT_ALL_ON_FIRST_ERROR"),
        ],
    )
    two_unknown = [shipped(990_000_001), shipped(990_000_002)]

    def details(rid: str) -> list[str]:
        with pytest.raises(Fault) as exc:
            ofrs.service.processFulfillmentResponse(**response(rid, two_unknown, system=code))
        return zeep_fault_details(exc.value)

    assert details(f"{unique}-1") == ["OMGW-LINE_NOT_FOUND"] * 2  # connector B: any error
    setup(
        gateway,
        lambda reg: reg.put_connector(
            ConnectorSpec(f"{code}_B", code, "http://127.0.0.1:9/x", enabled=False,
                          response_processing="REJECT_ALL_ON_ANY_ERROR")
        ),
    )  # fmt: skip
    assert details(f"{unique}-2") == ["OMGW-LINE_NOT_FOUND"]  # connector C: first error


def test_the_connector_that_carried_the_request_decides(gateway, imports, ofrs, unique):
    code = f"G{unique[:8]}"
    _fulfillment_system(
        gateway,
        code,
        [
            (f"{code}_A", "ASYNC_SERVICE", "REJECT_ALL_ON_ANY_ERROR"),
            (f"{code}_Z", "ASYNC_SERVICE", "REJECT_ERROR_GROUPS"),
        ],
    )
    fline = first_fline(imports, unique, qty=3)
    with gateway.runtime.sessions() as s, s.begin():
        carrier = s.scalar(select(Connector.id).where(Connector.name == f"{code}_Z"))
        request_id = s.get(FulfillLine, fline).request_id
        s.get(FulfillmentRequest, request_id).connector_id = carrier
    # One good line (its status word mapped) and one unknown: the carrier's
    # REJECT_ERROR_GROUPS applies the good one; the system's first connector would not.
    result = ofrs.service.processFulfillmentResponse(
        **response(
            unique, [shipped(fline, 3, status="shipped_ok"), shipped(990_000_003)], system=code
        )
    )
    assert result.OverallStatusCode == "WARNING"
    with gateway.runtime.sessions() as s:
        line = s.get(FulfillLine, fline)
        assert (line.status, line.shipped_quantity) == ("AWAIT_BILLING", Decimal(3))


def test_an_unmapped_status_word_is_a_line_error(gateway, imports, ofrs, unique):
    code = f"H{unique[:8]}"
    _fulfillment_system(gateway, code, [(f"{code}_A", "ASYNC_SERVICE", "REJECT_ALL_ON_ANY_ERROR")])
    fline = first_fline(imports, unique, qty=2)
    with pytest.raises(Fault) as exc:
        ofrs.service.processFulfillmentResponse(
            **response(unique, [shipped(fline, 2, status="teleported")], system=code)
        )
    assert zeep_fault_code(exc.value) == "OMGW-XREF_MISSING"
    assert "STATUS value 'teleported'" in exc.value.message
