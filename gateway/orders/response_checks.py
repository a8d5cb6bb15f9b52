"""Checking a fulfillment response before any of it applies: pure, over plain rows.

The header (its fulfillment system, identifier and task type) is checked against the
registry snapshot; each line against the orders it belongs to
(:class:`~gateway.orders.rows.OrderSet`): that it exists, is not held, belongs to the
current revision, was sent to the answering system, names the ordered item, reports a
status its task allows and no more than its open quantity. A line that passes becomes a
:class:`LinePlan`, which :mod:`gateway.orders.response_effects` applies; under
``REJECT_ERROR_GROUPS`` :func:`reject_groups` drops the plans whose group holds a bad line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from connectors.connector_specs import ValueMaps
from gateway.errors import GatewayError, LineError, NotFoundError, StateError, ValidationError
from gateway.lifecycle import OPEN_FOR_SHIPMENT, PENDING_CHANGE, SHIPPED_OR_LATER, TERMINAL
from gateway.orders.active_holds import hold_on
from gateway.orders.limits import check_length, check_quantity
from gateway.orders.message_values import FulfillLineResponse, FulfillmentResponse
from gateway.orders.rows import FlineRow, LineRow, OrderSet
from gateway.orders.xref import translate
from gateway.persistence.kept_attributes import from_column
from gateway.persistence.models import FulfillLine, FulfillmentResponseRecord
from gateway.registry.registry_snapshot import Snapshot, System

__all__ = [
    "TASK_STATUSES",
    "LinePlan",
    "check_header",
    "check_lines",
    "fulfillment_system",
    "group_key",
    "is_return_fline",
    "not_assigned",
    "proposed_quantity",
    "reject_groups",
]

#: Per task type (``IntegrationContextCode``): the line statuses a response may report,
#: the first being the default when ``StatusCode`` is omitted.
TASK_STATUSES: dict[str, tuple[str, ...]] = {
    "Shipment": ("SHIPPED", "BACKORDERED"),
    "Invoice": ("BILLED",),
    "Return": ("RECEIVED",),
}


@dataclass(frozen=True)
class LinePlan:
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


def fulfillment_system(registry: Snapshot, code: str | None) -> System:
    """The registered fulfillment system ``code`` names; refused when it is missing,
    unknown or not enabled for fulfillment."""
    if not code or not code.strip():
        raise ValidationError("MISSING_KEY", "FulfillmentSystem is required")
    ss = registry.systems.get(code.strip())
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


def check_header(registry: Snapshot, resp: FulfillmentResponse) -> tuple[System, str, str]:
    """The response's system, identifier and task type, each checked."""
    ss = fulfillment_system(registry, resp.fulfillment_system)
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


def check_lines(
    lines: Sequence[FulfillLineResponse],
    system: System,
    task: str,
    option: str,
    orders: OrderSet,
    may_answer_unassigned: bool,
) -> tuple[list[LinePlan], list[LineError]]:
    plans: list[LinePlan] = []
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
) -> LinePlan:
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
    return LinePlan(line, fline, status, quantity)


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
        if status != "AWAIT_RECEIVING" and not (
            status == "CANCEL_PENDING" and is_return_fline(fline)
        ):
            raise StateError(
                "LINE_NOT_AWAITING_TASK",
                f"fulfillment line {fid} is {status}, not awaiting a return receipt",
            )
        return
    if task == "Shipment" and status in PENDING_CHANGE and not is_return_fline(fline):
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


def is_return_fline(fline: FlineRow) -> bool:
    """Whether ``fline`` is a return line (awaits a receipt, not a shipment)."""
    return fline.task_type == "Return"


def proposed_quantity(fline: FlineRow) -> Decimal | None:
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
    open_ = max(fline.quantity, proposed_quantity(fline) or fline.quantity)
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


def reject_groups(
    plans: list[LinePlan], errors: list[LineError], orders: OrderSet
) -> tuple[list[LinePlan], list[LineError]]:
    """Drop every plan whose group holds a failed line; say why for each."""
    bad_groups = set()
    for e in errors:
        failed = orders.flines.get(e.fulfill_line_id) if e.fulfill_line_id else None
        if failed is not None:
            bad_groups.add(group_key(failed, orders.lines[failed.order_line_id]))
    keep: list[LinePlan] = []
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
