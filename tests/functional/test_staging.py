"""stageOrders / stageFulfillmentResponse, processed later by the background work."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from gateway.background import import_staged_orders, process_staged_responses, run_loop
from gateway.persistence.models import OrderHeader, StagedOrder
from tests.common.orders import fline_ids, order, response, shipped
from tests.common.soap import client

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases


def test_staged_orders_are_imported_later(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    bad = order(unique + "B", [("X", "0")])
    res = imports.service.stageOrders(
        request={"BatchName": "STAGE-" + unique, "Order": [order(unique + "A"), bad]}
    )
    assert (res.NumberOfOrdersStaged, res.NumberOfFailedOrders) == (1, 1)
    (failed,) = res.FailedOrders
    assert (failed.SourceTransactionIdentifier, failed.SourceTransactionSystem) == (
        unique + "B",
        "LEGACY",
    )
    assert failed.MessageText.startswith("OMGW-QUANTITY_INVALID: ")

    info = client(gateway.base, "OrderInformationService")
    counts = import_staged_orders(gateway.runtime)
    assert counts.done >= 1
    got = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{unique}A"}])
    assert got[0].StatusCode == "OPEN"
    with gateway.runtime.sessions() as s:
        row = s.scalar(select(StagedOrder).where(StagedOrder.source_order_id == unique + "A"))
        assert row.status == "IMPORTED" and row.header_id == got[0].HeaderId


def test_staged_order_that_fails_import_is_kept_with_its_reason(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    imports.service.stageOrders(request={"Order": [order(unique, system="NOPE")]})
    import_staged_orders(gateway.runtime)
    with gateway.runtime.sessions() as s:
        row = s.scalar(select(StagedOrder).where(StagedOrder.source_order_id == unique))
    assert row.status == "ERROR"
    assert row.error_code == "SOURCE_SYSTEM_UNKNOWN"


def test_staged_response_is_applied_by_the_background_loop(gateway, unique):
    imports = client(gateway.base, "OrderImportService")
    ofrs = client(gateway.base, "OrderFulfillmentResponseService")
    info = client(gateway.base, "OrderInformationService")
    created = imports.service.createOrders(request={"Order": [order(unique)]})[0]
    (fline,) = fline_ids(created)

    res = ofrs.service.stageFulfillmentResponse(**response(unique, [shipped(fline, 4)]))
    assert res.OverallStatusCode == "STAGED"
    got = info.service.GetOrderDetails(Order=[{"OrderNumber": created.OrderNumber}])[0]
    assert [ln.StatusCode for ln in got.OrderLine] == ["AWAIT_SHIP"]  # not yet applied

    stop = threading.Event()
    worker = threading.Thread(target=run_loop, args=(gateway.runtime, stop, lambda: 0))
    worker.start()
    try:
        for _ in range(100):
            got = info.service.GetOrderDetails(Order=[{"OrderNumber": created.OrderNumber}])[0]
            if len(got.OrderLine) == 2:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert sorted(ln.StatusCode for ln in got.OrderLine) == ["AWAIT_BILLING", "AWAIT_SHIP"]
    # once applied, the staged id answers like a processed response
    again = ofrs.service.processFulfillmentResponse(**response(unique, [shipped(fline, 4)]))
    assert again.OverallStatusCode == "SUCCESS"
    assert process_staged_responses(gateway.runtime).failed == 0


def test_concurrent_copies_of_one_order_create_one_order(gateway, unique):
    imports = [client(gateway.base, "OrderImportService") for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda c: c.service.createOrders(request={"Order": [order(unique)]})[0],
                imports,
            )
        )
    assert len({r.HeaderId for r in results}) == 1
    # one created it; the other five were told it already existed
    assert sorted(str(r.MessageName) for r in results) == ["None"] + ["OMGW-ORDER_EXISTS"] * 5
    assert {(r.ReturnStatus, r.FlowType) for r in results} == {("SUCCESS", "CREATE")}
    with gateway.runtime.sessions() as s:
        count = s.scalar(
            select(func.count())
            .select_from(OrderHeader)
            .where(OrderHeader.source_order_id == unique)
        )
    assert count == 1
