"""Writing outbound messages into the outbox, in the caller's transaction.

A fulfillment request for a connector in a service invocation mode becomes one outbox
row holding the envelope as built (:func:`connectors.outbound.build_envelope`), with a
``MessageID`` of its own. The row commits with the state change that caused it or not
at all, so a crash can lose neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connectors.outbound import (
    OPERATIONS,
    SOAP_ACTIONS,
    RequestDocument,
    RequestLine,
    build_envelope,
)
from gateway.orders.rows import FlineRow, HeaderRow, LineRow
from gateway.persistence.kept_attributes import from_column
from gateway.persistence.models import (
    FulfillLine,
    OrderHeader,
    OrderLine,
    OutboxMessage,
    table_of,
)
from gateway.registry.registry_snapshot import Snapshot

__all__ = ["DEFAULT_OPERATION", "ChangeNote", "OutboxWriter", "request_document"]


class Request(Protocol):
    """A fulfillment request as the ORM holds it or as a response's decision makes it."""

    @property
    def id(self) -> int: ...
    @property
    def task_type(self) -> str: ...
    @property
    def connector_id(self) -> int | None: ...
    @property
    def operation(self) -> str | None: ...
    @property
    def interface_type(self) -> str | None: ...


#: an order line with one of its fulfillment lines, as ORM objects or plain rows
Pair = tuple[OrderLine | LineRow, FulfillLine | FlineRow]

#: what a request asks for when no routing rule overrides the operation
DEFAULT_OPERATION = "Create"


@dataclass(frozen=True)
class ChangeNote:
    """What an Update or Cancel request says beyond its lines: the request it changes
    and why."""

    original_request_id: int | None
    reason_code: str | None = None
    reason: str | None = None


def _ship_to(line: OrderLine | LineRow) -> str | None:
    """The line's ship-to site as sent (kept with the line's attributes)."""
    value = from_column(getattr(line, "attributes_json", None)).get("ShipToPartySiteIdentifier")
    return None if value is None else str(value)[:50]


def request_document(
    request: Request,
    header: OrderHeader | HeaderRow,
    system: str,
    pairs: Sequence[Pair],
    change: ChangeNote | None = None,
) -> RequestDocument:
    """The ``headerTL`` of ``request`` for the fulfillment lines in ``pairs`` of an order
    sent by source system ``system``."""
    return RequestDocument(
        request_id=request.id,
        task_type=request.task_type,
        operation=request.operation or DEFAULT_OPERATION,
        interface_type=request.interface_type,
        header_id=header.id,
        order_number=header.order_number,
        source_order_system=system,
        source_order_id=header.source_order_id,
        source_order_number=header.source_order_number,
        source_order_revision=header.revision,
        buying_party_number=header.buying_party_number,
        buying_party_name=header.buying_party_name,
        customer_po_number=header.customer_po_number,
        currency_code=header.currency_code,
        business_unit_name=header.business_unit_name,
        ordered_date=header.transaction_on,
        lines=tuple(
            RequestLine(
                line_id=line.id,
                line_number=line.line_number,
                source_line_id=line.source_line_id,
                source_line_number=line.source_line_number,
                fulfill_line_id=fline.id,
                fulfill_line_number=fline.fulfill_line_number,
                product_number=line.product_number,
                product_description=line.product_description,
                ordered_qty=fline.quantity,
                uom_code=line.uom_code,
                organization=fline.warehouse or line.requested_fulfillment_org,
                ship_set_name=line.ship_set_name,
                requested_ship_date=line.requested_ship_date,
                scheduled_ship_date=fline.scheduled_ship_date,
                status_code=fline.status,
                ship_to_site=_ship_to(line),
            )
            for line, fline in sorted(pairs, key=lambda p: (p[0].line_number, p[1].id))
        ),
        original_request_id=change.original_request_id if change else None,
        change_reason_code=change.reason_code[:30] if change and change.reason_code else None,
        change_reason=change.reason[:240] if change and change.reason else None,
    )


_NEW_MESSAGE = insert(table_of(OutboxMessage))


class OutboxWriter:
    """Writes outbox rows in the caller's transaction, each with one INSERT on the
    session's connection (the rows it names are written already)."""

    def __init__(self, session: Session, registry: Snapshot, reply_to: str | None = None) -> None:
        self._s = session
        self._registry = registry
        self._reply_to = reply_to

    def request(
        self,
        request: Request,
        header: OrderHeader | HeaderRow,
        pairs: Sequence[Pair],
        change: ChangeNote | None = None,
    ) -> str | None:
        """Write the outbox row that sends ``request``; its ``MessageID``, or ``None``
        when the request has no connector or its connector is not a service
        (business-event connectors receive events, not requests)."""
        if request.connector_id is None or not pairs:
            return None
        connector = self._registry.connectors_by_id.get(request.connector_id)
        if connector is None or connector.invocation_mode not in OPERATIONS:
            return None
        operation = OPERATIONS[connector.invocation_mode]
        message_id = f"urn:uuid:{uuid.uuid4()}"
        payload = build_envelope(
            request_document(
                request,
                header,
                self._registry.systems_by_id[header.source_system_id].code,
                pairs,
                change,
            ),
            operation,
            message_id=message_id,
            to=connector.url,
            # a synchronous answer comes back on the same connection
            reply_to=self._reply_to if connector.invocation_mode == "ASYNC_SERVICE" else None,
        )
        self._s.connection().execute(
            _NEW_MESSAGE,
            {
                "message_id": message_id,
                "kind": "FULFILLMENT_REQUEST",
                "connector_id": connector.id,
                "request_id": request.id,
                "header_id": header.id,
                "order_number": header.order_number,
                "task_type": request.task_type,
                "invocation_mode": connector.invocation_mode,
                "operation": operation,
                "soap_action": SOAP_ACTIONS[operation],
                "payload": payload,
                "status": "READY",
                "attempts": 0,
                "uncertain": False,
                "replays": 0,
            },
        )
        return message_id
