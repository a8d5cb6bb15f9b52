"""Deciding a fulfillment response over plain rows: no database here.

:func:`decide` takes the response's lines, the whole orders they belong to
(:class:`~gateway.orders.rows.OrderSet`) and the registry snapshot, and returns a
:class:`Decision`: each line's checks, what every changed fulfillment line becomes
(splits included), the order lines' and headers' rolled-up statuses, the history rows,
the splits to announce, and the billing requests to send. The store writes it
(:mod:`gateway.orders.response_store`). Rows the decision adds have negative ids until
written; everything that names them (history, outcomes, requests) is resolved then.

Under the three processing options: ``REJECT_ALL_ON_FIRST_ERROR`` stops at the first
bad line and applies nothing; ``REJECT_ALL_ON_ANY_ERROR`` checks every line and applies
nothing if any is bad, reporting every error; ``REJECT_ERROR_GROUPS`` applies the good
groups and rejects each group holding a bad line, a group being a ship set (else the
line alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.connector_specs import ValueMaps
from gateway import lifecycle
from gateway.errors import (
    GatewayError,
    LineError,
    NotFoundError,
    ResponseRejected,
    StateError,
    ValidationError,
)
from gateway.events.recorder import StatusRecord
from gateway.lifecycle import OPEN_FOR_SHIPMENT, PENDING_CHANGE, SHIPPED_OR_LATER, TERMINAL
from gateway.orders.active_holds import hold_on
from gateway.orders.limits import check_length, check_quantity
from gateway.orders.line_routing import Router
from gateway.orders.message_values import FulfillLineResponse, LineOutcome
from gateway.orders.placement import BILLED_WHERE_SHIPPED, Placement, place
from gateway.orders.rows import FlineRow, HeaderRow, LineRow, NewRequest, OrderSet
from gateway.orders.steps import next_external, process_of
from gateway.orders.xref import translate
from gateway.persistence.kept import from_column, merged, to_column
from gateway.persistence.models import FulfillLine
from gateway.registry.registry_snapshot import Snapshot, System

__all__ = [
    "TASK_STATUSES",
    "Decision",
    "Split",
    "decide",
    "group_key",
    "not_assigned",
]

#: Per task type (``IntegrationContextCode``): the line statuses a response may report,
#: the first being the default when ``StatusCode`` is omitted.
TASK_STATUSES: dict[str, tuple[str, ...]] = {
    "Shipment": ("SHIPPED", "BACKORDERED"),
    "Invoice": ("BILLED",),
    "Return": ("RECEIVED",),
}


@dataclass(frozen=True)
class Split:
    """``original_id`` kept its shipped quantity of ``pre_split``; ``rest_id`` took the rest."""

    original_id: int
    rest_id: int
    pre_split: Decimal


@dataclass
class Decision:
    """What a response changes; ``flines`` holds each changed or added line as it ends."""

    errors: list[LineError] = field(default_factory=list)
    outcomes: list[LineOutcome] = field(default_factory=list)
    flines: dict[int, FlineRow] = field(default_factory=dict)
    lines: dict[int, str] = field(default_factory=dict)
    headers: dict[int, str] = field(default_factory=dict)
    history: list[StatusRecord] = field(default_factory=list)
    requests: list[NewRequest] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    #: order lines to put back to what their fulfillment system holds (a change of them
    #: was refused by a shipment): the ship date and site as kept with the change
    restored: dict[int, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """A checked line of a response, ready to apply."""

    response: FulfillLineResponse
    fline: FlineRow
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


def group_key(fline: FlineRow, line: LineRow) -> tuple[object, ...]:
    """The error group of a line: its ship set within its order, else the line itself."""
    if line.ship_set_name:
        return ("ship-set", fline.header_id, line.ship_set_name)
    return ("line", fline.id)


def decide(
    lines: Sequence[FulfillLineResponse],
    *,
    system: System,
    task: str,
    option: str,
    orders: OrderSet,
    registry: Snapshot,
    may_answer_unassigned: bool,
    now: datetime,
) -> Decision:
    """The outcome of ``lines`` (a ``task`` response from ``system``) on ``orders``;
    raises :class:`ResponseRejected` when the option applies none of it."""
    plans, errors = _check_lines(lines, system, task, option, orders, may_answer_unassigned)
    if option == "REJECT_ERROR_GROUPS" and errors:
        plans, rejected = _reject_groups(plans, errors, orders)
        errors = errors + rejected
    if errors and (option != "REJECT_ERROR_GROUPS" or not plans):
        raise ResponseRejected(errors, option)
    draft = _Draft(orders, now)
    draft.decision.errors = errors
    for err in errors:
        draft.decision.outcomes.append(_error_outcome(err, orders))
    _apply(draft, plans, system.code, task, registry)
    return draft.finish()


# -- checks ------------------------------------------------------------------------------


def _check_lines(
    lines: Sequence[FulfillLineResponse],
    system: System,
    task: str,
    option: str,
    orders: OrderSet,
    may_answer_unassigned: bool,
) -> tuple[list[_Plan], list[LineError]]:
    plans: list[_Plan] = []
    errors: list[LineError] = []
    seen: set[int] = set()
    for line in lines:
        try:
            fline = orders.flines.get(line.fulfill_line_id) if line.fulfill_line_id else None
            if fline is not None:
                hold = hold_on(orders.holds.get(fline.header_id, ()), fline.order_line_id)
                if hold is not None:
                    scope = "its order" if hold.order_line_id is None else "its line"
                    raise StateError(
                        "LINE_ON_HOLD",
                        f"fulfillment line {fline.id} cannot progress: {scope} is on hold "
                        f"{hold.hold_code}; send the response again after the hold is released",
                    )
            plans.append(_check_line(line, orders, seen, system, task, may_answer_unassigned))
        except GatewayError as err:
            errors.append(LineError.from_error(err, line.fulfill_line_id))
            if option == "REJECT_ALL_ON_FIRST_ERROR":
                break
    return plans, errors


def _check_line(
    line: FulfillLineResponse,
    orders: OrderSet,
    seen: set[int],
    system: System,
    task: str,
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
    fline = orders.flines.get(fid)
    if fline is None:
        raise NotFoundError("LINE_NOT_FOUND", f"fulfillment line {fid} does not exist")
    header = orders.headers[fline.header_id]
    if header.status == "DOO_REFERENCE":
        raise StateError(
            "ORDER_SUPERSEDED",
            f"fulfillment line {fid} belongs to revision {header.revision} of order "
            f"{header.order_number}, which a newer revision replaced",
        )
    _check_task_state(fline, task)
    fs = system.code
    why = not_assigned(fline.sent_to, fs, may_answer_unassigned)
    if why is not None:
        raise StateError("LINE_NOT_ASSIGNED", f"fulfillment line {fid} {why}")
    line = _translated(line, system.maps, fs)
    _check_item(line, orders.lines[fline.order_line_id], system)
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
    check_length(line.billing_number, "BillingTransactionNumber", FulfillLine.billing_number, where)
    quantity = fline.quantity
    if status in ("SHIPPED", "RECEIVED") and line.shipped_quantity is not None:
        quantity = _check_shipped_quantity(line, fline, orders.lines[fline.order_line_id])
    return _Plan(line, fline, status, quantity)


def _translated(line: FulfillLineResponse, maps: ValueMaps, fs: str) -> FulfillLineResponse:
    if not maps:
        return line
    where = f"fulfillment line {line.fulfill_line_id}"
    return replace(
        line,
        status_code=translate(maps, "STATUS", line.status_code, fs, where),
        quantity_uom=translate(maps, "UOM", line.quantity_uom, fs, where),
    )


def _check_item(line: FulfillLineResponse, order_line: LineRow, system: System) -> None:
    """Refuse a line that names another item than the one ordered (``ProductNumber``
    in the response line), unless the fulfillment system's ``ITEM`` value map takes
    that item (the external value) to the ordered one (the internal value): an allowed
    substitution, whose item stays in the line's attributes with the rest it said."""
    named = line.attributes.get("ProductNumber")
    if not isinstance(named, str) or not named.strip():
        return
    named = named.strip()
    ordered = order_line.product_number
    if named == ordered or system.maps.inbound("ITEM", named) == ordered:
        return
    raise ValidationError(
        "ITEM_MISMATCH",
        f"fulfillment line {line.fulfill_line_id} was ordered as item {ordered!r}; the "
        f"response names {named!r}. Send the ordered item, or allow the substitution with "
        f"'omgw xref add {system.code} ITEM {named} {ordered}' and "
        f"'omgw source-system update {system.code} --cross-reference', then send the "
        "response again",
    )


def _check_task_state(fline: FlineRow, task: str) -> None:
    fid, status = fline.id, fline.status
    if status in TERMINAL:
        raise StateError("RESPONSE_AFTER_CLOSE", f"fulfillment line {fid} is already {status}")
    if task == "Return":
        if status != "AWAIT_RECEIVING" and not (status == "CANCEL_PENDING" and _is_return(fline)):
            raise StateError(
                "LINE_NOT_AWAITING_TASK",
                f"fulfillment line {fid} is {status}, not awaiting a return receipt",
            )
        return
    if task == "Shipment" and status in PENDING_CHANGE and not _is_return(fline):
        return  # goods that left while a change waited: the shipment wins
    if task == "Shipment" and status not in OPEN_FOR_SHIPMENT:
        if status in SHIPPED_OR_LATER or status in PENDING_CHANGE:
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


def _is_return(fline: FlineRow) -> bool:
    return fline.task_type == "Return"


def _proposed(fline: FlineRow) -> Decimal | None:
    """The quantity a waiting Update asks for the line, if any."""
    if fline.status != "CHANGE_PENDING":
        return None
    quantity = from_column(fline.change_json).get("quantity")
    return None if quantity is None else Decimal(str(quantity))


def _check_shipped_quantity(
    line: FulfillLineResponse, fline: FlineRow, order_line: LineRow
) -> Decimal:
    qty = line.shipped_quantity
    assert qty is not None
    check_quantity(qty, f"shipped quantity on fulfillment line {fline.id}")
    # a line whose quantity change waits may ship as changed: up to the larger of the two
    open_ = max(fline.quantity, _proposed(fline) or fline.quantity)
    if qty > open_:
        raise ValidationError(
            "QUANTITY_EXCEEDS_OPEN",
            f"shipped quantity {qty} on fulfillment line {fline.id} is more than its "
            f"open quantity {open_.normalize()}",
        )
    uom = order_line.uom_code
    if line.quantity_uom and line.quantity_uom.strip() != uom:
        raise ValidationError(
            "UOM_MISMATCH",
            f"shipped quantity on fulfillment line {fline.id} is in {line.quantity_uom!r}; "
            f"the line is ordered in {uom!r}",
        )
    return qty


def _reject_groups(
    plans: list[_Plan], errors: list[LineError], orders: OrderSet
) -> tuple[list[_Plan], list[LineError]]:
    """Drop every plan whose group holds a failed line; say why for each."""
    bad_groups = set()
    for e in errors:
        failed = orders.flines.get(e.fulfill_line_id) if e.fulfill_line_id else None
        if failed is not None:
            bad_groups.add(group_key(failed, orders.lines[failed.order_line_id]))
    keep: list[_Plan] = []
    rejected: list[LineError] = []
    for plan in plans:
        line = orders.lines[plan.fline.order_line_id]
        if group_key(plan.fline, line) in bad_groups:
            rejected.append(
                LineError(
                    "GROUP_REJECTED",
                    f"fulfillment line {plan.fline.id} was not applied: another line of "
                    f"ship set {line.ship_set_name} has an error",
                    plan.fline.id,
                )
            )
        else:
            keep.append(plan)
    return keep, rejected


def _error_outcome(err: LineError, orders: OrderSet) -> LineOutcome:
    fline = orders.flines.get(err.fulfill_line_id) if err.fulfill_line_id else None
    return LineOutcome(
        fulfill_line_id=err.fulfill_line_id,
        status="ERROR",
        fulfill_line_number=fline.fulfill_line_number if fline else None,
        task_instance_status=fline.status if fline else None,
        errors=(err,),
    )


# -- applying ----------------------------------------------------------------------------


#: a fulfillment line's fields, for the working copies of changed lines
_FIELDS = tuple(f.name for f in fields(FlineRow))


class _Draft:
    """The orders as the decision leaves them, built up change by change. A changed
    line is worked on as a dict of its values (one row is made of it at the end: a
    frozen row replaced per change costs more than the rest of the decision)."""

    def __init__(self, orders: OrderSet, now: datetime) -> None:
        self.orders = orders
        self.now = now
        self.decision = Decision()
        self.work: dict[int, dict[str, Any]] = {}
        self.of_line: dict[int, list[int]] = {line_id: [] for line_id in orders.lines}
        for fline in orders.flines.values():
            self.of_line[fline.order_line_id].append(fline.id)
        self._keys = 0

    def key(self) -> int:
        """A new row's id until it is written: negative, unique within the decision."""
        self._keys -= 1
        return self._keys

    def get(self, fline_id: int, name: str) -> Any:
        values = self.work.get(fline_id)
        if values is None:
            return getattr(self.orders.flines[fline_id], name)
        return values[name]

    def row(self, fline_id: int) -> FlineRow:
        values = self.work.get(fline_id)
        return self.orders.flines[fline_id] if values is None else FlineRow(**values)

    def set(self, fline_id: int, **changes: Any) -> None:
        values = self.work.get(fline_id)
        if values is None:
            row = self.orders.flines[fline_id]
            values = self.work[fline_id] = {name: getattr(row, name) for name in _FIELDS}
        values.update(changes)

    def note(self, header_id: int, entity: str, entity_id: int, old: str | None, new: str,
             reason: str) -> None:  # fmt: skip
        self.decision.history.append(
            StatusRecord(header_id, entity, entity_id, old, new, reason[:240], self.now)
        )

    def status(self, fline_id: int, new: str, reason: str) -> None:
        old = self.get(fline_id, "status")
        lifecycle.check_fline(old, new)
        self.note(self.get(fline_id, "header_id"), "FULFILL_LINE", fline_id, old, new, reason)
        self.set(fline_id, status=new)

    def add(self, fline: FlineRow, reason: str) -> None:
        self.work[fline.id] = {name: getattr(fline, name) for name in _FIELDS}
        self.of_line[fline.order_line_id].append(fline.id)
        self.note(fline.header_id, "FULFILL_LINE", fline.id, None, fline.status, reason)

    def finish(self) -> Decision:
        self.decision.flines = {i: FlineRow(**values) for i, values in self.work.items()}
        return self.decision


def _apply(draft: _Draft, plans: list[_Plan], fs: str, task: str, registry: Snapshot) -> None:
    orders = draft.orders
    reason = f"{task} response from {fs}"
    touched: dict[int, HeaderRow] = {}
    shipped: dict[int, list[int]] = {}
    for plan in plans:
        fid = plan.fline.id
        header = orders.headers[plan.fline.header_id]
        touched[header.id] = header
        if plan.response.attributes:
            # what each response said of the line, response after response
            current = draft.get(fid, "attributes_json")
            draft.set(fid, attributes_json=merged(current, plan.response.attributes))
        if plan.status in ("SHIPPED", "RECEIVED"):
            proposed = _proposed(draft.row(fid))
            waiting = draft.get(fid, "status") in PENDING_CHANGE
            if proposed is not None and plan.quantity == proposed != draft.get(fid, "quantity"):
                # shipped at the quantity the waiting Update asked: the system made it
                _take_change(draft, fid, proposed)
                waiting = False
            if plan.quantity < draft.get(fid, "quantity"):
                _split(draft, fid, plan.quantity, header, reason)
                if waiting:  # the rest waits for the answer; what shipped is decided
                    draft.set(fid, change_request_id=None, change_json=None)
                    waiting = False
            draft.set(
                fid,
                shipped_quantity=plan.quantity,
                actual_ship_date=plan.response.actual_ship_date or draft.now,
                tracking_number=plan.response.tracking_number,
            )
            if waiting:
                _refuse_change(draft, fid, fs, task)
            if plan.status == "SHIPPED":
                draft.status(fid, "SHIPPED", reason)
            shipped.setdefault(header.id, []).append(fid)
        elif plan.status == "BACKORDERED":
            current = draft.get(fid, "status")
            if current in PENDING_CHANGE:  # still waiting: a refusal returns it here
                change = from_column(draft.get(fid, "change_json"))
                draft.set(fid, change_json=to_column({**change, "prior": "BACKORDERED"}))
            elif current != "BACKORDERED":
                draft.status(fid, "BACKORDERED", reason)
        elif plan.status == "BILLED":
            draft.set(fid, billing_number=plan.response.billing_number)
            draft.status(fid, "BILLED", reason)
            draft.status(fid, "CLOSED", "fulfillment complete")
            draft.set(fid, task_type=None)
    after = "Return" if task == "Return" else "Shipment"
    for header_id, fline_ids in shipped.items():
        _after_shipment(draft, touched[header_id], fline_ids, fs, registry, after)
    for plan in plans:
        fline = plan.fline
        draft.decision.outcomes.append(
            LineOutcome(
                fulfill_line_id=fline.id,
                status="SUCCESS",
                fulfill_line_number=fline.fulfill_line_number,
                order_number=orders.headers[fline.header_id].order_number,
                line_number=orders.lines[fline.order_line_id].line_number,
                task_instance_status=draft.get(fline.id, "status"),
            )
        )
    for header in touched.values():
        _rollup(draft, header, reason)


def _refuse_change(draft: _Draft, fid: int, fs: str, task: str) -> None:
    """``fid`` was shipped (or received) while a change of it waited for ``fs``'s
    answer: what happened stands, the change is not made, and the line says why."""
    what = "received" if task == "Return" else "shipped"
    change = from_column(draft.get(fid, "change_json"))
    kind = change.get("kind", "Update")
    if task == "Return":  # back to awaiting receipt, from where the receipt moves it on
        draft.status(fid, str(change.get("prior") or "AWAIT_RECEIVING"), f"{fs}: {what}")
    if change.get("line") is not None:
        draft.decision.restored[draft.get(fid, "order_line_id")] = change["line"]
    draft.set(
        fid,
        change_request_id=None,
        change_json=None,
        change_error=(
            f"{fs} reported the line {what} before it answered the "
            f"{'cancel' if kind == 'Cancel' else 'change'}; the "
            f"{'cancel' if kind == 'Cancel' else 'change'} was not made"
        ),
    )


def _take_change(draft: _Draft, fid: int, quantity: Decimal) -> None:
    """The waiting Update of ``fid`` was made: the line ships at ``quantity`` (and the
    date the Update carried); the system's answer, when it comes, changes nothing."""
    change = from_column(draft.get(fid, "change_json"))
    when = change.get("scheduled_ship_date")
    draft.set(
        fid,
        quantity=quantity,
        change_request_id=None,
        change_json=None,
        change_error=None,
        **({"scheduled_ship_date": datetime.fromisoformat(str(when))} if when else {}),
    )


def _rest_change(fline: FlineRow, shipped: Decimal) -> tuple[str, str | None]:
    """What the unshipped rest of a line waiting for a change still waits for: a cancel
    waits as it was; an Update now asks for what it asked less what shipped (nothing
    left: the rest is to be canceled)."""
    change = from_column(fline.change_json)
    proposed = _proposed(fline)
    if proposed is None:
        return fline.status, fline.change_json
    if proposed - shipped > 0:
        return fline.status, to_column({**change, "quantity": str(proposed - shipped)})
    return "CANCEL_PENDING", to_column({"kind": "Cancel", "prior": change.get("prior")})


def _split(draft: _Draft, fid: int, shipped: Decimal, header: HeaderRow, reason: str) -> None:
    """Split off the unshipped remainder of ``fid`` as a new line awaiting shipment (or
    receipt); a remainder whose change is still waiting keeps waiting for it."""
    fline = draft.row(fid)
    waits = fline.status in PENDING_CHANGE
    awaiting = "AWAIT_RECEIVING" if _is_return(fline) else "AWAIT_SHIP"
    rest_status, rest_change = _rest_change(fline, shipped) if waits else (awaiting, None)
    line = draft.orders.lines[fline.order_line_id]
    number = max(draft.get(i, "fulfill_line_number") for i in draft.of_line[line.id]) + 1
    # the remainder stays on the same request, routed by the same rule
    rest = replace(
        fline,
        id=draft.key(),
        fulfill_line_number=number,
        quantity=fline.quantity - shipped,
        shipped_quantity=None,
        status=rest_status,
        task_type=fline.task_type,
        split_from_id=fline.id,
        actual_ship_date=None,
        billing_number=None,
        tracking_number=None,
        routing_error=None,
        attributes_json=None,
        change_request_id=fline.change_request_id if waits else None,
        change_json=rest_change,
        change_error=None,
    )
    draft.set(fid, quantity=shipped)
    draft.add(rest, f"split from fulfillment line {fid}: {reason}")
    draft.decision.splits.append(Split(fid, rest.id, fline.quantity))
    draft.decision.outcomes.append(
        LineOutcome(
            fulfill_line_id=rest.id,
            status="SUCCESS",
            fulfill_line_number=number,
            order_number=header.order_number,
            line_number=line.line_number,
            task_instance_status=rest.status,
            split_reference_id=fid,
        )
    )


def _after_shipment(
    draft: _Draft,
    header: HeaderRow,
    fline_ids: list[int],
    fs: str,
    registry: Snapshot,
    after: str = "Shipment",
) -> None:
    """Move shipped lines to their next external step (billing), or close them.

    Billing is routed like any step; when routing has nothing for it (no rule and no
    Invoice default), it goes where the shipment went, as Oracle's default process
    bills through the fulfillment system that shipped. The lines passed the hold check,
    so none of them waits for a hold here.
    """
    router = Router(registry)
    routed: dict[Any, NewRequest] = {}
    fallback: dict[int | None, list[int]] = {}
    for fid in fline_ids:
        fline = draft.row(fid)
        process = process_of(registry, fline.process_id)
        stage = next_external(process, after)
        if stage is None:
            if draft.get(fid, "status") == "AWAIT_RECEIVING":
                draft.status(fid, "AWAIT_BILLING", "received")
                draft.status(fid, "BILLED", "nothing to credit: no step after receipt")
            draft.status(fid, "CLOSED", "process complete: no step after shipment")
            draft.set(fid, task_type=None)
            continue
        if router.active:
            line = draft.orders.lines[fline.order_line_id]
            placement = place(registry, router, header, line, fline, BILLED_WHERE_SHIPPED, None)
            if placement.connector is not None:
                _route_billing(draft, header, fid, placement, routed)
                continue
            if placement.chosen is not None:
                # a rule chose a connector that cannot take it (disabled, say): the bill
                # still goes out, where the shipment went, and the line says why
                draft.set(fid, routing_error=placement.error)
        fallback.setdefault(fline.sent_via, []).append(fid)
    for connector_id, group in fallback.items():
        connector = registry.connectors_by_id.get(connector_id) if connector_id else None
        request = NewRequest(
            draft.key(), header.id, "Invoice", fs, connector.id if connector else None
        )
        draft.decision.requests.append(request)
        for fid in group:
            _assign(draft, fid, request, "billing requested")


def _route_billing(
    draft: _Draft,
    header: HeaderRow,
    fid: int,
    placement: Placement,
    requests: dict[Any, NewRequest],
) -> None:
    """Send ``fid``'s bill where routing placed it: one request per connector and actions."""
    assert placement.connector is not None
    draft.set(
        fid,
        rule_set_version=placement.version,
        routing_rule_id=placement.rule_id,
        routing_error=None,
    )
    request = requests.get(placement.key)
    if request is None:
        request = requests[placement.key] = NewRequest(
            draft.key(), header.id, "Invoice", placement.system, placement.connector.id,
            placement.operation, placement.interface_type,
        )  # fmt: skip
        draft.decision.requests.append(request)
    _assign(draft, fid, request, placement.reason)


def _assign(draft: _Draft, fid: int, request: NewRequest, reason: str) -> None:
    request.fline_ids.append(fid)
    draft.set(
        fid,
        request_id=request.id,
        task_type=request.task_type,
        sent_to=request.fulfillment_system,
        sent_via=request.connector_id,
    )
    if draft.get(fid, "status") != "AWAIT_BILLING":
        draft.status(fid, "AWAIT_BILLING", reason)


def _rollup(draft: _Draft, header: HeaderRow, reason: str) -> None:
    """Recompute each order line's and the header's status from their children."""
    statuses: list[str] = []
    for line in draft.orders.lines.values():
        if line.header_id != header.id:
            continue
        new = lifecycle.rollup_line(draft.get(i, "status") for i in draft.of_line[line.id])
        if new != line.status:
            draft.note(header.id, "LINE", line.id, line.status, new, reason)
            draft.decision.lines[line.id] = new
        statuses.append(new)
    new = lifecycle.rollup_header(header.status, statuses)
    if new != header.status:
        lifecycle.check_header(header.status, new)
        draft.note(header.id, "HEADER", header.id, header.status, new, reason)
        draft.decision.headers[header.id] = new
