"""Orchestration: each fulfillment line walks the steps of its process.

A new line takes the newest version of the default process
(``DOO_OrderFulfillmentGenericProcess``) and keeps it. Internal steps complete at once
and record what they decide: Schedule sets the scheduled ship date (the requested one,
else now) and the line becomes ``SCHEDULED``; Reservation picks the warehouse (the
requested organization, else :data:`DEFAULT_WAREHOUSE`). An external step is routed
(rules → connector), the lines of one order bound for one connector (and the same rule
actions) share one fulfillment request, and the request goes to the outbox in the same
transaction (:mod:`gateway.orders.outgoing`). What a shipment moves a line on to (the next
external step, Invoice in the default process, or closing) is decided with the response
(:mod:`gateway.orders.response_decision`).

Until a routing version is published, a new line's request goes to the configured
default fulfillment system, through its first enabled service connector by name (with
none, the request is only recorded, as before routing existed).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from connectors.registry import DEFAULT_PROCESS
from gateway.orders.held import active_holds, hold_on
from gateway.orders.outgoing import OutboxWriter
from gateway.orders.placement import AWAITING, place
from gateway.orders.routing import Router
from gateway.orders.state import StatusWriter
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    OrderHeader,
    OrderLine,
    utcnow,
)
from gateway.registry.snapshot import ConnectorInfo, Snapshot, current

__all__ = ["DEFAULT_WAREHOUSE", "Orchestrator"]

#: the organization a reservation picks when the line names none
DEFAULT_WAREHOUSE = "M1"


Pair = tuple[OrderLine, FulfillLine]

_NEW_REQUEST = insert(FulfillmentRequest).returning(FulfillmentRequest)


class Orchestrator:
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
        self._registry: Snapshot | None = None

    @property
    def registry(self) -> Snapshot:
        if self._registry is None:
            self._registry = current(self._s)
        return self._registry

    # -- new lines --------------------------------------------------------------------

    def start(self, header: OrderHeader, pairs: Sequence[Pair]) -> list[FulfillLine]:
        """Run new lines through the internal steps up to their first external step and
        request it; returns the lines routing could not place (``ROUTING_ERROR``)."""
        process = self.registry.newest.get(DEFAULT_PROCESS.name)
        now = utcnow()
        for line, fline in pairs:
            fline.process_id = process.id if process is not None else None
            steps = process.steps if process is not None else ()
            for step in steps:
                if step.kind == "EXTERNAL":
                    break
                code = step.task_type
                if code == "Schedule":
                    fline.scheduled_ship_date = (
                        fline.scheduled_ship_date or line.requested_ship_date or now
                    )
                    self._status.fline(fline, "SCHEDULED", f"scheduled by step {step.name}")
                elif code == "Reservation":
                    fline.warehouse = line.requested_fulfillment_org or DEFAULT_WAREHOUSE
        return self.request(header, pairs, "Shipment")

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
