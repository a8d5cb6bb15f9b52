"""``OrderInformationService.GetOrderDetails`` (contract §3).

An ``Order`` answers with every attribute Oracle documents that omgw holds (the others
``xsi:nil``), and every attribute the order was imported with under the name it was
sent with; one ``OrderLine`` per fulfillment line likewise, with what fulfillment
systems reported of it as ``LineDetail`` (shipping and billing) and ``LineLotSerial``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from spyne import ServiceBase, rpc
from sqlalchemy.orm import Session

from gateway import namespaces as ns
from gateway.contract.model import load
from gateway.orders.inquiry import OrderQuery, count_answer_lines, find_orders
from gateway.orders.limits import SizeLimits, check_answer_lines
from gateway.persistence.kept_attributes import from_column
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from gateway.runtime import Runtime
from gateway.security.systems import SystemGrant
from gateway.services.attributes import restored
from gateway.services.convert import as_utc, make, measure, present, text
from gateway.services.edge import authorise, request_info, transaction
from gateway.services.types import types_of

__all__ = ["OrderInformationService"]

SERVICE_NAME = "OrderInformationService"
TYPES_NS = ns.OIS_TYPES

_T = types_of(SERVICE_NAME)
#: an import attribute OrderInformationService documents under another name
_HEADER_NAMES = {"AdditionalHeaderInformationCategories": "AdditionalOrderInformationCategories"}
_LINE_NAMES = {
    "AdditionalFulfillmentLineInformationCategories": "AdditionalOrderLineInformationCategories"
}
#: a fulfillment response's FulfillmentDetail attribute LineDetail calls otherwise
_DETAIL_NAMES = {"TaskTypeCode": "TaskType", "StatusCode": "Status"}
#: what IncludeHeaderAndLineAttributesOnly leaves out: the child entities of an order
#: (but its lines) and of a line; and what ExcludeAttachments leaves out
_MODEL = load(SERVICE_NAME)
_ORDER_CHILDREN = tuple(
    f.name for f in _MODEL["Order"].fields if not f.scalar and f.name != "OrderLine"
)
_LINE_CHILDREN = tuple(f.name for f in _MODEL["Line"].fields if not f.scalar)
_ATTACHMENTS = ("Attachment", "LineAttachment")


def _yes(value: str | None) -> bool:
    return (value or "").strip().upper() in ("Y", "YES", "TRUE", "1")


class _Shape:
    """What one OrderRequest asks to be left out of its answer."""

    def __init__(self, req: Any) -> None:
        self.header_and_lines_only = _yes(req.IncludeHeaderAndLineAttributesOnly)
        self.no_attachments = _yes(req.ExcludeAttachments)

    def trim(self, values: dict[str, Any], children: tuple[str, ...]) -> dict[str, Any]:
        drop = set(children) if self.header_and_lines_only else set()
        if self.no_attachments:
            drop.update(_ATTACHMENTS)
        for name in drop:
            values.pop(name, None)
        return values


def _query(req: Any, grant: SystemGrant) -> OrderQuery:
    return OrderQuery(
        systems=None if grant.all_systems else grant.systems,
        source_order_id=text(req.SourceTransactionIdentifier),
        source_system=text(req.SourceTransactionSystem),
        source_order_number=text(req.SourceTransactionNumber),
        revision=text(req.SourceTransactionRevision),
        order_number=text(req.OrderNumber),
        line_ids=tuple(
            t
            for t in (
                text(ln.SourceTransactionLineIdentifier)
                for ln in present(req.OrderLine, "OrderLine")
            )
            if t
        ),
    )


def _renamed(data: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names.get(k, k): v for k, v in data.items()}


def _details(fline: FulfillLine, sent: Mapping[str, Any]) -> list[Any]:
    out = []
    for detail in sent.get("FulfillmentDetail", ()):
        values = _renamed(detail, _DETAIL_NAMES)
        if "RMAReceiptDate" in values:  # a timestamp in responses, a date here
            values["RMAReceiptDate"] = values["RMAReceiptDate"][:10]
        values["FulfillLineIdentifier"] = fline.id
        out.append(make(_T["LineDetail"], **restored(SERVICE_NAME, "LineDetail", values)))
    if not out and (fline.tracking_number or fline.billing_number):
        out.append(
            make(
                _T["LineDetail"],
                FulfillLineIdentifier=fline.id,
                TrackingNumber=fline.tracking_number,
                BillingTransactionNumber=fline.billing_number,
            )
        )
    return out


def _lot_serials(line: OrderLine, fline: FulfillLine, sent: Mapping[str, Any]) -> list[Any]:
    return [
        make(
            _T["LotSerial"],
            **restored(
                SERVICE_NAME,
                "LotSerial",
                {**lot, "FulfillLineIdentifier": fline.id, "LineIdentifier": line.id},
            ),
        )
        for lot in sent.get("LotSerial", ())
    ]


def _shipped_date(when: datetime | None) -> Any:
    return when.date() if when is not None else None


def _line(line: OrderLine, fline: FulfillLine, imported: dict[str, Any], shape: _Shape) -> Any:
    responded = from_column(fline.attributes_json)
    values = restored(SERVICE_NAME, "Line", imported) if imported else {}
    shipped = as_utc(fline.actual_ship_date)
    values.update(
        LineIdentifier=line.id,
        LineNumber=line.line_number,
        SourceTransactionLineIdentifier=line.source_line_id,
        SourceTransactionLineNumber=line.source_line_number,
        FulfillLineIdentifier=fline.id,
        FulfillLineNumber=fline.fulfill_line_number,
        ProductNumber=line.product_number,
        ProductDescription=line.product_description,
        OrderedQuantity=measure(fline.quantity, line.uom_code),
        OrderedUOMCode=line.uom_code,
        ShippedQuantity=measure(fline.shipped_quantity, line.uom_code),
        StatusCode=fline.status,
        LineStatusCode=line.status,
        TaskType=fline.task_type,
        FulfillmentRequestIdentifier=fline.request_id,
        RequestedFulfillmentOrganizationCode=line.requested_fulfillment_org,
        ShipSetName=line.ship_set_name,
        RequestedShipDate=as_utc(line.requested_ship_date),
        ScheduledShipDate=as_utc(fline.scheduled_ship_date),
        ActualShipDate=_shipped_date(shipped),
        ActualShipDateTime=shipped,
        SplitFromFlineIdentifier=fline.split_from_id,
        LineDetail=_details(fline, responded),
        LineLotSerial=_lot_serials(line, fline, responded),
        TransactionCategoryCode=line.category,
    )
    if fline.change_error:  # why the line's last change was refused by its system
        values["Comments"] = fline.change_error
    return make(_T["Line"], **shape.trim(values, _LINE_CHILDREN))


def _order(header: OrderHeader, line_ids: tuple[str, ...], shape: _Shape) -> Any:
    imported = _renamed(from_column(header.attributes_json), _HEADER_NAMES)
    values = restored(SERVICE_NAME, "Order", imported) if imported else {}
    lines: list[Any] = []
    for line in header.lines:
        if line_ids and line.source_line_id not in line_ids:
            continue
        sent = _renamed(from_column(line.attributes_json), _LINE_NAMES)
        lines.extend(_line(line, f, sent, shape) for f in line.fulfill_lines)
    values.update(
        HeaderId=header.id,
        OrderNumber=header.order_number,
        SourceTransactionIdentifier=header.source_order_id,
        SourceTransactionSystem=header.source_system.code,
        SourceTransactionNumber=header.source_order_number,
        SourceTransactionRevision=header.revision,
        SourceTransactionRevisionNumber=header.revision,
        StatusCode=header.status,
        TransactionTypeCode=header.transaction_type_code,
        TransactionalCurrencyCode=header.currency_code,
        TransactionOn=as_utc(header.transaction_on),
        BuyingPartyName=header.buying_party_name,
        BuyingPartyNumber=header.buying_party_number,
        CustomerPONumber=header.customer_po_number,
        RequestingBusinessUnitName=header.business_unit_name,
        RequestedShipDate=as_utc(header.requested_ship_date),
        OrderLine=lines,
    )
    return make(_T["Order"], **shape.trim(values, _ORDER_CHILDREN))


class OrderInformationService(ServiceBase):
    """Read-only order inquiry."""

    @rpc(
        _T["OrderRequest"].customize(min_occurs=1, max_occurs="unbounded"),
        _in_variable_names={"orders": "Order"},
        _returns=_T["Order"].customize(max_occurs="unbounded"),
        _out_variable_name="Order",
    )
    def GetOrderDetails(ctx, orders):
        info = request_info(ctx)

        def work(session: Session, _runtime: Runtime) -> list[Any]:
            requests = present(orders, "Order")
            queries = [_query(r, info.grant) for r in requests]
            # a query naming a system not the caller's is refused; the caller's other
            # queries see only its systems' orders (another's is as one that does not exist)
            authorise(ctx, (q.source_system for q in queries), "read orders of", "source system")
            if queries:
                info.correlation["Order"] = queries[0].describe()
            target = text(requests[0].TargetSystem) if requests else None
            if target:
                info.correlation["TargetSystem"] = target
            # Counted by the database before anything is loaded: an answer's lines are
            # what its memory and time grow with.
            limits = SizeLimits(lines_per_request=_runtime.settings.max_lines_per_request)
            check_answer_lines(sum(count_answer_lines(session, q) for q in queries), limits)
            found = [
                (req, q, header)
                for req, q in zip(requests, queries, strict=True)
                for header in find_orders(session, q)
            ]
            out: list[Any] = []
            for req, q, header in found:
                info.order_numbers.append(header.order_number)
                out.append(_order(header, q.line_ids, _Shape(req)))
            return out

        return transaction(ctx, work, readonly=True)
