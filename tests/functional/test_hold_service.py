"""``OrderHoldService`` (applyHold, releaseHold) through a real server on 127.0.0.1, zeep
clients and a raw envelope: what a hold and its release do to fulfillment, the HOLD events
they queue, repeats, every refusal's code, and the message log.

The module runs its own gateway: shipments go to WMS01's connector and a HOLD trigger point
sends each hold change to an event connector, so the requests and events queued can be
counted (nothing delivers them here) without touching the gateway other modules share.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from zeep.exceptions import Fault

from connectors.connector_specs import ConnectorSpec
from connectors.trigger_points import TriggerPointSpec
from gateway.persistence.models import FulfillLine, Hold, MessageLog, OrderHeader, OutboxMessage
from gateway.registry.store import Registry
from gateway.registry.trigger_store import TriggerStore
from tests.common.orders import fline_ids, order, response, shipped
from tests.common.published import check_answer
from tests.common.soap import basic, client, fault_code, post, zeep_fault_code
from tests.conftest import Gateway, make_settings, serving

SERVICE = "OrderHoldService"
TYPES = "http://xmlns.oracle.com/apps/scm/fom/omgw/orderHoldService/types/"
DATA = "http://xmlns.oracle.com/apps/scm/fom/omgw/orderHoldService/"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    home = tmp_path_factory.mktemp("holds")
    settings = make_settings(
        home, f"sqlite:///{home / 'omgw.db'}", default_fulfillment_system="WMS01"
    )
    with serving(settings) as running:
        with running.runtime.sessions() as s, s.begin():
            Registry(s, "tests").put_connector(
                ConnectorSpec(
                    "CRM_Events", "WMSANY", "http://127.0.0.1:9/events",
                    invocation_mode="BUSINESS_EVENT",
                )
            )  # fmt: skip
            TriggerStore(s, "tests").put_trigger_point(
                TriggerPointSpec.from_mapping({"event": "HOLD", "connectors": ["CRM_Events"]})
            )
        yield running


@pytest.fixture(scope="module")
def holds(gw: Gateway) -> Any:
    """A zeep client of OrderHoldService as "holder" (role ORDER_HOLD, bound to LEGACY)."""
    return client(gw.base, SERVICE, user="holder").service


@pytest.fixture(scope="module")
def imports(gw: Gateway) -> Any:
    return client(gw.base, "OrderImportService").service


@pytest.fixture(scope="module")
def ofrs(gw: Gateway) -> Any:
    return client(gw.base, "OrderFulfillmentResponseService").service


def _create(imports: Any, key: str, lines: int = 1, **extra: Any) -> Any:
    body = order(key, [("AS54888", 2)] * lines)
    body.update(extra)
    (created,) = imports.createOrders(request={"Order": [body]})
    return created


def _hold(key: str, code: str = "QA", line: str | None = None, **extra: Any) -> dict[str, Any]:
    request = {"SourceTransactionSystem": "LEGACY", "SourceTransactionIdentifier": key,
               "SourceTransactionLineIdentifier": line, "HoldCode": code, **extra}  # fmt: skip
    return {"request": request}


def _release(key: str, code: str = "QA", line: str | None = None, **extra: Any) -> dict[str, Any]:
    extra.setdefault("HoldReleaseReasonCode", "QA_PASSED")
    return _hold(key, code, line, **extra)


def _events(gw: Gateway, number: str) -> list[str | None]:
    with gw.runtime.read_sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage.event_code)
                .where(OutboxMessage.kind == "BUSINESS_EVENT", OutboxMessage.order_number == number)
                .order_by(OutboxMessage.id)
            )
        )


def _requests(gw: Gateway, number: str) -> int:
    with gw.runtime.read_sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.kind == "FULFILLMENT_REQUEST",
                    OutboxMessage.order_number == number,
                )
            )
            or 0
        )


def _holds(gw: Gateway, number: str) -> list[tuple[str, bool, str, str | None]]:
    """Each hold on the order: code, active, who applied and who released it."""
    with gw.runtime.read_sessions() as s:
        rows = s.scalars(
            select(Hold)
            .join(OrderHeader, OrderHeader.id == Hold.header_id)
            .where(OrderHeader.order_number == number)
            .order_by(Hold.id)
        )
        return [(h.hold_code, h.released_at is None, h.applied_by, h.released_by) for h in rows]


def _statuses(gw: Gateway, number: str) -> list[str]:
    with gw.runtime.read_sessions() as s:
        return list(
            s.scalars(
                select(FulfillLine.status)
                .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
                .where(OrderHeader.order_number == number)
                .order_by(FulfillLine.id)
            )
        )


def _fault(call: Any, *args: Any, **kwargs: Any) -> Fault:
    with pytest.raises(Fault) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_line_held_over_soap_refuses_its_shipment_until_released(
    gw, holds, imports, ofrs, unique
):
    created = _create(imports, unique, lines=2)
    number = created.OrderNumber
    f1, f2 = fline_ids(created)
    assert _statuses(gw, number) == ["AWAIT_SHIP", "AWAIT_SHIP"]
    assert _requests(gw, number) == 1

    held = holds.applyHold(**_hold(unique, line="L1", HoldComments="inspect first"))
    assert (held.StatusCode, held.OrderNumber, held.LineNumber) == ("APPLIED", number, 1)
    assert (held.SourceTransactionLineIdentifier, held.HoldCode) == ("L1", "QA")
    assert held.HoldComments == "inspect first"
    assert held.HoldAppliedDate is not None and held.HoldReleasedDate is None
    assert _events(gw, number) == ["HOLD"]

    # the held line's shipment is refused; the other line is not held
    refused = _fault(ofrs.processFulfillmentResponse, **response(f"R1-{unique}", [shipped(f1)]))
    assert zeep_fault_code(refused) == "OMGW-LINE_ON_HOLD"
    ok = ofrs.processFulfillmentResponse(**response(f"R2-{unique}", [shipped(f2)]))
    assert ok.OverallStatusCode == "SUCCESS"
    assert _statuses(gw, number) == ["AWAIT_SHIP", "AWAIT_BILLING"]

    released = holds.releaseHold(**_release(unique, line="L1", HoldReleaseComments="passed"))
    assert (released.StatusCode, released.LineNumber) == ("RELEASED", 1)
    assert released.HoldReleasedDate is not None
    assert released.HoldReleaseComments == "QA_PASSED: passed"
    assert released.RequestedFulfillLineIdentifier == []  # it was requested before the hold
    assert _events(gw, number) == ["HOLD", "HOLD"]

    # sent again after the release, the shipment applies
    ok = ofrs.processFulfillmentResponse(**response(f"R3-{unique}", [shipped(f1)]))
    assert ok.OverallStatusCode == "SUCCESS"
    assert _statuses(gw, number) == ["AWAIT_BILLING", "AWAIT_BILLING"]
    # recorded as omgw hold records it: who applied it and who released it
    assert _holds(gw, number) == [("QA", False, "holder", "holder")]


def test_releasing_an_intake_hold_over_soap_sends_the_request_it_kept_back(
    gw, holds, imports, unique
):
    created = _create(imports, unique, lines=2, Hold=[{"HoldCode": "CREDIT"}])
    number = created.OrderNumber
    assert _statuses(gw, number) == ["SCHEDULED", "SCHEDULED"]
    assert _requests(gw, number) == 0

    released = holds.releaseHold(**_release(unique, "CREDIT", HoldReleaseReasonCode="PAID"))
    assert released.StatusCode == "RELEASED"
    assert released.SourceTransactionLineIdentifier is None and released.LineNumber is None
    assert sorted(released.RequestedFulfillLineIdentifier) == sorted(fline_ids(created))
    assert "2 fulfillment line(s) requested now" in released.Message
    assert _statuses(gw, number) == ["AWAIT_SHIP", "AWAIT_SHIP"]
    assert _requests(gw, number) == 1  # one request for the order's shipment
    assert _events(gw, number) == ["HOLD", "HOLD"]


def test_an_order_hold_over_soap_holds_every_line_of_the_order(gw, holds, imports, ofrs, unique):
    created = _create(imports, unique)
    number = created.OrderNumber
    (fline,) = fline_ids(created)
    held = holds.applyHold(**_hold(unique, "CREDIT"))
    assert held.StatusCode == "APPLIED" and held.LineNumber is None
    refused = _fault(ofrs.processFulfillmentResponse, **response(f"R-{unique}", [shipped(fline)]))
    assert zeep_fault_code(refused) == "OMGW-LINE_ON_HOLD"
    assert _statuses(gw, number) == ["AWAIT_SHIP"]


def test_a_repeated_request_is_answered_as_done_and_changes_nothing(gw, holds, imports, unique):
    number = _create(imports, unique).OrderNumber

    first = holds.applyHold(**_hold(unique, line="L1", HoldComments="first"))
    again = holds.applyHold(**_hold(unique, line="L1", HoldComments="second"))
    assert (first.StatusCode, again.StatusCode) == ("APPLIED", "ALREADY_APPLIED")
    assert again.HoldAppliedDate == first.HoldAppliedDate
    assert again.HoldComments == "first"
    assert "already on" in again.Message

    first = holds.releaseHold(**_release(unique, line="L1"))
    again = holds.releaseHold(**_release(unique, line="L1"))
    assert (first.StatusCode, again.StatusCode) == ("RELEASED", "ALREADY_RELEASED")
    assert again.HoldReleasedDate == first.HoldReleasedDate
    # one hold, applied once and released once: two events, not four
    assert _holds(gw, number) == [("QA", False, "holder", "holder")]
    assert _events(gw, number) == ["HOLD", "HOLD"]

    # applied again after its release, it is a new hold
    assert holds.applyHold(**_hold(unique, line="L1")).StatusCode == "APPLIED"
    assert [h[1] for h in _holds(gw, number)] == [False, True]


def _closed(imports: Any, ofrs: Any, key: str) -> None:
    (fline,) = fline_ids(_create(imports, key))
    ofrs.processFulfillmentResponse(**response(f"S-{key}", [shipped(fline)]))
    billed = ofrs.processFulfillmentResponse(
        **response(f"B-{key}", [shipped(fline)], task="Invoice")
    )
    assert billed.ResponseProcessingFulfillLine[0].TaskInstanceStatusCode == "CLOSED"


def test_each_mistake_is_a_client_fault_with_its_code_and_nothing_changes(
    gw, holds, imports, ofrs, unique
):
    number = _create(imports, unique).OrderNumber
    closed = f"{unique}C"
    _closed(imports, ofrs, closed)
    cases = [
        (holds.applyHold, _hold("NO-SUCH-ORDER"), "ORDER_NOT_FOUND", "NO-SUCH-ORDER"),
        (holds.applyHold, _hold(unique, line="L9"), "LINE_NOT_FOUND", "its lines: L1"),
        (holds.applyHold, _hold(unique, "bad code!"), "INVALID_VALUE", "must be 1 to 30"),
        (holds.applyHold, _hold(unique, None), "MISSING_KEY", "HoldCode is required"),
        (holds.applyHold, {"request": {"SourceTransactionSystem": "LEGACY", "HoldCode": "QA"}},
         "MISSING_KEY", "SourceTransactionIdentifier is required"),
        (holds.applyHold, _hold(closed), "ORDER_CLOSED", "is CLOSED"),
        (holds.releaseHold, _release(unique, "NEVER"), "HOLD_NOT_FOUND", "hold NEVER is not on"),
        (holds.releaseHold, _release(unique, HoldReleaseReasonCode=None), "MISSING_KEY",
         "HoldReleaseReasonCode is required"),
        (holds.releaseHold, _release(unique, HoldReleaseReasonCode="no reason!"),
         "INVALID_VALUE", "release reason"),
    ]  # fmt: skip
    for call, kwargs, code, words in cases:
        fault = _fault(call, **kwargs)
        assert (zeep_fault_code(fault), fault.code) == (f"OMGW-{code}", "env:Client"), kwargs
        assert words in fault.message, (code, fault.message)
    assert _holds(gw, number) == []
    assert _events(gw, number) == []


def test_a_caller_not_bound_to_the_source_system_or_without_the_role_is_refused(
    gw, imports, unique
):
    number = _create(imports, unique).OrderNumber
    other = client(gw.base, SERVICE, user="holder_wms").service
    fault = _fault(other.applyHold, **_hold(unique))
    assert (zeep_fault_code(fault), fault.code) == ("OMGW-AUTH_FORBIDDEN", "env:Client")
    assert "may not hold orders of source system LEGACY" in fault.message
    fault = _fault(other.releaseHold, **_release(unique))
    assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"
    # a user without the ORDER_HOLD role, though bound to LEGACY
    importer = client(gw.base, SERVICE, user="importer").service
    assert zeep_fault_code(_fault(importer.applyHold, **_hold(unique))) == "OMGW-AUTH_FORBIDDEN"
    assert _holds(gw, number) == []


def _envelope(operation: str, fields: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:typ="{TYPES}" xmlns:hold="{DATA}">
  <soapenv:Body>
    <typ:{operation}><typ:request>{fields}</typ:request></typ:{operation}>
  </soapenv:Body>
</soapenv:Envelope>""".encode()


def _logged(gw: Gateway, after: int) -> list[MessageLog]:
    with gw.runtime.read_sessions() as s:
        return list(
            s.scalars(
                select(MessageLog)
                .where(MessageLog.service == SERVICE, MessageLog.id > after)
                .order_by(MessageLog.id)
            )
        )


def test_a_raw_envelope_is_answered_in_the_published_schema_and_every_call_is_logged(
    gw, imports, unique
):
    number = _create(imports, unique).OrderNumber
    with gw.runtime.read_sessions() as s:
        first = s.scalar(select(func.coalesce(func.max(MessageLog.id), 0))) or 0
    url = gw.url(SERVICE)
    keys = (
        f"<hold:SourceTransactionSystem>LEGACY</hold:SourceTransactionSystem>"
        f"<hold:SourceTransactionIdentifier>{unique}</hold:SourceTransactionIdentifier>"
        "<hold:SourceTransactionLineIdentifier>L1</hold:SourceTransactionLineIdentifier>"
    )
    # elements in another order than the schema's, as real clients send them
    body = _envelope("applyHold", "<hold:HoldCode>QA</hold:HoldCode>" + keys)
    answer = post(url, body, basic("holder"))
    assert answer.status == 200, answer.body
    result = check_answer(SERVICE, answer.body)
    assert result.findtext(f"{{{TYPES}}}result/{{{DATA}}}StatusCode") == "APPLIED"
    assert result.findtext(f"{{{TYPES}}}result/{{{DATA}}}OrderNumber") == number

    never = (
        "<hold:HoldCode>NEVER</hold:HoldCode>"
        "<hold:HoldReleaseReasonCode>DONE</hold:HoldReleaseReasonCode>"
    )
    refused = post(url, _envelope("releaseHold", keys + never), basic("holder"))
    assert refused.status == 500
    check_answer(SERVICE, refused.body)
    assert fault_code(refused.body) == "OMGW-HOLD_NOT_FOUND"
    assert b"<faultcode>Client</faultcode>" in refused.body.replace(b"env:", b"")

    applied, failed = _logged(gw, first)
    assert (applied.operation, applied.principal, applied.outcome) == ("applyHold", "holder", "OK")
    assert applied.order_number == number
    assert applied.correlation_key == (
        f"SourceTransactionSystem=LEGACY SourceTransactionIdentifier={unique} "
        "SourceTransactionLineIdentifier=L1"
    )
    assert applied.payload is not None and "<hold:HoldCode>QA</hold:HoldCode>" in applied.payload
    assert (failed.operation, failed.outcome, failed.fault_code) == (
        "releaseHold",
        "FAULT",
        "HOLD_NOT_FOUND",
    )
    assert failed.http_status == 500


def test_a_hold_lands_on_the_current_revision_of_the_order(gw, holds, imports, unique):
    first = _create(imports, unique)
    (second,) = imports.createOrders(request={"Order": [order(unique, revision="2")]})
    # a revision changes the order in place: revision 1 is kept as a reference copy
    assert second.OrderNumber == first.OrderNumber and second.HeaderId == first.HeaderId
    held = holds.applyHold(**_hold(unique, line="L1"))
    assert (held.StatusCode, str(held.HeaderId)) == ("APPLIED", second.HeaderId)
    with gw.runtime.read_sessions() as s:
        (hold,) = s.scalars(select(Hold).where(Hold.header_id == int(second.HeaderId))).all()
        reference = s.scalar(
            select(OrderHeader.id).where(
                OrderHeader.source_order_id == unique, OrderHeader.status == "DOO_REFERENCE"
            )
        )
        assert reference is not None
        assert s.scalars(select(Hold).where(Hold.header_id == reference)).all() == []
    assert hold.hold_code == "QA" and hold.released_at is None
