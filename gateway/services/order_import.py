"""``OrderImportService``: ``createOrders`` and ``stageOrders`` (contract §11)."""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, rpc
from sqlalchemy.orm import Session

from gateway import namespaces as ns
from gateway.errors import GatewayError
from gateway.orders.commands import HoldInput, LineInput, OrderInput
from gateway.orders.intake import DEFAULT_REVISION, ImportOutcome, OrderIntake
from gateway.persistence.models import StagedOrder
from gateway.runtime import Runtime
from gateway.services.convert import as_utc, present, required, text
from gateway.services.edge import request_info, transaction
from gateway.services.types import (
    CreateOrderResponse,
    ImportedLine,
    ImportedOrder,
    OrderImportRequest,
    StageOrderFailure,
    StageOrderResponse,
)

__all__ = ["OrderImportService", "to_order_input"]

SERVICE_NAME = "OrderImportService"
TYPES_NS = ns.ORDER_IMPORT_TYPES


def to_order_input(order: Any) -> OrderInput:
    lines = tuple(
        LineInput(
            source_line_id=text(ln.SourceTransactionLineIdentifier),
            source_line_number=text(ln.SourceTransactionLineNumber),
            product_number=text(ln.ProductNumber),
            quantity=ln.OrderedQuantity,
            uom_code=text(ln.OrderedUOMCode),
            product_description=text(ln.ProductDescription),
            ship_set_name=text(ln.ShipSetName),
            requested_fulfillment_org=text(ln.RequestedFulfillmentOrganizationCode),
            requested_ship_date=as_utc(ln.RequestedShipDate),
            holds=_holds(ln.Hold),
        )
        for ln in present(order.Line, "Line")
    )
    return OrderInput(
        source_system=text(order.SourceTransactionSystem),
        source_order_id=text(order.SourceTransactionIdentifier),
        source_order_number=text(order.SourceTransactionNumber),
        revision=text(order.SourceTransactionRevision),
        lines=lines,
        buying_party_name=text(order.BuyingPartyName),
        buying_party_number=text(order.BuyingPartyNumber),
        transaction_type_code=text(order.TransactionTypeCode),
        currency_code=text(order.TransactionalCurrencyCode),
        customer_po_number=text(order.CustomerPONumber),
        business_unit_name=text(order.RequestingBusinessUnitName),
        transaction_on=as_utc(order.TransactionOn),
        requested_ship_date=as_utc(order.RequestedShipDate),
        holds=_holds(order.Hold),
    )


def _holds(holds: Any) -> tuple[HoldInput, ...]:
    return tuple(HoldInput(text(h.HoldCode), text(h.HoldComments)) for h in present(holds, "Hold"))


def _imported(outcome: ImportOutcome) -> ImportedOrder:
    h = outcome.header
    return ImportedOrder(
        SourceTransactionIdentifier=h.source_order_id,
        SourceTransactionSystem=h.source_system.code,
        SourceTransactionNumber=h.source_order_number,
        SourceTransactionRevision=h.revision,
        HeaderId=h.id,
        OrderNumber=h.order_number,
        StatusCode=h.status,
        ImportStatus=outcome.status,
        Line=[
            ImportedLine(
                SourceTransactionLineIdentifier=ln.source_line_id,
                LineIdentifier=ln.id,
                LineNumber=ln.line_number,
                FulfillLineIdentifier=ln.fulfill_lines[0].id if ln.fulfill_lines else None,
                StatusCode=ln.status,
            )
            for ln in h.lines
        ],
    )


class OrderImportService(ServiceBase):
    """Order intake from order-capture systems and legacy middleware."""

    @rpc(
        OrderImportRequest.customize(min_occurs=1),
        _returns=CreateOrderResponse,
        _out_variable_name="result",
    )
    def createOrders(ctx, request):
        """Create every order of the batch in one transaction, or none of them."""
        info = request_info(ctx)

        def work(session: Session, runtime: Runtime) -> CreateOrderResponse:
            batch = required(request, "request")
            orders = [to_order_input(o) for o in present(batch.Order, "Order")]
            for o in orders:
                info.correlation.setdefault(
                    "SourceTransaction", f"{o.source_system}/{o.source_order_id}/{o.revision or 1}"
                )
            intake = OrderIntake(
                session, runtime.settings.default_fulfillment_system, runtime.settings.reply_to
            )
            outcomes = [intake.create(o, batch.BatchName) for o in orders]
            session.flush()
            info.order_numbers = [oc.header.order_number for oc in outcomes]
            return CreateOrderResponse(
                BatchName=batch.BatchName, Order=[_imported(oc) for oc in outcomes]
            )

        return transaction(ctx, work)

    @rpc(
        OrderImportRequest.customize(min_occurs=1),
        _returns=StageOrderResponse,
        _out_variable_name="result",
    )
    def stageOrders(ctx, request):
        """Stage each valid order for the background import; report the invalid ones."""

        def work(session: Session, _runtime: Runtime) -> StageOrderResponse:
            batch = required(request, "request")
            orders = [to_order_input(o) for o in present(batch.Order, "Order")]
            failed: list[StageOrderFailure] = []
            staged = 0
            intake = OrderIntake(session)
            for o in orders:
                try:
                    intake.checked(o)
                except GatewayError as err:
                    failed.append(
                        StageOrderFailure(
                            SourceTransactionSystem=o.source_system,
                            SourceTransactionIdentifier=o.source_order_id,
                            SourceTransactionRevision=o.revision,
                            ErrorCode=f"OMGW-{err.code}",
                            ErrorMessage=err.message,
                        )
                    )
                    continue
                session.add(
                    StagedOrder(
                        batch_name=batch.BatchName,
                        source_system=str(o.source_system),
                        source_order_id=str(o.source_order_id),
                        revision=o.revision or DEFAULT_REVISION,
                        payload_json=o.to_json(),
                    )
                )
                staged += 1
            return StageOrderResponse(
                BatchName=batch.BatchName,
                StagedCount=staged,
                FailedCount=len(failed),
                FailedOrder=failed,
            )

        return transaction(ctx, work)
