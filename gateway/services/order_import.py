"""``OrderImportService``: ``createOrders`` and ``stageOrders`` (contract §11).

What an order carries beyond omgw's own columns is kept as sent (``services.attributes``)
and comes back in GetOrderDetails. The answers are Oracle's: one ``OrderImportResponse``
per order for ``createOrders``, a ``StageOrdersResponse`` ("Request Result") for
``stageOrders``.
"""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, rpc
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from gateway import namespaces as ns
from gateway.contract.model import load
from gateway.errors import GatewayError, ValidationError, wire_code
from gateway.orders.intake import DEFAULT_REVISION, ImportOutcome, OrderIntake
from gateway.orders.limits import check_length
from gateway.orders.message_values import HoldInput, LineInput, OrderInput
from gateway.persistence.models import OrderHeader, StagedOrder
from gateway.runtime import Runtime
from gateway.services.attributes import kept
from gateway.services.convert import as_utc, make, present, required, text
from gateway.services.edge import authorise, request_info, transaction
from gateway.services.types import types_of

__all__ = ["HEADER_COLUMNS", "LINE_COLUMNS", "OrderImportService", "to_order_input"]

SERVICE_NAME = "OrderImportService"
TYPES_NS = ns.ORDER_IMPORT_TYPES

_MODEL = load(SERVICE_NAME)
_T = types_of(SERVICE_NAME)
_KIND = "source system"

#: the attributes of an order and of its lines that omgw acts on (its columns); every
#: other attribute is kept as sent
HEADER_COLUMNS = frozenset({
    "SourceTransactionIdentifier", "SourceTransactionSystem", "SourceTransactionNumber",
    "SourceTransactionRevisionNumber", "SourceTransactionRevision", "BuyingPartyName",
    "BuyingPartyNumber", "TransactionTypeCode", "TransactionalCurrencyCode", "TransactionOn",
    "RequestingBusinessUnitName", "CustomerPONumber", "RequestedShipDate", "Hold", "Line",
})  # fmt: skip
LINE_COLUMNS = frozenset({
    "SourceTransactionLineIdentifier", "SourceTransactionLineNumber", "ProductNumber",
    "ProductDescription", "OrderedQuantity", "OrderedUOMCode", "RequestedShipDate",
    "RequestedFulfillmentOrganizationCode", "ShipSetName", "Hold",
})  # fmt: skip

#: FlowType of OrderImportResponse: a new order, or a change (a new revision) of one
FLOW_CREATE, FLOW_CHANGE = "CREATE", "CHANGE"


def _one_of(a: str | None, b: str | None, names: str, where: str) -> str | None:
    """The value given by either of two names for the same attribute; both, if they
    differ, is a client error (which one was meant?)."""
    if a is not None and b is not None and a != b:
        raise ValidationError("INVALID_VALUE", f"{names} differ on {where}: {a!r} and {b!r}")
    return a if a is not None else b


def _line(ln: Any) -> LineInput:
    quantity = ln.OrderedQuantity
    return LineInput(
        source_line_id=text(ln.SourceTransactionLineIdentifier),
        source_line_number=text(ln.SourceTransactionLineNumber),
        product_number=text(ln.ProductNumber),
        quantity=quantity.value if quantity is not None else None,
        # the unit: OrderedUOMCode (the source system's value maps apply to it), else
        # the quantity's own unitCode
        uom_code=text(ln.OrderedUOMCode)
        or (text(quantity.unitCode) if quantity is not None else None),
        product_description=text(ln.ProductDescription),
        ship_set_name=text(ln.ShipSetName),
        requested_fulfillment_org=text(ln.RequestedFulfillmentOrganizationCode),
        requested_ship_date=as_utc(ln.RequestedShipDate),
        holds=_holds(ln.Hold),
        attributes=kept(_MODEL, _MODEL["OrderLine"], ln, LINE_COLUMNS),
    )


def to_order_input(order: Any) -> OrderInput:
    key = text(order.SourceTransactionIdentifier)
    _check_supported(order, key)
    return OrderInput(
        source_system=text(order.SourceTransactionSystem),
        source_order_id=key,
        source_order_number=text(order.SourceTransactionNumber),
        revision=_one_of(
            text(order.SourceTransactionRevisionNumber),
            text(order.SourceTransactionRevision),
            "SourceTransactionRevisionNumber and SourceTransactionRevision",
            f"order {key}",
        ),
        lines=tuple(_line(ln) for ln in present(order.Line, "Line")),
        buying_party_name=text(order.BuyingPartyName),
        buying_party_number=text(order.BuyingPartyNumber),
        transaction_type_code=text(order.TransactionTypeCode),
        currency_code=text(order.TransactionalCurrencyCode),
        customer_po_number=text(order.CustomerPONumber),
        business_unit_name=text(order.RequestingBusinessUnitName),
        transaction_on=as_utc(order.TransactionOn),
        requested_ship_date=as_utc(order.RequestedShipDate),
        holds=_holds(order.Hold),
        attributes=kept(_MODEL, _MODEL["Order"], order, HEADER_COLUMNS),
    )


def _check_supported(order: Any, key: str | None) -> None:
    """Refuse, with a clear fault, what Oracle would do and omgw does not do yet, rather
    than import such an order as an ordinary one."""
    prefs = order.OrderPreferences
    if prefs is not None and prefs.SubmitFlag is False:
        raise ValidationError(
            "DRAFT_NOT_SUPPORTED",
            f"order {key} has OrderPreferences/SubmitFlag false (a draft order); omgw "
            "imports orders submitted: send SubmitFlag true or leave it out",
        )


def _batch(request: Any) -> Any:
    """The request, its BatchName checked: it is kept with each order it brings."""
    batch = required(request, "request")
    check_length(batch.BatchName, "BatchName", OrderHeader.batch_name, "the request")
    return batch


def _holds(holds: Any) -> tuple[HoldInput, ...]:
    return tuple(HoldInput(text(h.HoldCode), text(h.HoldComments)) for h in present(holds, "Hold"))


def _flow(session: Session, outcome: ImportOutcome) -> str:
    if outcome.status == "REVISED":
        return FLOW_CHANGE
    if outcome.status == "CREATED":
        return FLOW_CREATE
    earlier = session.scalar(
        select(exists().where(OrderHeader.superseded_by_id == outcome.header.id))
    )
    return FLOW_CHANGE if earlier else FLOW_CREATE


def _result(session: Session, outcome: ImportOutcome, order: OrderInput) -> Any:
    """Oracle's ``OrderImportResponse`` for one imported order."""
    h = outcome.header
    system = outcome.system
    sent = {li.source_line_id: li.attributes for li in order.lines}
    repeat = outcome.status == "EXISTING"
    return make(
        _T["OrderImportResponse"],
        ChangeVersionNumber=h.revision,
        FlowType=_flow(session, outcome),
        HeaderId=str(h.id),
        MessageName=wire_code("ORDER_EXISTS") if repeat else None,
        MessageText=(
            f"revision {h.revision} of order {h.source_order_id} was imported before as "
            f"order {h.order_number}; nothing was changed"
        )
        if repeat
        else None,
        OrderNumber=h.order_number,
        OrderStatus=h.status,
        ReturnStatus="SUCCESS",
        SourceTransactionIdentifier=h.source_order_id,
        SourceTransactionNumber=h.source_order_number,
        SourceTransactionSystem=system,
        OrderImportResponseLine=[
            make(
                _T["OrderImportResponseLine"],
                FulfillLineId=str(ln.fulfill_lines[0].id) if ln.fulfill_lines else None,
                FulfillLineNumber=(
                    str(ln.fulfill_lines[0].fulfill_line_number) if ln.fulfill_lines else None
                ),
                LineId=str(ln.id),
                LineNumber=str(ln.line_number),
                SourceTransactionIdentifier=h.source_order_id,
                SourceTransactionLineIdentifier=ln.source_line_id,
                SourceTransactionLineNumber=ln.source_line_number,
                SourceTransactionScheduleIdentifier=sent.get(ln.source_line_id, {}).get(
                    "SourceTransactionScheduleIdentifier"
                ),
                SourceTransactionScheduleNumber=sent.get(ln.source_line_id, {}).get(
                    "SourceTransactionScheduleNumber"
                ),
                SourceTransactionSystem=system,
            )
            for ln in h.lines
        ],
    )


class OrderImportService(ServiceBase):
    """Order intake from order-capture systems and legacy middleware."""

    @rpc(
        _T["OrderImportRequest"].customize(min_occurs=1),
        _returns=_T["OrderImportResponse"].customize(max_occurs="unbounded"),
        _out_variable_name="result",
    )
    def createOrders(ctx, request):
        """Create every order of the batch in one transaction, or none of them."""
        info = request_info(ctx)

        def work(session: Session, runtime: Runtime) -> list[Any]:
            batch = _batch(request)
            orders = [to_order_input(o) for o in present(batch.Order, "Order")]
            # the whole batch is refused when one order is for a system not the caller's
            authorise(ctx, (o.source_system for o in orders), "import orders for", _KIND)
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
            return [_result(session, oc, o) for oc, o in zip(outcomes, orders, strict=True)]

        return transaction(ctx, work)

    @rpc(
        _T["OrderImportRequest"].customize(min_occurs=1),
        _returns=_T["StageOrdersResponse"],
        _out_variable_name="result",
    )
    def stageOrders(ctx, request):
        """Stage each valid order for the background import; report the invalid ones."""

        def work(session: Session, _runtime: Runtime) -> Any:
            batch = _batch(request)
            raws = present(batch.Order, "Order")
            # a bad order is reported and the others staged, but an order for a system not
            # the caller's refuses the whole batch: nothing is staged
            authorise(
                ctx, (text(r.SourceTransactionSystem) for r in raws), "import orders for", _KIND
            )
            failed: list[Any] = []
            staged = 0
            intake = OrderIntake(session)
            for raw in raws:
                try:
                    o = to_order_input(raw)
                    intake.check_staged(intake.checked(o))  # staged as sent: the value
                    # maps apply at import
                except GatewayError as err:
                    failed.append(
                        make(
                            _T["FailedOrders"],
                            MessageText=f"{wire_code(err.code)}: {err.message}",
                            SourceTransactionIdentifier=text(raw.SourceTransactionIdentifier),
                            SourceTransactionSystem=text(raw.SourceTransactionSystem),
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
            return make(
                _T["StageOrdersResponse"],
                BatchName=batch.BatchName,
                NumberOfFailedOrders=len(failed),
                NumberOfOrdersStaged=staged,
                FailedOrders=failed,
            )

        return transaction(ctx, work)
