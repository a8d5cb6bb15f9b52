"""Order intake: validate, deduplicate and persist orders (``createOrders``, staged import).

Idempotent on (source system, source order id, revision): the same key returns the
order already created. A higher revision changes the current order in place
(:mod:`gateway.orders.revision`), a copy of what it was staying as ``DOO_REFERENCE``; a
lower or equal one that does not exist is refused as stale.

A new order is checked here, its header inserted, the rest planned with no database
access (:mod:`gateway.orders.order_plan`) and written set-based
(:mod:`gateway.orders.order_store`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, StateError, ValidationError
from gateway.lifecycle import TERMINAL
from gateway.orders.inquiry import OrderQuery, find_orders
from gateway.orders.limits import MAX_REVISION, check_length, check_quantity
from gateway.orders.message_values import OrderInput
from gateway.orders.orchestration import Orchestrator
from gateway.orders.order_plan import header_values, plan_order
from gateway.orders.order_store import PlacedOrder, insert_header, write_order
from gateway.orders.returns import resolve_returns
from gateway.orders.revision import Reviser
from gateway.orders.status_writer import StatusWriter
from gateway.orders.xref import map_order
from gateway.persistence.models import (
    FulfillLine,
    OrderHeader,
    OrderLine,
    SourceSystem,
    utcnow,
)
from gateway.registry.registry_snapshot import System

__all__ = ["ImportOutcome", "OrderIntake", "revision_seq", "validate_order"]

DEFAULT_REVISION = "1"


@dataclass(frozen=True)
class ImportOutcome:
    #: the order as stored (EXISTING) or as just written
    header: OrderHeader | PlacedOrder
    #: CREATED (new order), REVISED (new revision of an order), EXISTING (duplicate)
    status: str
    #: the code of the source system that sent it
    system: str


def revision_seq(revision: str) -> int:
    """Revisions are compared as whole numbers (Oracle's revisions are 1, 2, 3 …)."""
    try:
        value = int(revision)
    except ValueError:
        raise ValidationError(
            "INVALID_VALUE",
            f"SourceTransactionRevision {revision!r} is not a whole number",
        ) from None
    if not 0 <= value <= MAX_REVISION:
        raise ValidationError(
            "INVALID_VALUE", f"SourceTransactionRevision must be between 0 and {MAX_REVISION}"
        )
    return value


# (attribute, wire name, column) of the text fields an order carries.
_HEADER_TEXT = (
    ("source_system", "SourceTransactionSystem", SourceSystem.code),
    ("source_order_id", "SourceTransactionIdentifier", OrderHeader.source_order_id),
    ("source_order_number", "SourceTransactionNumber", OrderHeader.source_order_number),
    ("revision", "SourceTransactionRevision", OrderHeader.revision),
    ("buying_party_name", "BuyingPartyName", OrderHeader.buying_party_name),
    ("buying_party_number", "BuyingPartyNumber", OrderHeader.buying_party_number),
    ("transaction_type_code", "TransactionTypeCode", OrderHeader.transaction_type_code),
    ("currency_code", "TransactionalCurrencyCode", OrderHeader.currency_code),
    ("customer_po_number", "CustomerPONumber", OrderHeader.customer_po_number),
    ("business_unit_name", "RequestingBusinessUnitName", OrderHeader.business_unit_name),
)
_LINE_TEXT = (
    ("source_line_id", "SourceTransactionLineIdentifier", OrderLine.source_line_id),
    ("source_line_number", "SourceTransactionLineNumber", OrderLine.source_line_number),
    ("product_number", "ProductNumber", OrderLine.product_number),
    ("product_description", "ProductDescription", OrderLine.product_description),
    ("uom_code", "OrderedUOMCode", OrderLine.uom_code),
    ("ship_set_name", "ShipSetName", OrderLine.ship_set_name),
    (
        "requested_fulfillment_org",
        "RequestedFulfillmentOrganizationCode",
        OrderLine.requested_fulfillment_org,
    ),
)


def _require(value: str | None, name: str, where: str) -> str:
    if value is None or not str(value).strip():
        raise ValidationError("MISSING_KEY", f"{name} is required on {where}")
    return str(value).strip()


def validate_order(order: OrderInput) -> None:
    """Check everything that needs no database; raise the first problem found."""
    where = "the order"
    _require(order.source_system, "SourceTransactionSystem", where)
    key = _require(order.source_order_id, "SourceTransactionIdentifier", where)
    where = f"order {key}"
    _require(order.source_order_number, "SourceTransactionNumber", where)
    for attr, name, column in _HEADER_TEXT:
        check_length(getattr(order, attr), name, column, where)
    revision_seq(order.revision or DEFAULT_REVISION)
    if not order.lines:
        raise ValidationError("MISSING_KEY", f"{where} has no Line; at least one is required")
    seen: set[str] = set()
    for index, line in enumerate(order.lines, start=1):
        lwhere = f"line {index} of {where}"
        line_id = _require(line.source_line_id, "SourceTransactionLineIdentifier", lwhere)
        if line_id in seen:
            raise ValidationError(
                "DUPLICATE_LINE", f"{where} has SourceTransactionLineIdentifier {line_id} twice"
            )
        seen.add(line_id)
        _require(line.product_number, "ProductNumber", lwhere)
        for attr, name, column in _LINE_TEXT:
            check_length(getattr(line, attr), name, column, lwhere)
        if line.quantity is None:
            raise ValidationError("MISSING_KEY", f"OrderedQuantity is required on {lwhere}")
        if line.quantity != 0:  # 0 cancels a line in a revision (refused on a new one)
            check_quantity(line.quantity, f"OrderedQuantity on {lwhere}")


def _refuse_zero_on_new(order: OrderInput) -> None:
    for index, line in enumerate(order.lines, start=1):
        if line.quantity == 0:
            raise ValidationError(
                "QUANTITY_INVALID",
                f"OrderedQuantity on line {index} of order {order.source_order_id} must be "
                "greater than zero (0 cancels a line only in a revision of an existing order)",
            )


# Built once: a statement built per call costs more CPU than SQLite spends running it.
_SAME_REVISION = select(OrderHeader).where(
    OrderHeader.source_system_id == bindparam("system"),
    OrderHeader.source_order_id == bindparam("source_id"),
    OrderHeader.revision == bindparam("revision"),
)
_CURRENT_REVISION = (
    select(OrderHeader)
    .where(
        OrderHeader.source_system_id == bindparam("system"),
        OrderHeader.source_order_id == bindparam("source_id"),
        OrderHeader.status != "DOO_REFERENCE",
    )
    .order_by(OrderHeader.revision_seq.desc())
    .limit(1)
    .with_for_update(of=OrderHeader)  # a shipment response for it waits, and vice versa
)


class OrderIntake:
    """Creates orders inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        default_fulfillment_system: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        self._s = session
        self._status = StatusWriter(session)
        self._flow = Orchestrator(session, default_fulfillment_system, reply_to)
        self._default_fs = default_fulfillment_system
        self._reply_to = reply_to

    def reroute(
        self, order_number: str
    ) -> tuple[OrderHeader, list[FulfillLine], list[FulfillLine]]:
        """Route the ``ROUTING_ERROR`` lines of an order again with the newest version
        (after a fix and a publish); returns the order, the lines tried, those still
        unrouted."""
        (header,) = find_orders(self._s, OrderQuery(order_number=order_number))
        # as intake does: the order's lock, then the lines re-read under it, so two
        # re-routes (or a re-route and a revision) never both act on one line
        self._serialize(header.source_system_id, header.source_order_id)
        self._s.refresh(header, with_for_update=True)
        if header.status == "DOO_REFERENCE":
            raise StateError("ORDER_SUPERSEDED", f"order {order_number} was just revised; retry")
        locked = self._s.scalars(
            select(FulfillLine)
            .where(FulfillLine.header_id == header.id, FulfillLine.status == "ROUTING_ERROR")
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        wanted = {f.id for f in locked}
        pairs = [
            (line, fline)
            for line in header.lines
            for fline in line.fulfill_lines
            if fline.id in wanted
        ]
        if pairs and self._flow.registry.routing is None:
            raise StateError(
                "ILLEGAL_TRANSITION", "no routing version is published; publish one first"
            )
        unrouted = self._flow.request(header, pairs, "Shipment") if pairs else []
        if pairs:
            self._status.rollup(header, "re-routed")
        return header, [f for _, f in pairs], unrouted

    def source_system(self, code: str) -> System:
        ss = self._flow.registry.systems.get(code)
        if ss is None:
            raise NotFoundError(
                "SOURCE_SYSTEM_UNKNOWN",
                f"source system {code!r} is not registered; add it with "
                f"'omgw source-system add {code} --order-capture'",
            )
        return ss

    def checked(self, order: OrderInput) -> OrderInput:
        """``order`` in our terms (its system's value maps applied), fully validated.

        Mapping comes first: an external value may not fit our field until it is mapped.
        """
        code = _require(order.source_system, "SourceTransactionSystem", "the order")
        ss = self._flow.registry.systems.get(code)
        if ss is not None and ss.cross_reference:
            order = map_order(order, ss.maps, ss.code)
        validate_order(order)
        return order

    def create(self, order: OrderInput, batch_name: str | None = None) -> ImportOutcome:
        order = self.checked(order)
        ss = self.source_system(str(order.source_system).strip())
        if not ss.order_capture:
            raise ValidationError(
                "SOURCE_SYSTEM_NOT_ENABLED",
                f"source system {ss.code} is not enabled for order capture",
            )
        revision = (order.revision or DEFAULT_REVISION).strip()
        seq = revision_seq(revision)
        source_id = str(order.source_order_id).strip()
        self._serialize(ss.id, source_id)
        key = {"system": ss.id, "source_id": source_id}
        same = self._s.scalar(_SAME_REVISION, {**key, "revision": revision})
        if same is not None:
            return ImportOutcome(same, "EXISTING", ss.code)

        current = self._s.scalar(_CURRENT_REVISION, key)
        if current is not None:
            self._check_revisable(current, seq)
            values = header_values(order, ss, revision, seq, batch_name, current.order_number)
            changed = {k: v for k, v in values.items() if k not in ("status", "order_number")}
            returns = resolve_returns(self._s, order, ss, revising=current.id)
            reviser = Reviser(self._s, self._flow, self._reply_to)
            return ImportOutcome(
                reviser.revise(current, order, changed, returns), "REVISED", ss.code
            )

        _refuse_zero_on_new(order)
        returns = resolve_returns(self._s, order, ss)
        values = header_values(order, ss, revision, seq, batch_name, None)
        plan = plan_order(
            order,
            insert_header(self._s, values),
            registry=self._flow.registry,
            default_fs=self._default_fs,
            now=utcnow(),
            returns=returns,
        )
        header = write_order(
            self._s, plan, self._flow.registry, self._reply_to, f"import:{ss.code}"
        )
        return ImportOutcome(header, "CREATED", ss.code)

    def check_staged(self, order: OrderInput) -> None:
        """What staging can check beyond :meth:`checked`: a zero quantity, which only a
        revision of an order omgw has may send (it cancels the line)."""
        if not any(line.quantity == 0 for line in order.lines):
            return
        ss = self._flow.registry.systems.get(str(order.source_system).strip())
        if ss is None:
            return  # refused at import, where an unknown system is reported
        known = self._s.scalar(
            select(OrderHeader.id)
            .where(
                OrderHeader.source_system_id == ss.id,
                OrderHeader.source_order_id == str(order.source_order_id).strip(),
            )
            .limit(1)
        )
        if known is None:
            _refuse_zero_on_new(order)

    def _serialize(self, source_system_id: int, source_order_id: str) -> None:
        """One intake at a time per source order (PostgreSQL; SQLite writers are serial).

        Two revisions of one order arriving together must not both become current; a
        transaction-scoped advisory lock on the order's key orders them.
        """
        if self._s.get_bind().dialect.name != "postgresql":
            return
        key = f"omgw-order:{source_system_id}:{source_order_id}"
        self._s.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))

    def _check_revisable(self, current: OrderHeader, seq: int) -> None:
        if seq <= current.revision_seq:
            raise StateError(
                "REVISION_STALE",
                f"order {current.source_order_id} is at revision {current.revision}; "
                f"revision {seq} is older and was never received",
            )
        if current.status in TERMINAL:
            raise StateError(
                "REVISION_NOT_ALLOWED",
                f"order {current.order_number} is {current.status} and cannot be revised",
            )
