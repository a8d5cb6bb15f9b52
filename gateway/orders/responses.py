"""Fulfillment acknowledgements and responses, under the three processing options.

``REJECT_ALL_ON_FIRST_ERROR`` stops at the first bad line and applies nothing;
``REJECT_ALL_ON_ANY_ERROR`` checks every line and applies nothing if any is bad,
reporting every error; ``REJECT_ERROR_GROUPS`` applies the good groups and rejects
each group holding a bad line, a group being a ship set (else the line alone).

A response is applied at most once per (``FulfillmentSystem``,
``FulfillmentSystemResponseIdentifier``): a repeat gets the first result back and
changes nothing. A response that applies nothing raises :class:`ResponseRejected`
and is not recorded, so a corrected response may reuse its identifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from connectors.registry import PROCESSING_OPTIONS, ValueMaps
from gateway.errors import (
    GatewayError,
    LineError,
    NotFoundError,
    ResponseRejected,
    StateError,
    ValidationError,
)
from gateway.events import recorder
from gateway.lifecycle import OPEN_FOR_SHIPMENT, SHIPPED_OR_LATER, TERMINAL
from gateway.orders.commands import (
    Acknowledgement,
    FulfillLineResponse,
    FulfillmentResponse,
    LineOutcome,
    ResponseResult,
)
from gateway.orders.held import hold_on
from gateway.orders.limits import check_length, check_quantity
from gateway.orders.orchestration import Orchestrator
from gateway.orders.state import StatusWriter
from gateway.orders.xref import translate
from gateway.persistence.bulk import write_changes
from gateway.persistence.kept import merged
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    Hold,
    OrderHeader,
    OrderLine,
    StagedResponse,
    utcnow,
)
from gateway.registry.snapshot import System

__all__ = [
    "TASK_STATUSES",
    "ResponseProcessor",
    "group_key",
    "not_assigned",
]

#: Per task type (``IntegrationContextCode``): the line statuses a response may report,
#: the first being the default when ``StatusCode`` is omitted.
TASK_STATUSES: dict[str, tuple[str, ...]] = {
    "Shipment": ("SHIPPED", "BACKORDERED"),
    "Invoice": ("BILLED",),
}
_ACK_ACCEPTED = frozenset({"SUCCESS", "ACCEPTED", "ACCEPT"})
_ACK_REJECTED = frozenset({"ERROR", "FAILURE", "REJECTED", "REJECT"})


# Built once: a statement built per call costs more CPU than SQLite spends running it.
#: the orders the fulfillment lines ``ids`` belong to
_TOUCHED = (
    select(FulfillLine.header_id)
    .where(FulfillLine.id.in_(bindparam("ids", expanding=True)))
    .scalar_subquery()
)
_ORDERS = select(OrderHeader).where(OrderHeader.id.in_(_TOUCHED))
_ORDER_LINES = (
    select(OrderLine)
    .where(OrderLine.header_id.in_(_TOUCHED))
    .order_by(OrderLine.header_id, OrderLine.line_number)
)
_ORDER_FLINES = (
    select(FulfillLine)
    .where(FulfillLine.header_id.in_(_TOUCHED))
    .options(joinedload(FulfillLine.request))
    .order_by(FulfillLine.order_line_id, FulfillLine.fulfill_line_number)
)
_APPLIED = select(FulfillmentResponseRecord.result_json).where(
    FulfillmentResponseRecord.fulfillment_system == bindparam("fs"),
    FulfillmentResponseRecord.response_identifier == bindparam("rid"),
)
_HOLDS = (
    select(Hold)
    .where(Hold.header_id.in_(bindparam("ids", expanding=True)), Hold.released_at.is_(None))
    .order_by(Hold.id)
)


@dataclass
class _Plan:
    """A checked line of a response, ready to apply."""

    response: FulfillLineResponse
    fline: FulfillLine
    status: str
    quantity: Decimal


def not_assigned(sent_to: str | None, fs: str, may_answer_unassigned: bool) -> str | None:
    """Why fulfillment system ``fs`` may not answer a request sent to ``sent_to``, or
    None. A request sent to no system (routing had nowhere to send it) is answered only
    by a caller bound to every system: no fulfillment system was asked for it."""
    if sent_to is None:
        if may_answer_unassigned:
            return None
        return (
            f"was sent to no fulfillment system, not {fs}; only a user bound to every "
            "system may answer it"
        )
    if sent_to != fs:
        return f"was sent to {sent_to}, not {fs}"
    return None


def group_key(fline: FulfillLine) -> tuple[object, ...]:
    """The error group of a line: its ship set within its order, else the line itself."""
    ship_set = fline.order_line.ship_set_name
    if ship_set:
        return ("ship-set", fline.header_id, ship_set)
    return ("line", fline.id)


class ResponseProcessor:
    """Applies fulfillment-system messages inside the caller's transaction."""

    def __init__(self, session: Session, reply_to: str | None = None) -> None:
        self._s = session
        self._status = StatusWriter(session)
        self._flow = Orchestrator(session, reply_to=reply_to)

    # -- shared checks ---------------------------------------------------------------

    def _fulfillment_system(self, code: str | None) -> System:
        if not code or not code.strip():
            raise ValidationError("MISSING_KEY", "FulfillmentSystem is required")
        ss = self._flow.registry.systems.get(code.strip())
        if ss is None:
            raise NotFoundError(
                "SOURCE_SYSTEM_UNKNOWN",
                f"fulfillment system {code!r} is not registered; add it with "
                f"'omgw source-system add {code} --fulfillment'",
            )
        if not ss.fulfillment:
            raise ValidationError(
                "SOURCE_SYSTEM_NOT_ENABLED",
                f"source system {ss.code} is not enabled for fulfillment",
            )
        return ss

    def _check_header(self, resp: FulfillmentResponse) -> tuple[System, str, str]:
        ss = self._fulfillment_system(resp.fulfillment_system)
        rid = (resp.response_identifier or "").strip()
        if not rid:
            raise ValidationError("MISSING_KEY", "FulfillmentSystemResponseIdentifier is required")
        check_length(
            rid,
            "FulfillmentSystemResponseIdentifier",
            FulfillmentResponseRecord.response_identifier,
            "the response header",
        )
        task = (resp.task_type or "").strip()
        if not task:
            raise ValidationError(
                "MISSING_KEY", "IntegrationContextCode (the task type, e.g. Shipment) is required"
            )
        if task not in TASK_STATUSES:
            known = ", ".join(TASK_STATUSES)
            raise ValidationError(
                "INVALID_VALUE", f"IntegrationContextCode {task!r} is not a task type; use {known}"
            )
        if not resp.lines:
            raise ValidationError("MISSING_KEY", "the response has no fulfillLineList")
        return ss, rid, task

    def _previous(self, fs: str, rid: str) -> ResponseResult | None:
        kept = self._s.scalar(_APPLIED, {"fs": fs, "rid": rid})
        return None if kept is None else ResponseResult.from_json(kept, replayed=True)

    # -- acknowledgement -------------------------------------------------------------

    def acknowledge(self, ack: Acknowledgement) -> None:
        ss = self._fulfillment_system(ack.fulfillment_system)
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

    # -- fulfillment response --------------------------------------------------------

    def process(self, resp: FulfillmentResponse) -> ResponseResult:
        ss, rid, task = self._check_header(resp)
        previous = self._previous(ss.code, rid)
        if previous is not None:
            return previous
        if self._lock_orders(resp.lines):
            # A copy of this response may have been applied while we waited for the locks.
            previous = self._previous(ss.code, rid)
            if previous is not None:
                return previous
        option = self._processing_option(ss, resp.lines)
        maps = ss.maps
        # the orders the lines belong to, each read whole once, for the checks and the writes
        plans, errors, found, orders = self._check_lines(
            resp.lines, ss.code, task, option, maps, resp.may_answer_unassigned
        )

        outcomes: list[LineOutcome] = []
        if option == "REJECT_ERROR_GROUPS" and errors:
            plans, rejected = self._reject_groups(plans, errors, found)
            errors = errors + rejected
        if errors and (option != "REJECT_ERROR_GROUPS" or not plans):
            raise ResponseRejected(errors, option)

        for err in errors:
            outcomes.append(self._error_outcome(err))
        outcomes.extend(self._apply(plans, orders, ss.code, task))
        ordered = sorted(
            outcomes, key=lambda o: (o.fulfill_line_id or 0, o.split_reference_id or 0)
        )
        result = ResponseResult(
            response_identifier=rid,
            overall_status="WARNING" if errors else "SUCCESS",
            lines=tuple(ordered),
        )
        self._s.add(
            FulfillmentResponseRecord(
                fulfillment_system=ss.code,
                response_identifier=rid,
                task_type=task,
                result_json=result.to_json(),
            )
        )
        # the lines' changes in one executemany per column set, not the unit of work's
        write_changes(self._s, FulfillLine, OrderLine)
        return result

    def stage(self, resp: FulfillmentResponse) -> ResponseResult:
        """Keep the response for the background processor (``stageFulfillmentResponse``)."""
        ss, rid, _task = self._check_header(resp)
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
        candidates = self._flow.registry.service_connectors(ss.id)
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

    def _check_lines(
        self,
        lines: Sequence[FulfillLineResponse],
        fs: str,
        task: str,
        option: str,
        maps: ValueMaps,
        may_answer_unassigned: bool,
    ) -> tuple[list[_Plan], list[LineError], dict[int, FulfillLine], dict[int, OrderHeader]]:
        ids = [ln.fulfill_line_id for ln in lines if ln.fulfill_line_id is not None]
        headers, found = self._read_orders(ids)
        holds: dict[int, list[Hold]] = {}
        for h in self._s.scalars(_HOLDS, {"ids": list(headers)}):
            holds.setdefault(h.header_id, []).append(h)
        plans: list[_Plan] = []
        errors: list[LineError] = []
        seen: set[int] = set()
        for line in lines:
            try:
                fline = found.get(line.fulfill_line_id) if line.fulfill_line_id else None
                hold = (
                    hold_on(holds.get(fline.header_id, []), fline.order_line_id) if fline else None
                )
                if hold is not None and fline is not None:
                    scope = "its order" if hold.order_line_id is None else "its line"
                    raise StateError(
                        "LINE_ON_HOLD",
                        f"fulfillment line {fline.id} cannot progress: {scope} is on hold "
                        f"{hold.hold_code}; send the response again after the hold is released",
                    )
                plans.append(
                    self._check_line(
                        line, found, headers, seen, fs, task, maps, may_answer_unassigned
                    )
                )
            except GatewayError as err:
                errors.append(LineError.from_error(err, line.fulfill_line_id))
                if option == "REJECT_ALL_ON_FIRST_ERROR":
                    break
        return plans, errors, found, headers

    def _read_orders(self, ids: list[int]) -> tuple[dict[int, OrderHeader], dict[int, FulfillLine]]:
        """Every order a fulfillment line of ``ids`` belongs to, whole (its lines, their
        fulfillment lines and the requests those were sent in), and the lines ``ids``
        name that exist. Three reads, the relationships filled here as they were read:
        checks and roll-up then never load lazily, and no loader strategy runs per call.
        """
        params = {"ids": ids}
        headers = {h.id: h for h in self._s.scalars(_ORDERS, params)}
        lines: dict[int, OrderLine] = {}
        of_header: dict[int, list[OrderLine]] = {h: [] for h in headers}
        for line in self._s.scalars(_ORDER_LINES, params):
            lines[line.id] = line
            of_header[line.header_id].append(line)
        flines: dict[int, FulfillLine] = {}
        of_line: dict[int, list[FulfillLine]] = {line_id: [] for line_id in lines}
        for fline in self._s.scalars(_ORDER_FLINES, params).unique():
            flines[fline.id] = fline
            of_line[fline.order_line_id].append(fline)
            set_committed_value(fline, "order_line", lines[fline.order_line_id])
        for header_id, header in headers.items():
            set_committed_value(header, "lines", of_header[header_id])
        for line_id, line in lines.items():
            set_committed_value(line, "header", headers[line.header_id])
            set_committed_value(line, "fulfill_lines", of_line[line_id])
        return headers, {i: flines[i] for i in ids if i in flines}

    def _check_line(
        self,
        line: FulfillLineResponse,
        found: dict[int, FulfillLine],
        headers: dict[int, OrderHeader],
        seen: set[int],
        fs: str,
        task: str,
        maps: ValueMaps,
        may_answer_unassigned: bool,
    ) -> _Plan:
        fid = line.fulfill_line_id
        if fid is None:
            raise ValidationError("MISSING_KEY", "FulfillLineIdentifier is required on every line")
        if fid in seen:
            raise ValidationError(
                "DUPLICATE_LINE", f"fulfillment line {fid} appears twice in one response"
            )
        seen.add(fid)
        fline = found.get(fid)
        if fline is None:
            raise NotFoundError("LINE_NOT_FOUND", f"fulfillment line {fid} does not exist")
        header = headers[fline.header_id]
        if header.status == "DOO_REFERENCE":
            raise StateError(
                "ORDER_SUPERSEDED",
                f"fulfillment line {fid} belongs to revision {header.revision} of order "
                f"{header.order_number}, which a newer revision replaced",
            )
        self._check_task_state(fline, task)
        sent_to = fline.request.fulfillment_system if fline.request else None
        why = not_assigned(sent_to, fs, may_answer_unassigned)
        if why is not None:
            raise StateError("LINE_NOT_ASSIGNED", f"fulfillment line {fid} {why}")
        if maps:
            where = f"fulfillment line {fid}"
            line = replace(
                line,
                status_code=translate(maps, "STATUS", line.status_code, fs, where),
                quantity_uom=translate(maps, "UOM", line.quantity_uom, fs, where),
            )
        allowed = TASK_STATUSES[task]
        status = (line.status_code or allowed[0]).strip().upper()
        if status not in allowed:
            raise ValidationError(
                "INVALID_VALUE",
                f"StatusCode {line.status_code!r} is not valid for a {task} response "
                f"(use {' or '.join(allowed)})",
            )
        where = f"fulfillment line {fid}"
        check_length(line.tracking_number, "TrackingNumber", FulfillLine.tracking_number, where)
        check_length(
            line.billing_number, "BillingTransactionNumber", FulfillLine.billing_number, where
        )
        quantity = fline.quantity
        if status == "SHIPPED" and line.shipped_quantity is not None:
            quantity = self._check_shipped_quantity(line, fline)
        return _Plan(line, fline, status, quantity)

    @staticmethod
    def _check_task_state(fline: FulfillLine, task: str) -> None:
        fid, status = fline.id, fline.status
        if status in TERMINAL:
            raise StateError("RESPONSE_AFTER_CLOSE", f"fulfillment line {fid} is already {status}")
        if task == "Shipment" and status not in OPEN_FOR_SHIPMENT:
            if status in SHIPPED_OR_LATER or status == "CANCEL_PENDING":
                raise StateError(
                    "LINE_NOT_AWAITING_TASK",
                    f"fulfillment line {fid} is {status}, not awaiting a shipment",
                )
            raise StateError(
                "RESPONSE_BEFORE_REQUEST",
                f"fulfillment line {fid} is {status}: no shipment was requested yet",
            )
        if task == "Invoice" and status != "AWAIT_BILLING":
            if status in OPEN_FOR_SHIPMENT or status in ("CREATED", "SCHEDULED"):
                raise StateError(
                    "RESPONSE_BEFORE_REQUEST",
                    f"fulfillment line {fid} is {status}: it has not shipped, so no invoice "
                    "was requested yet",
                )
            raise StateError(
                "LINE_NOT_AWAITING_TASK",
                f"fulfillment line {fid} is {status}, not awaiting billing",
            )

    @staticmethod
    def _check_shipped_quantity(line: FulfillLineResponse, fline: FulfillLine) -> Decimal:
        qty = line.shipped_quantity
        assert qty is not None
        check_quantity(qty, f"shipped quantity on fulfillment line {fline.id}")
        if qty > fline.quantity:
            raise ValidationError(
                "QUANTITY_EXCEEDS_OPEN",
                f"shipped quantity {qty} on fulfillment line {fline.id} is more than its "
                f"open quantity {fline.quantity.normalize()}",
            )
        uom = fline.order_line.uom_code
        if line.quantity_uom and line.quantity_uom.strip() != uom:
            raise ValidationError(
                "UOM_MISMATCH",
                f"shipped quantity on fulfillment line {fline.id} is in {line.quantity_uom!r}; "
                f"the line is ordered in {uom!r}",
            )
        return qty

    @staticmethod
    def _reject_groups(
        plans: list[_Plan], errors: list[LineError], found: dict[int, FulfillLine]
    ) -> tuple[list[_Plan], list[LineError]]:
        """Drop every plan whose group holds a failed line; say why for each."""
        bad_groups = {
            group_key(found[e.fulfill_line_id])
            for e in errors
            if e.fulfill_line_id is not None and e.fulfill_line_id in found
        }
        keep: list[_Plan] = []
        rejected: list[LineError] = []
        for plan in plans:
            if group_key(plan.fline) in bad_groups:
                rejected.append(
                    LineError(
                        "GROUP_REJECTED",
                        f"fulfillment line {plan.fline.id} was not applied: another line of "
                        f"ship set {plan.fline.order_line.ship_set_name} has an error",
                        plan.fline.id,
                    )
                )
            else:
                keep.append(plan)
        return keep, rejected

    def _error_outcome(self, err: LineError) -> LineOutcome:
        fline = self._s.get(FulfillLine, err.fulfill_line_id) if err.fulfill_line_id else None
        return LineOutcome(
            fulfill_line_id=err.fulfill_line_id,
            status="ERROR",
            fulfill_line_number=fline.fulfill_line_number if fline else None,
            task_instance_status=fline.status if fline else None,
            errors=(err,),
        )

    def _apply(
        self, plans: list[_Plan], orders: dict[int, OrderHeader], fs: str, task: str
    ) -> list[LineOutcome]:
        """Apply ``plans`` to their lines, of ``orders`` as :meth:`_check_lines` read them
        (held here: the session's identity map keeps its objects only weakly)."""
        outcomes: list[LineOutcome] = []
        touched: dict[int, OrderHeader] = {}
        shipped: dict[int, list[tuple[OrderLine, FulfillLine]]] = {}
        for plan in plans:
            fline = plan.fline
            header = orders[fline.header_id]
            touched[header.id] = header
            reason = f"{task} response from {fs}"
            if plan.response.attributes:
                # what each response said of the line, response after response
                fline.attributes_json = merged(fline.attributes_json, plan.response.attributes)
            if plan.status == "SHIPPED":
                if plan.quantity < fline.quantity:
                    outcomes.append(self._split(fline, plan.quantity, header, reason))
                fline.shipped_quantity = plan.quantity
                fline.actual_ship_date = plan.response.actual_ship_date or utcnow()
                fline.tracking_number = plan.response.tracking_number
                self._status.fline(fline, "SHIPPED", reason)
                shipped.setdefault(header.id, []).append((fline.order_line, fline))
            elif plan.status == "BACKORDERED":
                if fline.status != "BACKORDERED":
                    self._status.fline(fline, "BACKORDERED", reason)
            elif plan.status == "BILLED":
                fline.billing_number = plan.response.billing_number
                self._status.fline(fline, "BILLED", reason)
                self._status.fline(fline, "CLOSED", "fulfillment complete")
                fline.task_type = None
        # the next step of the shipped lines, one request per order and connector
        for header_id, pairs in shipped.items():
            self._flow.shipped(touched[header_id], pairs, fs)
        for plan in plans:
            outcomes.append(self._ok_outcome(plan.fline, orders[plan.fline.header_id]))
        for header in touched.values():
            self._status.rollup(header, f"{task} response from {fs}")
        return outcomes

    def _split(
        self, fline: FulfillLine, shipped: Decimal, header: OrderHeader, reason: str
    ) -> LineOutcome:
        """Split off the unshipped remainder of ``fline`` as a new line awaiting shipment."""
        line: OrderLine = fline.order_line
        number = max(f.fulfill_line_number for f in line.fulfill_lines) + 1
        rest = FulfillLine(
            header_id=fline.header_id,
            order_line_id=fline.order_line_id,
            fulfill_line_number=number,
            quantity=fline.quantity - shipped,
            status="AWAIT_SHIP",
            task_type="Shipment",
            request_id=fline.request_id,
            split_from_id=fline.id,
            scheduled_ship_date=fline.scheduled_ship_date,
            # the remainder stays on the same request, routed by the same rule
            rule_set_version=fline.rule_set_version,
            routing_rule_id=fline.routing_rule_id,
            process_id=fline.process_id,
            warehouse=fline.warehouse,
        )
        line.fulfill_lines.append(rest)
        pre_split = fline.quantity
        fline.quantity = shipped
        self._s.flush()
        self._status.new_fline(rest, f"split from fulfillment line {fline.id}: {reason}")
        recorder.line_split(self._s, fline, rest, pre_split)
        return LineOutcome(
            fulfill_line_id=rest.id,
            status="SUCCESS",
            fulfill_line_number=rest.fulfill_line_number,
            order_number=header.order_number,
            line_number=line.line_number,
            task_instance_status=rest.status,
            split_reference_id=fline.id,
        )

    @staticmethod
    def _ok_outcome(fline: FulfillLine, header: OrderHeader) -> LineOutcome:
        return LineOutcome(
            fulfill_line_id=fline.id,
            status="SUCCESS",
            fulfill_line_number=fline.fulfill_line_number,
            order_number=header.order_number,
            line_number=fline.order_line.line_number,
            task_instance_status=fline.status,
        )
