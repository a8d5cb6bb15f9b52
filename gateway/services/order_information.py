"""``OrderInformationService.GetOrderDetails`` (contract §3)."""

from __future__ import annotations

from spyne import ServiceBase, rpc
from sqlalchemy.orm import Session

from gateway import namespaces as ns
from gateway.orders.inquiry import OrderQuery, find_orders
from gateway.persistence.models import OrderHeader
from gateway.runtime import Runtime
from gateway.services.convert import as_utc, measure, present, text
from gateway.services.edge import request_info, transaction
from gateway.services.types import OrderInfo, OrderInfoLine, OrderRequest

__all__ = ["OrderInformationService"]

SERVICE_NAME = "OrderInformationService"
TYPES_NS = ns.OIS_TYPES


def _query(req: OrderRequest) -> OrderQuery:
    return OrderQuery(
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


def _order(header: OrderHeader, line_ids: tuple[str, ...]) -> OrderInfo:
    lines = []
    for line in header.lines:
        if line_ids and line.source_line_id not in line_ids:
            continue
        for f in line.fulfill_lines:
            lines.append(
                OrderInfoLine(
                    LineIdentifier=line.id,
                    LineNumber=line.line_number,
                    SourceTransactionLineIdentifier=line.source_line_id,
                    SourceTransactionLineNumber=line.source_line_number,
                    FulfillLineIdentifier=f.id,
                    FulfillLineNumber=f.fulfill_line_number,
                    ProductNumber=line.product_number,
                    ProductDescription=line.product_description,
                    OrderedQuantity=measure(f.quantity, line.uom_code),
                    OrderedUOMCode=line.uom_code,
                    ShippedQuantity=measure(f.shipped_quantity, line.uom_code),
                    StatusCode=f.status,
                    LineStatusCode=line.status,
                    TaskType=f.task_type,
                    FulfillmentRequestIdentifier=f.request_id,
                    RequestedFulfillmentOrganizationCode=line.requested_fulfillment_org,
                    ShipSetName=line.ship_set_name,
                    RequestedShipDate=as_utc(line.requested_ship_date),
                    ScheduledShipDate=as_utc(f.scheduled_ship_date),
                    ActualShipDate=as_utc(f.actual_ship_date),
                    SplitFromFlineIdentifier=f.split_from_id,
                    TrackingNumber=f.tracking_number,
                    BillingTransactionNumber=f.billing_number,
                )
            )
    return OrderInfo(
        HeaderId=header.id,
        OrderNumber=header.order_number,
        SourceTransactionIdentifier=header.source_order_id,
        SourceTransactionSystem=header.source_system.code,
        SourceTransactionNumber=header.source_order_number,
        SourceTransactionRevision=header.revision,
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


class OrderInformationService(ServiceBase):
    """Read-only order inquiry."""

    @rpc(
        OrderRequest.customize(min_occurs=1, max_occurs="unbounded"),
        _in_variable_names={"orders": "Order"},
        _returns=OrderInfo.customize(max_occurs="unbounded"),
        _out_variable_name="Order",
    )
    def GetOrderDetails(ctx, orders):
        info = request_info(ctx)

        def work(session: Session, _runtime: Runtime) -> list[OrderInfo]:
            queries = [_query(r) for r in present(orders, "Order")]
            if queries:
                info.correlation["Order"] = queries[0].describe()
            out: list[OrderInfo] = []
            for q in queries:
                for header in find_orders(session, q):
                    info.order_numbers.append(header.order_number)
                    out.append(_order(header, q.line_ids))
            return out

        return transaction(ctx, work, readonly=True)
