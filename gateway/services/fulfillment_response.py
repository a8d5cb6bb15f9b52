"""``OrderFulfillmentResponseService`` (contract §2): acknowledgements and responses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spyne import ServiceBase, rpc
from sqlalchemy.orm import Session

from gateway import namespaces as ns
from gateway.contract.model import load
from gateway.errors import wire_code
from gateway.orders.message_values import (
    Acknowledgement,
    FulfillLineResponse,
    FulfillmentResponse,
    LineOutcome,
    ResponseResult,
)
from gateway.orders.responses import ResponseProcessor
from gateway.runtime import Runtime
from gateway.services.attributes import kept
from gateway.services.convert import as_utc, make, present, required, text
from gateway.services.edge import authorise, request_info, transaction
from gateway.services.types import types_of

__all__ = ["LINE_COLUMNS", "OrderFulfillmentResponseService", "to_response"]

SERVICE_NAME = "OrderFulfillmentResponseService"
TYPES_NS = ns.OFRS_TYPES

_MODEL = load(SERVICE_NAME)
_ANSWER, _KIND = "answer for", "fulfillment system"
_T = types_of(SERVICE_NAME)
_FulfillLine = _T["ResponseProcessingFulfillLine"]
_LineError = _T["ResponseProcessingFulfillLineError"]
_Header = _T["ResponseProcessingHeader"]

#: what omgw acts on in a response line; everything else it says is kept with the line
#: (FulfillmentDetail whole: its first tracking and billing numbers are also read)
LINE_COLUMNS = frozenset({"FulfillLineIdentifier", "StatusCode", "ShippedQuantity",
                          "ActualShippedDate"})  # fmt: skip


def _first_detail(line: Any, attr: str) -> str | None:
    for detail in present(line.FulfillmentDetail, "FulfillmentDetail"):
        value = text(getattr(detail, attr))
        if value:
            return value
    return None


def to_response(header: Any, lines: Any) -> FulfillmentResponse:
    header = header or _T["ResponseMessageHeader"]()
    return FulfillmentResponse(
        fulfillment_system=text(header.FulfillmentSystem),
        response_identifier=text(header.FulfillmentSystemResponseIdentifier),
        task_type=text(header.IntegrationContextCode),
        lines=tuple(
            FulfillLineResponse(
                fulfill_line_id=ln.FulfillLineIdentifier,
                status_code=text(ln.StatusCode),
                shipped_quantity=ln.ShippedQuantity.value if ln.ShippedQuantity else None,
                quantity_uom=text(ln.ShippedQuantity.unitCode) if ln.ShippedQuantity else None,
                actual_ship_date=as_utc(ln.ActualShippedDate),
                tracking_number=_first_detail(ln, "TrackingNumber"),
                billing_number=_first_detail(ln, "BillingTransactionNumber"),
                attributes=kept(_MODEL, _MODEL["FulfillLine"], ln, LINE_COLUMNS),
            )
            for ln in present(lines, "fulfillLineList")
        ),
    )


def _line(o: LineOutcome) -> Any:
    return make(
        _FulfillLine,
        FulfillLineIdentifier=o.fulfill_line_id,
        FulfillLineNumber=o.fulfill_line_number,
        FulfillmentSplitReferenceIdentifier=o.split_reference_id,
        LineNumber=o.line_number,
        OrderNumber=o.order_number,
        ResponseProcessingFulfillLineError=[
            make(
                _LineError,
                MessageName=wire_code(e.code),
                MessageText=e.message,
                Severity=e.severity,
            )
            for e in o.errors
        ],
        StatusCode=o.status,
        TaskInstanceStatusCode=o.task_instance_status,
    )


def _header(result: ResponseResult) -> Any:
    return _Header(
        FulfillmentSystemResponseIdentifier=result.response_identifier,
        OverallStatusCode=result.overall_status,
        ResponseProcessingFulfillLine=[_line(o) for o in result.lines],
        ResponseProcessingFulfillLineError=[
            _LineError(MessageName=wire_code(e.code), MessageText=e.message, Severity=e.severity)
            for e in result.errors
        ],
    )


#: processFulfillmentResponse and stageFulfillmentResponse take and give the same messages.
_RESPONSE_IN = (
    _T["ResponseMessageHeader"].customize(min_occurs=1),
    _T["FulfillLine"].customize(max_occurs="unbounded"),
)
_RESPONSE_OUT: dict[str, Any] = {
    "_in_variable_names": {"header": "responseMessageHeader", "lines": "fulfillLineList"},
    "_returns": _Header,
    "_out_variable_name": "result",
}


def _note(ctx: Any, resp: FulfillmentResponse) -> FulfillmentResponse:
    """``resp`` as its caller may send it: for a system it is bound to (else the call
    is refused), answering requests sent to no system only if bound to every system."""
    info = request_info(ctx)
    info.correlation["FulfillmentSystem"] = resp.fulfillment_system or "-"
    info.correlation["ResponseIdentifier"] = resp.response_identifier or "-"
    authorise(ctx, [resp.fulfillment_system], _ANSWER, _KIND)
    return replace(resp, may_answer_unassigned=info.grant.all_systems)


class OrderFulfillmentResponseService(ServiceBase):
    """Answers from fulfillment systems (warehouses, carriers, billing)."""

    @rpc(
        _T["FulfillmentRequestAcknowledgement"].customize(min_occurs=1),
        _in_variable_names={"ack": "fulfillmentRequestAcknowledgement"},
    )
    def processAcknowledgement(ctx, ack):
        """Oracle documents the answer as void: an empty ``…Response`` element."""
        info = request_info(ctx)

        def work(session: Session, _runtime: Runtime) -> None:
            a = required(ack, "fulfillmentRequestAcknowledgement")
            command = Acknowledgement(
                fulfillment_system=text(a.FulfillmentSystem),
                request_id=a.FulfillmentRequestIdentifier,
                status_code=text(a.RequestStatusCode),
                error_name=text(a.ErrorMessageName),
                error_text=text(a.ErrorMessageText),
                may_answer_unassigned=info.grant.all_systems,
            )
            info.correlation["FulfillmentRequestIdentifier"] = str(command.request_id)
            authorise(ctx, [command.fulfillment_system], _ANSWER, _KIND)
            ResponseProcessor(session).acknowledge(command)

        return transaction(ctx, work)

    @rpc(*_RESPONSE_IN, **_RESPONSE_OUT)
    def processFulfillmentResponse(ctx, header, lines):
        def work(session: Session, _runtime: Runtime) -> Any:
            resp = _note(ctx, to_response(header, lines))
            result = ResponseProcessor(session, _runtime.settings.reply_to).process(resp)
            request_info(ctx).order_numbers = sorted(
                {o.order_number for o in result.lines if o.order_number}
            )
            return _header(result)

        return transaction(ctx, work)

    @rpc(*_RESPONSE_IN, **_RESPONSE_OUT)
    def stageFulfillmentResponse(ctx, header, lines):
        def work(session: Session, _runtime: Runtime) -> Any:
            resp = _note(ctx, to_response(header, lines))
            return _header(ResponseProcessor(session).stage(resp))

        return transaction(ctx, work)
