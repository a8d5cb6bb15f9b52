"""Orchestration of lines already stored: requesting their next external step.

A new order's lines are planned whole (:mod:`gateway.orders.order_plan`) and a
response's next steps are decided with it (:mod:`gateway.orders.response_decision`).
What is left here acts on stored ORM rows: a line released from a hold, or re-routed
after a routing fix, is placed (:mod:`gateway.orders.placement`), the lines of one order
with the same placement share one fulfillment request, and the request goes to the
outbox in the same transaction (:mod:`gateway.orders.outgoing`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gateway.orders.active_holds import active_holds, hold_on
from gateway.orders.line_routing import Router
from gateway.orders.outgoing import OutboxWriter
from gateway.orders.placement import AWAITING, place
from gateway.orders.status_writer import StatusWriter
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    OrderHeader,
    OrderLine,
)
from gateway.registry.registry_snapshot import ConnectorInfo, InTransaction

__all__ = ["Orchestrator"]


Pair = tuple[OrderLine, FulfillLine]

_NEW_REQUEST = insert(FulfillmentRequest).returning(FulfillmentRequest)


class Orchestrator(InTransaction):
    """Moves lines through their process inside the caller's transaction (one: the
    registry is read once, at the first step that needs it)."""

    def __init__(
        self,
        session: Session,
        default_fulfillment_system: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        self._s = session
        self._status = StatusWriter(session)
        self._default_fs = default_fulfillment_system
        self._reply_to = reply_to

    # -- new lines --------------------------------------------------------------------

    def request(
        self,
        header: OrderHeader,
        pairs: Sequence[Pair],
        task_type: str,
    ) -> list[FulfillLine]:
        """Route ``pairs`` for their process's ``task_type`` step and request it.

        Returns the lines nothing routes (they go to ``ROUTING_ERROR`` with the reason)."""
        holds = active_holds(self._s, header.id)
        if holds:  # a held line waits here; releasing the hold requests it
            pairs = [p for p in pairs if hold_on(holds, p[0].id) is None]
        if not pairs:
            return []
        router = Router(self.registry)
        waiting = AWAITING[task_type]
        requests: dict[tuple[int | None, str | None, str | None, str | None], FulfillmentRequest]
        requests = {}
        unrouted: list[FulfillLine] = []
        for line, fline in pairs:
            p = place(self.registry, router, header, line, fline, task_type, self._default_fs)
            if p.routed:
                fline.rule_set_version = p.version
                fline.routing_rule_id = p.rule_id
                fline.routing_error = p.error
            if not p.placed:
                unrouted.append(fline)
                if fline.status != "ROUTING_ERROR":
                    self._status.fline(fline, "ROUTING_ERROR", p.reason)
                continue
            if p.key not in requests:
                requests[p.key] = self._new_request(
                    header, task_type, p.system, p.connector, p.operation, p.interface_type
                )
            self._assign(fline, requests[p.key], task_type, waiting, p.reason)
        for request in requests.values():
            self._outbox().request(request, header, [p for p in pairs if p[1].request is request])
        return unrouted

    # -- helpers ------------------------------------------------------------------------

    def _outbox(self) -> OutboxWriter:
        return OutboxWriter(self._s, self.registry, self._reply_to)

    def _assign(
        self,
        fline: FulfillLine,
        request: FulfillmentRequest,
        task_type: str,
        status: str,
        reason: str,
    ) -> None:
        fline.request_id = request.id
        # the column is what gets written; the relationship is set without history, so
        # the flush has no dependency to work out per line
        set_committed_value(fline, "request", request)
        fline.task_type = task_type
        if fline.status != status:
            self._status.fline(fline, status, reason)

    def _new_request(
        self,
        header: OrderHeader,
        task_type: str,
        system: str | None,
        connector: ConnectorInfo | None,
        operation: str | None = None,
        interface_type: str | None = None,
    ) -> FulfillmentRequest:
        # Inserted on its own, not flushed with the session: its id goes into the lines
        # and the envelope, and the lines' pending changes then wait for the commit, so
        # each line is written once. RETURNING gives the row as the session will hold it.
        row = {
            "header_id": header.id,
            "task_type": task_type,
            "fulfillment_system": system,
            "connector_id": connector.id if connector is not None else None,
            "operation": operation,
            "interface_type": interface_type,
            "status": "SENT",
        }
        with self._s.no_autoflush:
            return self._s.scalars(_NEW_REQUEST, [row]).one()
