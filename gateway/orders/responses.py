"""Fulfillment acknowledgements and responses: the write path of one message.

A response's header is checked (:mod:`gateway.orders.response_checks`, which checks
its lines too), then the orders its lines belong to are read whole as plain rows
(:mod:`gateway.orders.response_store`), the outcome is decided over them with no
database access (:mod:`gateway.orders.response_decision`, where the three processing
options are), and the decision is written set-based in the caller's transaction.

A response is applied at most once per (``FulfillmentSystem``,
``FulfillmentSystemResponseIdentifier``): a repeat gets the first result back and
changes nothing. A response that applies nothing raises :class:`ResponseRejected`
and is not recorded, so a corrected response may reuse its identifier.

The answer a synchronous connector gives with the request (``headerTR``) is applied by
the same two steps (:meth:`ResponseProcessor.answer`), in the outbox worker's transaction
that records the send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from connectors.connector_specs import PROCESSING_OPTIONS
from gateway.errors import LineError, NotFoundError, StateError, ValidationError
from gateway.lifecycle import SHIPPED_OR_LATER, TERMINAL
from gateway.orders.compensation import CHANGE_OPERATIONS, apply_change_answer
from gateway.orders.limits import check_length
from gateway.orders.message_values import (
    Acknowledgement,
    FulfillLineResponse,
    FulfillmentResponse,
    ResponseResult,
)
from gateway.orders.response_checks import check_header, fulfillment_system, not_assigned
from gateway.orders.response_decision import decide
from gateway.orders.response_store import read_orders, write_decision
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    OrderHeader,
    StagedResponse,
    table_of,
    utcnow,
)
from gateway.registry.registry_snapshot import InTransaction, System

__all__ = ["ResponseProcessor"]

_ACK_ACCEPTED = frozenset({"SUCCESS", "ACCEPTED", "ACCEPT"})
_ACK_REJECTED = frozenset({"ERROR", "FAILURE", "REJECTED", "REJECT"})
#: line statuses in a synchronous answer that report nothing: the line still waits
_STILL_WAITING = frozenset({"ACCEPTED", "AWAIT_SHIP", "AWAIT_BILLING"})


# Built once: a statement built per call costs more CPU than SQLite spends running it.
_RECORD = insert(table_of(FulfillmentResponseRecord))
_APPLIED = select(FulfillmentResponseRecord.result_json).where(
    FulfillmentResponseRecord.fulfillment_system == bindparam("fs"),
    FulfillmentResponseRecord.response_identifier == bindparam("rid"),
)


class ResponseProcessor(InTransaction):
    """Applies fulfillment-system messages inside the caller's transaction."""

    def __init__(self, session: Session, reply_to: str | None = None) -> None:
        self._s = session
        self._reply_to = reply_to

    # -- a repeat ----------------------------------------------------------------------

    def _previous(self, fs: str, rid: str) -> ResponseResult | None:
        kept = self._s.scalar(_APPLIED, {"fs": fs, "rid": rid})
        return None if kept is None else ResponseResult.from_json(kept, replayed=True)

    # -- acknowledgement -------------------------------------------------------------

    def acknowledge(self, ack: Acknowledgement) -> None:
        ss = fulfillment_system(self.registry, ack.fulfillment_system)
        if ack.request_id is None:
            raise ValidationError("MISSING_KEY", "FulfillmentRequestIdentifier is required")
        req = self._s.get(FulfillmentRequest, ack.request_id, with_for_update=True)
        if req is None:
            raise NotFoundError(
                "REQUEST_NOT_FOUND", f"no fulfillment request {ack.request_id} was ever sent"
            )
        why = not_assigned(req.fulfillment_system, ss.code, ack.may_answer_unassigned)
        if why is not None:
            raise StateError("LINE_NOT_ASSIGNED", f"fulfillment request {req.id} {why}")
        code = (ack.status_code or "").strip().upper()
        if code in _ACK_ACCEPTED:
            new = "ACCEPTED"
        elif code in _ACK_REJECTED:
            new = "REJECTED"
        else:
            raise ValidationError(
                "INVALID_VALUE",
                f"RequestStatusCode {ack.status_code!r} is not SUCCESS or ERROR",
            )
        if req.status == new:
            return  # the same acknowledgement again: nothing to do
        where = f"the acknowledgement of request {req.id}"
        check_length(ack.error_name, "ErrorMessageName", FulfillmentRequest.ack_error_name, where)
        if req.status != "SENT":
            raise StateError(
                "ACK_CONFLICT",
                f"fulfillment request {req.id} is already {req.status}; "
                f"it cannot be acknowledged as {new}",
            )
        req.status = new
        req.acknowledged_at = utcnow()
        if new == "REJECTED":
            req.ack_error_name = ack.error_name
            req.ack_error_text = ack.error_text
        if req.operation in CHANGE_OPERATIONS and req.original_request_id is not None:
            apply_change_answer(self._s, req, new == "ACCEPTED", ack.error_name, ack.error_text)

    # -- fulfillment response --------------------------------------------------------

    def process(self, resp: FulfillmentResponse) -> ResponseResult:
        ss, rid, task = check_header(self.registry, resp)
        previous = self._previous(ss.code, rid)
        if previous is not None:
            return previous
        if self._lock_orders(resp.lines):
            # A copy of this response may have been applied while we waited for the locks.
            previous = self._previous(ss.code, rid)
            if previous is not None:
                return previous
        registry = self.registry
        option = self._processing_option(ss, resp.lines)
        ids = [ln.fulfill_line_id for ln in resp.lines if ln.fulfill_line_id is not None]
        orders = read_orders(self._s, ids)
        decision = decide(
            resp.lines,
            system=ss,
            task=task,
            option=option,
            orders=orders,
            registry=registry,
            may_answer_unassigned=resp.may_answer_unassigned,
            now=utcnow(),
        )
        written = write_decision(self._s, decision, orders, registry, self._reply_to)
        outcomes = [
            replace(o, fulfill_line_id=written[o.fulfill_line_id])
            if o.fulfill_line_id is not None and o.fulfill_line_id < 0
            else o
            for o in decision.outcomes
        ]
        outcomes.sort(key=lambda o: (o.fulfill_line_id or 0, o.split_reference_id or 0))
        result = ResponseResult(
            response_identifier=rid,
            overall_status="WARNING" if decision.errors else "SUCCESS",
            lines=tuple(outcomes),
        )
        self._s.connection().execute(
            _RECORD,
            {
                "fulfillment_system": ss.code,
                "response_identifier": rid,
                "task_type": task,
                "result_json": result.to_json(),
            },
        )
        return result

    def stage(self, resp: FulfillmentResponse) -> ResponseResult:
        """Keep the response for the background processor (``stageFulfillmentResponse``)."""
        ss, rid, _task = check_header(self.registry, resp)
        previous = self._previous(ss.code, rid)
        if previous is not None:
            return previous
        staged = self._s.scalar(
            select(StagedResponse).where(
                StagedResponse.fulfillment_system == ss.code,
                StagedResponse.response_identifier == rid,
            )
        )
        if staged is None:
            self._s.add(
                StagedResponse(
                    fulfillment_system=ss.code, response_identifier=rid, payload_json=resp.to_json()
                )
            )
        elif staged.status == "ERROR":
            # A corrected response may reuse the identifier of one that failed.
            staged.payload_json = resp.to_json()
            staged.status = "STAGED"
            staged.error_code = staged.error_message = None
            staged.processed_at = None
        return ResponseResult(response_identifier=rid, overall_status="STAGED")

    # -- synchronous answer ----------------------------------------------------------

    def answer(self, ack: Acknowledgement, resp: FulfillmentResponse) -> tuple[LineError, ...]:
        """Apply the answer a synchronous connector gave with the request it was sent
        (a ``headerTR``): ``ack`` through :meth:`acknowledge`, the lines of ``resp``
        through :meth:`process`, each in a savepoint of its own, so a rejected line does
        not undo the acknowledgement. Where the answer names no system or task type, the
        request's apply; lines that still wait report nothing and are left out.

        An answer to a change reports what shipped before the change first (the shipment
        decides those lines; one reported already, by the request's own answer, stands),
        then accepts or refuses the change for the rest. Returns the errors of the lines
        that could not be applied; raises a :class:`GatewayError` when nothing could."""
        request = self._s.get(FulfillmentRequest, ack.request_id)
        if request is None:
            raise NotFoundError(
                "REQUEST_NOT_FOUND", f"no fulfillment request {ack.request_id} was ever sent"
            )
        system = ack.fulfillment_system or request.fulfillment_system
        ack = replace(ack, fulfillment_system=system)
        lines = tuple(ln for ln in resp.lines if ln.status_code not in _STILL_WAITING)
        change = request.operation in CHANGE_OPERATIONS and request.original_request_id
        if change:
            ids = [ln.fulfill_line_id for ln in lines]
            decided = set(
                self._s.scalars(
                    select(FulfillLine.id).where(
                        FulfillLine.id.in_(ids),
                        FulfillLine.status.in_(SHIPPED_OR_LATER | TERMINAL),
                    )
                )
            )
            lines = tuple(ln for ln in lines if ln.fulfill_line_id not in decided)
        resp = replace(
            resp,
            fulfillment_system=system,
            task_type=resp.task_type or request.task_type,
            lines=lines,
        )
        if change and lines:
            try:
                return self._answer_lines(resp)
            finally:
                self._answer_request(request, ack)
        self._answer_request(request, ack)
        if ack.status_code == "SUCCESS" and lines:
            return self._answer_lines(resp)
        return ()

    def _answer_request(self, request: FulfillmentRequest, ack: Acknowledgement) -> None:
        if request.status != "SENT":
            return
        with self._s.begin_nested():
            self.acknowledge(ack)

    def _answer_lines(self, resp: FulfillmentResponse) -> tuple[LineError, ...]:
        with self._s.begin_nested():
            result = self.process(resp)
        return tuple(e for o in result.lines for e in o.errors)

    def _lock_orders(self, lines: Sequence[FulfillLineResponse]) -> bool:
        """Lock every order the response touches, in id order, before reading its lines;
        whether it waited for locks (and so the world may have changed since).

        Without it, two responses for one line (different identifiers) could both pass
        their checks on PostgreSQL and ship the line twice. SQLite needs no row locks:
        ``BEGIN IMMEDIATE`` already runs writers one at a time, from the first read.
        """
        ids = [ln.fulfill_line_id for ln in lines if ln.fulfill_line_id is not None]
        if not ids or self._s.get_bind().dialect.name == "sqlite":
            return False
        header_ids = select(FulfillLine.header_id).where(FulfillLine.id.in_(ids))
        self._s.execute(
            select(OrderHeader.id)
            .where(OrderHeader.id.in_(header_ids))
            .order_by(OrderHeader.id)
            .with_for_update()
        ).all()
        return True

    def _processing_option(self, ss: System, lines: Sequence[FulfillLineResponse]) -> str:
        """The option of the system's connector that carried the lines' request; else of
        its first service connector by name, enabled ones first; else the default.

        No query in the common case: the carried connector is looked up only when the
        system's connectors disagree.
        """
        candidates = self.registry.service_connectors(ss.id)
        options = {c.response_processing for c in candidates}
        if len(options) <= 1:
            return options.pop() if options else PROCESSING_OPTIONS[0]
        ids = [ln.fulfill_line_id for ln in lines if ln.fulfill_line_id is not None]
        carried = set(
            self._s.scalars(
                select(FulfillmentRequest.connector_id)
                .distinct()
                .join(FulfillLine, FulfillLine.request_id == FulfillmentRequest.id)
                .where(FulfillLine.id.in_(ids), FulfillmentRequest.connector_id.is_not(None))
            )
        )
        by_id = {c.id: c.response_processing for c in candidates}
        carried_options = {by_id[i] for i in carried if i in by_id}
        if len(carried_options) == 1:
            return carried_options.pop()
        # Sorted here, byte-wise: database collations order names differently.
        ranked = sorted(candidates, key=lambda c: (not c.enabled, c.name))
        return str(ranked[0].response_processing)
