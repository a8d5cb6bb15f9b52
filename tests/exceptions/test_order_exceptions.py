"""The order exceptions that fill a support queue, each driven end to end as real parties
drive it and repaired as docs/runbooks/order-exceptions.md says.

Each test runs a gateway of its own on 127.0.0.1, the simulated warehouse WMS01 (which
acknowledges, ships and bills what it is sent) and the real outbox worker; where the
warehouse answers by hand, the test calls ``OrderFulfillmentResponseService`` with zeep
as the warehouse's own user. Each ends in a state the runbook names, shown by the
commands the runbook gives, then runs the runbook's repair commands (``omgw`` through
click's runner, on the gateway's database) and checks that the repair took.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select
from zeep.exceptions import Fault

from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    OrderHeader,
    StatusHistory,
)
from simulators.harness import MAX_SECONDS
from tests.common.flow import Flow, flow, run_until
from tests.common.orders import order, response, shipped
from tests.common.runbook import runbook_line as rb
from tests.common.soap import client, zeep_fault_code, zeep_fault_details
from tests.common.state import snapshot, unchanged

OFRS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# -- the parties ------------------------------------------------------------------------


def warehouse(f: Flow) -> Any:
    """WMS01's own client of the gateway's callback service (user bound to WMS01)."""
    return client(f.gw.base, "OrderFulfillmentResponseService", user="warehouse")


def details(f: Flow, number: str) -> Any:
    """The order as the source system asks for it (GetOrderDetails)."""
    info = client(f.gw.base, "OrderInformationService", user="inquirer")
    return info.service.GetOrderDetails(Order=[{"OrderNumber": number}])[0]


def answer(f: Flow, rid: str, lines: list[dict[str, Any]]) -> Any:
    return warehouse(f).service.processFulfillmentResponse(**response(rid, lines))


def refused(f: Flow, rid: str, lines: list[dict[str, Any]]) -> Fault:
    """A response the gateway refuses as a whole, having changed nothing."""
    before = snapshot(f.gw.runtime)
    with pytest.raises(Fault) as raised:
        answer(f, rid, lines)
    unchanged(f.gw.runtime, before)
    return raised.value


# -- what the operator reads and runs: the runbook's own command lines -----------------------


def by_id(f: Flow, number: str) -> dict[int, FulfillLine]:
    return {fl.id: fl for fl in f.flines(number)}


def shipped_count(f: Flow, fline_id: int) -> int:
    """How often the line became SHIPPED."""
    with f.gw.runtime.read_sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(StatusHistory)
                .where(
                    StatusHistory.entity == "FULFILL_LINE",
                    StatusHistory.entity_id == fline_id,
                    StatusHistory.new_status == "SHIPPED",
                )
            )
        )


def requests_of(f: Flow, number: str) -> list[tuple[str, str]]:
    """(task type, status) of each fulfillment request of the order."""
    with f.gw.runtime.read_sessions() as s:
        return [
            (r.task_type, r.status)
            for r in s.scalars(
                select(FulfillmentRequest)
                .join(OrderHeader, OrderHeader.id == FulfillmentRequest.header_id)
                .where(OrderHeader.order_number == number)
                .order_by(FulfillmentRequest.id)
            )
        ]


def status(f: Flow, **env: str) -> tuple[dict[str, Any], str]:
    """``omgw status`` as JSON (its findings by key) and as text."""
    admin = f.admin(**env)
    as_json = json.loads(admin(*rb("omgw status --json")).stdout)
    return as_json, admin(*rb("omgw status")).stdout


def finding_keys(as_json: dict[str, Any]) -> dict[str, str]:
    return {x["key"]: x["runbook"] for x in as_json["needs_a_person"]}


def listed(f: Flow, command: str, **values: str) -> list[str]:
    """The order numbers an ``omgw orders list …`` line of the runbook prints."""
    rows = f.admin().json(*rb(command, **values))
    assert isinstance(rows, list)
    return [str(r["order_number"]) for r in rows]


def shown(f: Flow, number: str) -> dict[str, Any]:
    got = f.admin().json(*rb("omgw orders show <order number>", order_number=number))
    assert isinstance(got, dict)
    return got


# -- 1. split shipments --------------------------------------------------------------------


def test_a_line_shipped_in_two_parts_splits_and_the_order_closes_after_billing(
    fresh_database_url, home, unique
):
    # WMS01 ships half of each line it is sent: 2 of 5
    with flow(fresh_database_url, home, partial_rate=1.0) as f:
        number = f.submit(f"SPLIT{unique}", [("AS54888", 5)])
        first = f.flines(number)[0].id
        run_until(f, lambda: len(f.flines(number)) == 2 and f.flines(number)[0].status == "CLOSED")
        lines = by_id(f, number)
        (rest,) = set(lines) - {first}
        assert (lines[first].quantity, lines[first].shipped_quantity) == (2, 2)
        assert (lines[rest].quantity, lines[rest].status) == (3, "AWAIT_SHIP")
        assert lines[rest].split_from_id == first
        # what the runbook shows: the order line partly shipped, its rest awaiting shipment
        assert [ln.LineStatusCode for ln in details(f, number).OrderLine] == [
            "PARTIALLY_SHIPPED",
            "PARTIALLY_SHIPPED",
        ]
        assert listed(f, "omgw orders list --line-status AWAIT_SHIP") == [number]
        (line,) = shown(f, number)["lines"]
        assert line["status"] == "PARTIALLY_SHIPPED"
        assert [(x["id"], x["status"], x["split_from"]) for x in line["fulfill_lines"]] == [
            (first, "CLOSED", None),
            (rest, "AWAIT_SHIP", first),
        ]

        # the warehouse ships the other 3 in a second response; billing closes the order
        result = answer(f, f"WMS01-{unique}-rest", [shipped(rest, 3)])
        assert result.OverallStatusCode == "SUCCESS"
        run_until(f, lambda: f.status(number) == "CLOSED")

        got = details(f, number)
        assert got.StatusCode == "CLOSED"
        flines = {ln.FulfillLineIdentifier: ln for ln in got.OrderLine}
        assert set(flines) == {first, rest}
        assert flines[first].SplitFromFlineIdentifier is None
        assert flines[rest].SplitFromFlineIdentifier == first
        assert {i: ln.ShippedQuantity._value_1 for i, ln in flines.items()} == {
            first: Decimal(2),
            rest: Decimal(3),
        }
        assert {ln.FulfillLineNumber for ln in got.OrderLine} == {1, 2}
        assert {ln.StatusCode for ln in got.OrderLine} == {"CLOSED"}
        # one shipment request for the line, one bill per shipment
        assert requests_of(f, number) == [
            ("Shipment", "ACCEPTED"),
            ("Invoice", "ACCEPTED"),
            ("Invoice", "ACCEPTED"),
        ]
        assert listed(f, "omgw orders list --line-status AWAIT_SHIP") == []


# -- 2. partial backorder --------------------------------------------------------------------


def test_a_partial_backorder_shows_in_status_and_the_orders_list_and_clears_when_shipped(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home, partial_rate=1.0) as f:
        number = f.submit(f"BO{unique}", [("AS54888", 5)])
        first = f.flines(number)[0].id
        run_until(f, lambda: len(f.flines(number)) == 2 and f.flines(number)[0].status == "CLOSED")
        (rest,) = set(by_id(f, number)) - {first}
        # 2 of 5 shipped; the warehouse then says the other 3 are backordered
        result = answer(f, f"WMS01-{unique}-bo", [shipped(rest, status="BACKORDERED")])
        assert result.OverallStatusCode == "SUCCESS"
        assert by_id(f, number)[rest].status == "BACKORDERED"

        # how it shows: the orders list, the status screen's lines, and (past
        # OMGW_NO_RESPONSE_SECONDS) the no-response warning for the request
        assert listed(f, "omgw orders list --line-status BACKORDERED") == [number]
        as_json, text = status(f, OMGW_NO_RESPONSE_SECONDS="0")
        assert as_json["lines_by_status"]["BACKORDERED"] == 1
        assert ", 1 BACKORDERED" in text
        assert finding_keys(as_json)["no-response:SIM_ASYNC_SERVICE"] == (
            "docs/runbooks/no-response.md"
        )
        (line,) = shown(f, number)["lines"]
        assert line["status"] == "PARTIALLY_SHIPPED"
        assert {x["status"] for x in line["fulfill_lines"]} == {"CLOSED", "BACKORDERED"}

        # the stock arrives: the warehouse ships the 3, billing closes the order
        answer(f, f"WMS01-{unique}-later", [shipped(rest, 3)])
        run_until(f, lambda: f.status(number) == "CLOSED")
        assert listed(f, "omgw orders list --line-status BACKORDERED") == []
        as_json, text = status(f, OMGW_NO_RESPONSE_SECONDS="0")
        assert "BACKORDERED" not in as_json["lines_by_status"]
        assert ", 0 BACKORDERED" in text
        assert not any(k.startswith("no-response:") for k in finding_keys(as_json))
        assert shipped_count(f, rest) == 1


# -- 3. out of stock after release -----------------------------------------------------------


def test_a_line_backordered_after_the_warehouse_accepted_it_can_still_ship_later(
    fresh_database_url, home, unique
):
    # WMS01 acknowledges the request (SUCCESS), then reports every line BACKORDERED
    with flow(fresh_database_url, home, backorder_rate=1.0) as f:
        number = f.submit(f"OOS{unique}", [("AS54888", 5)])
        (fline,) = (fl.id for fl in f.flines(number))
        run_until(f, lambda: f.flines(number)[0].status == "BACKORDERED")
        assert requests_of(f, number) == [("Shipment", "ACCEPTED")]
        (sent,) = f.sim.state()["requests"]
        assert [c["operation"] for c in sent["callbacks"]] == [
            "processAcknowledgement",
            "processFulfillmentResponse",
        ]
        assert [ln["status"] for ln in sent["lines"]] == ["BACKORDERED"]

        assert listed(f, "omgw orders list --line-status BACKORDERED") == [number]
        as_json, text = status(f, OMGW_NO_RESPONSE_SECONDS="0")
        assert ", 1 BACKORDERED" in text
        assert finding_keys(as_json)["no-response:SIM_ASYNC_SERVICE"] == (
            "docs/runbooks/no-response.md"
        )
        got = details(f, number)
        assert [(ln.StatusCode, ln.LineStatusCode) for ln in got.OrderLine] == [
            ("BACKORDERED", "BACKORDERED")
        ]

        # the line ships later, whole, and the order closes after billing
        answer(f, f"WMS01-{unique}-later", [shipped(fline, 5)])
        run_until(f, lambda: f.status(number) == "CLOSED")
        assert [fl.shipped_quantity for fl in f.flines(number)] == [5]
        assert listed(f, "omgw orders list --line-status BACKORDERED") == []
        as_json, text = status(f, OMGW_NO_RESPONSE_SECONDS="0")
        assert ", 0 BACKORDERED" in text
        assert not any(k.startswith("no-response:") for k in finding_keys(as_json))


# -- 4. a substituted item in a shipment -----------------------------------------------------


def test_a_substituted_item_is_refused_until_the_admin_maps_it_then_it_ships(
    fresh_database_url, home, unique
):
    # WMS01 takes the request and answers by hand (its own callbacks wait an hour)
    with flow(fresh_database_url, home, delay=MAX_SECONDS) as f:
        number = f.submit(f"SUB{unique}", [("AS54888", 5)])
        (fline,) = (fl.id for fl in f.flines(number))
        run_until(f, f.settled)
        warehouse(f).service.processAcknowledgement(
            fulfillmentRequestAcknowledgement={
                "FulfillmentSystem": "WMS01",
                "FulfillmentRequestIdentifier": f.flines(number)[0].request_id,
                "RequestStatusCode": "SUCCESS",
            }
        )
        substitute = {**shipped(fline, 5), "ProductNumber": "AS54999"}

        # refused whole: the order untouched, the fault says what and what to do
        fault = refused(f, f"WMS01-{unique}-sub", [substitute])
        assert zeep_fault_code(fault) == "OMGW-ITEM_MISMATCH"
        assert zeep_fault_details(fault) == ["OMGW-ITEM_MISMATCH"]
        assert "ordered as item 'AS54888'; the response names 'AS54999'" in fault.message
        assert "'omgw xref add WMS01 ITEM AS54999 AS54888'" in fault.message
        assert "'omgw source-system update WMS01 --cross-reference'" in fault.message
        assert by_id(f, number)[fline].status == "AWAIT_SHIP"
        # how it shows: the inbound log's refusals (a refused response names no order)
        admin = f.admin()
        (logged,) = admin.json(*rb("omgw messages list --inbound --fault-code ITEM_MISMATCH"))
        assert (logged["operation"], logged["user"]) == ("processFulfillmentResponse", "warehouse")
        assert logged["fault_code"] == "ITEM_MISMATCH"
        said = admin.json(*rb("omgw messages show --inbound <id>", id=str(logged["id"])))
        assert isinstance(said, dict)
        assert "ResponseIdentifier=WMS01-" in said["correlation_key"]
        named = etree.fromstring(said["payload"].encode()).findtext(f".//{{{OFRS}}}ProductNumber")
        assert named == "AS54999"

        # the repair when the substitution is acceptable: the runbook's two commands
        system = {"fulfillment_system": "WMS01"}
        admin.ok(
            *rb(
                "omgw xref add <fulfillment system> ITEM <shipped item> <ordered item>",
                shipped_item="AS54999",
                ordered_item="AS54888",
                **system,
            )
        )
        admin.ok(*rb("omgw source-system update <fulfillment system> --cross-reference", **system))
        assert admin.json(*rb("omgw xref list --system <fulfillment system>", **system)) == [
            {"system": "WMS01", "domain": "ITEM", "external": "AS54999", "internal": "AS54888"}
        ]

        # the warehouse sends the same response again: the line ships, the substitute's
        # number kept on the fulfillment line
        result = answer(f, f"WMS01-{unique}-sub", [substitute])
        assert result.OverallStatusCode == "SUCCESS"
        (line,) = shown(f, number)["lines"]
        assert line["item"] == "AS54888"
        (kept,) = line["fulfill_lines"]
        assert kept["attributes"]["ProductNumber"] == "AS54999"
        assert (kept["status"], kept["shipped_quantity"]) == ("AWAIT_BILLING", "5")
        f.sim.control(delay=0.02)  # the warehouse bills as it always does
        run_until(f, lambda: f.status(number) == "CLOSED")
        assert details(f, number).OrderLine[0].ProductNumber == "AS54888"

        # another substitute, not in the map, is still refused
        other = f.submit(f"SUB2{unique}", [("AS54888", 1)])
        (other_line,) = (fl.id for fl in f.flines(other))
        fault = refused(
            f, f"WMS01-{unique}-sub2", [{**shipped(other_line, 1), "ProductNumber": "CM5008"}]
        )
        assert zeep_fault_code(fault) == "OMGW-ITEM_MISMATCH"


# -- 5. a release sent twice ----------------------------------------------------------------


# dedupe rests on the database (unique keys, row locks on PostgreSQL): both run on both
@pytest.mark.both_databases
def test_an_order_sent_twice_is_one_order_and_a_request_delivered_twice_ships_once(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home) as f:
        imports = client(f.gw.base, "OrderImportService", user="importer")
        sent = order(f"TWICE{unique}", [("AS54888", 5)])
        (first,) = imports.service.createOrders(request={"Order": [sent]})
        (again,) = imports.service.createOrders(request={"Order": [sent]})
        assert (first.ReturnStatus, first.MessageName) == ("SUCCESS", None)
        assert (again.ReturnStatus, again.MessageName) == ("SUCCESS", "OMGW-ORDER_EXISTS")
        number = str(first.OrderNumber)
        assert (str(again.OrderNumber), again.HeaderId) == (number, first.HeaderId)
        assert listed(
            f,
            "omgw orders list --source-number <source order number>",
            source_order_number=f"SO-TWICE{unique}",
        ) == [number]
        assert requests_of(f, number) == [("Shipment", "SENT")]
        assert [m.task_type for m in f.outbox()] == ["Shipment"]

        run_until(f, lambda: f.status(number) == "CLOSED")
        (fline,) = (fl.id for fl in f.flines(number))
        shipment = next(m for m in f.outbox() if m.task_type == "Shipment")

        # the shipment request delivered again (as after a lost acknowledgement of
        # delivery): refused without --force, then sent with it
        admin = f.admin()
        messages = admin.json(*rb("omgw messages list --order <order number>", order_number=number))
        assert [(m["id"], m["status"]) for m in messages if m["task_type"] == "Shipment"] == [
            (shipment.id, "DELIVERED")
        ]
        message = {"id": str(shipment.id)}
        unforced = admin(*rb("omgw messages replay --id <id> --dry-run", **message))
        assert unforced.exit_code == 1
        assert "refused without --force" in unforced.output
        forced = admin.json(*rb("omgw messages replay --id <id> --force", **message))
        assert isinstance(forced, dict)
        assert forced["messages"][0]["reason"].startswith("forced: it was DELIVERED")
        run_until(f, f.settled)

        # the warehouse saw one request twice (the same MessageID) and answered as before
        state = f.sim.state()
        assert state["counters"]["duplicates"] == 1
        (request,) = (r for r in state["requests"] if r["task_type"] == "Shipment")
        assert (request["message_id"], request["times_received"]) == (shipment.message_id, 2)
        # nothing shipped twice: one SHIPPED, one bill, the order as it was
        assert f.status(number) == "CLOSED"
        assert shipped_count(f, fline) == 1
        assert requests_of(f, number) == [("Shipment", "ACCEPTED"), ("Invoice", "ACCEPTED")]
        assert [fl.shipped_quantity for fl in f.flines(number)] == [5]


# -- 6. responses for lines never sent, unknown lines, and responses sent twice --------------


def test_a_response_for_an_unknown_line_or_a_line_never_sent_is_refused_and_repaired(
    fresh_database_url, home, unique
):
    with flow(fresh_database_url, home) as f:
        admin = f.admin()
        # a line never sent: its connector is off when the order comes in
        admin.ok("connector", "update", f.connector, "--disabled")
        number = f.submit(f"NEVER{unique}", [("AS54888", 5)])
        (fline,) = f.flines(number)
        assert (fline.status, fline.request_id) == ("ROUTING_ERROR", None)

        fault = refused(f, f"WMS01-{unique}-early", [shipped(fline.id, 5)])
        assert zeep_fault_code(fault) == "OMGW-RESPONSE_BEFORE_REQUEST"
        assert f"fulfillment line {fline.id} is ROUTING_ERROR" in fault.message
        # an unknown line
        fault = refused(f, f"WMS01-{unique}-unknown", [shipped(987654321, 5)])
        assert zeep_fault_code(fault) == "OMGW-LINE_NOT_FOUND"
        assert "fulfillment line 987654321 does not exist" in fault.message

        # how it shows: the refusals in the inbound log, the line in ROUTING_ERROR
        refusals = admin.json(*rb("omgw messages list --inbound --faults"))
        assert [r["fault_code"] for r in refusals] == ["LINE_NOT_FOUND", "RESPONSE_BEFORE_REQUEST"]
        assert listed(f, "omgw orders list --line-status ROUTING_ERROR") == [number]
        as_json, text = status(f)
        assert finding_keys(as_json)["routing-error"] == "docs/runbooks/stuck-before-routing.md"
        assert "lines:            1 in ROUTING_ERROR" in text

        # the repair: the connector back on, the order's lines routed again
        admin.ok(*rb("omgw connector update <connector> --enabled", connector=f.connector))
        admin.ok(*rb("omgw rule reroute <order number>", order_number=number))
        assert f.flines(number)[0].status == "AWAIT_SHIP"
        # sent to WMS01 now: another warehouse may not answer for it
        other = response(f"WMSANY-{unique}", [shipped(fline.id, 5)], system="WMSANY")
        before = snapshot(f.gw.runtime)
        with pytest.raises(Fault) as raised:
            warehouse(f).service.processFulfillmentResponse(**other)
        assert zeep_fault_code(raised.value) == "OMGW-LINE_NOT_ASSIGNED"
        assert "was sent to WMS01, not WMSANY" in raised.value.message
        unchanged(f.gw.runtime, before)
        run_until(f, lambda: f.status(number) == "CLOSED")
        assert "routing-error" not in finding_keys(status(f)[0])
        # a late copy of the early response is refused again: the line has closed
        fault = refused(f, f"WMS01-{unique}-early", [shipped(fline.id, 5)])
        assert zeep_fault_code(fault) == "OMGW-RESPONSE_AFTER_CLOSE"
        assert shipped_count(f, fline.id) == 1


@pytest.mark.both_databases
def test_a_response_sent_twice_is_applied_once(fresh_database_url, home, unique):
    # WMS01 sends every acknowledgement and response twice
    with flow(fresh_database_url, home, duplicate_callbacks=True) as f:
        number = f.submit(f"DUP{unique}", [("AS54888", 5), ("CM5008", 2)])
        run_until(f, lambda: f.status(number) == "CLOSED")
        run_until(f, lambda: all(r["callback_status"] == "sent" for r in f.sim.state()["requests"]))
        calls = f.admin().json(
            *rb("omgw messages list --inbound --operation processFulfillmentResponse")
        )
        assert [c["outcome"] for c in calls] == ["OK"] * 4  # shipment and bill, each twice
        with f.gw.runtime.read_sessions() as s:
            recorded = s.scalar(select(func.count()).select_from(FulfillmentResponseRecord))
        assert recorded == 2  # applied once each
        for fl in f.flines(number):
            assert (fl.status, fl.shipped_quantity, shipped_count(f, fl.id)) == (
                "CLOSED",
                fl.quantity,
                1,
            )
        assert requests_of(f, number) == [("Shipment", "ACCEPTED"), ("Invoice", "ACCEPTED")]

        # a copy sent by hand, long after, changes nothing and answers as the first did
        rid = f.sim.state()["requests"][0]["response_identifier"]
        before = snapshot(f.gw.runtime)
        again = answer(f, rid, [shipped(fl.id) for fl in f.flines(number)])
        assert again.OverallStatusCode == "SUCCESS"
        assert {ln.TaskInstanceStatusCode for ln in again.ResponseProcessingFulfillLine} == {
            "AWAIT_BILLING"
        }
        unchanged(f.gw.runtime, before, logged="OK")
