"""Planning a new order or revision over plain values: no database here.

The store inserts the new header first (:func:`header_values`; its id and order number
are attributes routing rules may test). :func:`plan_order` then takes the checked
:class:`~gateway.orders.message_values.OrderInput`, that header and the registry snapshot, and
returns a :class:`PlannedOrder`: the rows to insert as they end (lines, one fulfillment
line each, the requests), the header's final status, the history rows, and the holds to
apply. Each line takes the newest version of the
default process and runs its internal steps (Schedule sets the scheduled ship date,
the requested one else now, and the line becomes ``SCHEDULED``; Reservation picks the
warehouse, the requested organization else :data:`DEFAULT_WAREHOUSE`), then its
shipment is placed (:mod:`gateway.orders.placement`) unless a hold stops it. Rows have
negative ids until the store writes them (:mod:`gateway.orders.order_store`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from gateway import lifecycle
from gateway.events.recorder import StatusRecord
from gateway.orchestration_model import DEFAULT_PROCESS, RETURN_PROCESS
from gateway.orders.line_routing import Router
from gateway.orders.message_values import OrderInput
from gateway.orders.placement import AWAITING, place
from gateway.orders.rows import FlineRow, HeaderRow, LineRow, NewRequest, ReturnReference
from gateway.persistence.kept_attributes import to_column
from gateway.registry.registry_snapshot import Snapshot, System

__all__ = ["DEFAULT_UOM", "DEFAULT_WAREHOUSE", "PlannedOrder", "header_values", "plan_order"]

DEFAULT_UOM = "Ea"
#: the organization a reservation picks when the line names none
DEFAULT_WAREHOUSE = "M1"


@dataclass
class PlannedOrder:
    """A new order as it ends its first transaction; ids below zero are placeholders."""

    header: HeaderRow
    lines: list[LineRow]
    line_values: list[dict[str, Any]]
    flines: list[FlineRow]
    requests: list[NewRequest] = field(default_factory=list)
    #: (order line id or None for the order, hold code, comments), as given
    holds: list[tuple[int | None, str | None, str | None]] = field(default_factory=list)
    history: list[StatusRecord] = field(default_factory=list)
    #: how many history rows come before the holds (the order's creation)
    created_rows: int = 0


def header_values(
    order: OrderInput,
    system: System,
    revision: str,
    seq: int,
    batch_name: str | None,
    order_number: str | None,
) -> dict[str, Any]:
    """The new header's columns as inserted (``DOO_DRAFT``); ``order_number`` is the
    current revision's, or None for a new order (numbered once its id is known)."""
    return {
        "order_number": order_number or "",
        "source_system_id": system.id,
        "source_order_id": str(order.source_order_id).strip(),
        "source_order_number": str(order.source_order_number).strip(),
        "revision": revision,
        "revision_seq": seq,
        "status": "DOO_DRAFT",
        "batch_name": batch_name,
        "buying_party_name": order.buying_party_name,
        "buying_party_number": order.buying_party_number,
        "transaction_type_code": order.transaction_type_code,
        "currency_code": order.currency_code,
        "customer_po_number": order.customer_po_number,
        "business_unit_name": order.business_unit_name,
        "transaction_on": order.transaction_on,
        "requested_ship_date": order.requested_ship_date,
        "attributes_json": to_column(order.attributes),
    }


def plan_order(
    order: OrderInput,
    header: HeaderRow,
    *,
    registry: Snapshot,
    default_fs: str | None,
    now: datetime,
    returns: Mapping[str, ReturnReference] | None = None,
) -> PlannedOrder:
    """``order`` (checked, in our terms) under the new ``header``, as it ends; the lines
    in ``returns`` (by source line id) are return lines of the lines given there."""
    returns = returns or {}
    plan = PlannedOrder(header, [], [], [])
    _note(plan, "HEADER", header.id, None, header.status, "order imported", now)
    count = len(order.lines)
    for number, li in enumerate(order.lines, start=1):
        ref = returns.get(str(li.source_line_id).strip())
        values = {
            "header_id": header.id,
            "line_number": number,
            "source_line_id": str(li.source_line_id).strip(),
            "source_line_number": (li.source_line_number or str(number)).strip(),
            "product_number": str(li.product_number).strip(),
            "product_description": li.product_description,
            "ordered_quantity": li.quantity,
            "uom_code": (li.uom_code or DEFAULT_UOM).strip(),
            "ship_set_name": li.ship_set_name,
            "requested_fulfillment_org": li.requested_fulfillment_org,
            "requested_ship_date": li.requested_ship_date or order.requested_ship_date,
            "status": "CREATED",
            "attributes_json": to_column(li.attributes),
            "category": "RETURN" if ref is not None else "ORDER",
            "reference_line_id": ref.line_id if ref is not None else None,
            "reference_fline_id": ref.fline_id if ref is not None else None,
        }
        plan.line_values.append(values)
        plan.lines.append(_row(LineRow, -number, values))
    for line in plan.lines:
        plan.flines.append(
            FlineRow(
                id=-count - line.line_number, header_id=header.id,
                order_line_id=line.id, fulfill_line_number=1, quantity=line.ordered_quantity,
                shipped_quantity=None, status="CREATED", task_type=_task(line),
                request_id=None, split_from_id=None,
                scheduled_ship_date=line.requested_ship_date, actual_ship_date=None,
                billing_number=None, tracking_number=None, rule_set_version=None,
                routing_rule_id=None, routing_error=None, process_id=None, warehouse=None,
                attributes_json=None,
            )
        )  # fmt: skip
    for fline in plan.flines:
        _note(plan, "FULFILL_LINE", fline.id, None, "CREATED", "fulfillment line created", now)
    plan.created_rows = len(plan.history)
    plan.holds = [(None, h.hold_code, h.comments) for h in order.holds] + [
        (line.id, h.hold_code, h.comments)
        for line, li in zip(plan.lines, order.lines, strict=True)
        for h in li.holds
    ]
    _start(plan, registry, default_fs, now)
    _set_header(plan, "OPEN", "order submitted", now)
    _rollup(plan, "order submitted", now)
    return plan


def _task(line: LineRow) -> str:
    """A line's first external task: receiving a return, else shipping."""
    return "Return" if line.category == "RETURN" else "Shipment"


def _row(row_type: Any, row_id: int, values: dict[str, Any]) -> Any:
    names = row_type.__dataclass_fields__
    return row_type(id=row_id, **{k: v for k, v in values.items() if k in names})


def _note(plan: PlannedOrder, entity: str, entity_id: int, old: str | None, new: str,
          reason: str, now: datetime) -> None:  # fmt: skip
    record = StatusRecord(plan.header.id, entity, entity_id, old, new, reason[:240], now)
    plan.history.append(record)


def _set_fline(plan: PlannedOrder, index: int, new: str, reason: str, now: datetime) -> None:
    fline = plan.flines[index]
    lifecycle.check_fline(fline.status, new)
    _note(plan, "FULFILL_LINE", fline.id, fline.status, new, reason, now)
    plan.flines[index] = replace(fline, status=new)


def _set_header(plan: PlannedOrder, new: str, reason: str, now: datetime) -> None:
    old = plan.header.status
    if old == new:
        return
    lifecycle.check_header(old, new)
    _note(plan, "HEADER", plan.header.id, old, new, reason, now)
    plan.header = replace(plan.header, status=new)


def _start(plan: PlannedOrder, registry: Snapshot, default_fs: str | None, now: datetime) -> None:
    """Run the new lines through the internal steps up to their first external step, and
    place that step for each line no hold stops."""
    processes = {
        "Shipment": registry.newest.get(DEFAULT_PROCESS.name),
        "Return": registry.newest.get(RETURN_PROCESS.name),
    }
    for i, fline in enumerate(plan.flines):
        line = plan.lines[i]
        process = processes[_task(line)]
        steps = process.steps if process is not None else ()
        changes: dict[str, Any] = {"process_id": process.id if process is not None else None}
        for step in steps:
            if step.kind == "EXTERNAL":
                break
            if step.task_type == "Schedule":
                changes["scheduled_ship_date"] = (
                    fline.scheduled_ship_date or line.requested_ship_date or now
                )
                plan.flines[i] = replace(plan.flines[i], **changes)
                _set_fline(plan, i, "SCHEDULED", f"scheduled by step {step.name}", now)
            elif step.task_type == "Reservation":
                changes["warehouse"] = line.requested_fulfillment_org or DEFAULT_WAREHOUSE
        if _task(line) == "Return":  # goods come back to the organization named, or M1
            changes["warehouse"] = line.requested_fulfillment_org or DEFAULT_WAREHOUSE
        plan.flines[i] = replace(plan.flines[i], **changes)
    held = {line_id for line_id, _, _ in plan.holds}
    if None in held:  # an order hold stops every line; releasing it requests them
        return
    router = Router(registry)
    requests: dict[Any, NewRequest] = {}
    next_key = -2 * len(plan.lines)
    for i, fline in enumerate(plan.flines):
        line = plan.lines[i]
        if line.id in held:
            continue
        task = _task(line)
        p = place(registry, router, plan.header, line, fline, task, default_fs)
        if p.routed:
            fline = plan.flines[i] = replace(
                fline, rule_set_version=p.version, routing_rule_id=p.rule_id, routing_error=p.error
            )
        if not p.placed:
            _set_fline(plan, i, "ROUTING_ERROR", p.reason, now)
            continue
        request = requests.get((task, p.key))
        if request is None:
            next_key -= 1
            request = requests[(task, p.key)] = NewRequest(
                next_key, plan.header.id, task, p.system,
                p.connector.id if p.connector is not None else None, p.operation,
                p.interface_type,
            )  # fmt: skip
            plan.requests.append(request)
        request.fline_ids.append(fline.id)
        plan.flines[i] = replace(
            fline,
            request_id=request.id,
            task_type=task,
            sent_to=request.fulfillment_system,
            sent_via=request.connector_id,
        )
        if fline.status != AWAITING[task]:
            _set_fline(plan, i, AWAITING[task], p.reason, now)


def _rollup(plan: PlannedOrder, reason: str, now: datetime) -> None:
    statuses = []
    for i, line in enumerate(plan.lines):
        new = lifecycle.rollup_line([plan.flines[i].status])
        if new != line.status:
            _note(plan, "LINE", line.id, line.status, new, reason, now)
            plan.line_values[i]["status"] = new
            plan.lines[i] = _row(LineRow, line.id, plan.line_values[i])
        statuses.append(new)
    new = lifecycle.rollup_header(plan.header.status, statuses)
    _set_header(plan, new, reason, now)
