"""Applying checked response lines to a :class:`~gateway.orders.decision_draft.Draft`.

Pure, over plain rows: a shipped or received line takes its quantity, date and tracking
number (a part shipment splits off the rest as a new line; a change that waited is made
or refused by what shipped), a backorder or a bill moves its status, shipped lines go on
to their next step (billing, routed like any step, else where the shipment went, or
closing), and each touched order's lines and header roll up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway import lifecycle
from gateway.lifecycle import PENDING_CHANGE
from gateway.orders.decision_draft import Draft, Split
from gateway.orders.line_routing import Router
from gateway.orders.message_values import LineOutcome
from gateway.orders.placement import BILLED_WHERE_SHIPPED, Placement, place
from gateway.orders.response_checks import LinePlan, is_return_fline, proposed_quantity
from gateway.orders.rows import FlineRow, HeaderRow, NewRequest
from gateway.orders.steps import next_external, process_of
from gateway.persistence.kept_attributes import from_column, merged, to_column
from gateway.registry.registry_snapshot import Snapshot

__all__ = ["apply_plans"]


def apply_plans(
    draft: Draft, plans: list[LinePlan], fs: str, task: str, registry: Snapshot
) -> None:
    """Apply ``plans`` (a ``task`` response from ``fs``) to ``draft``, in order: each
    line's effect, then the next steps of what shipped, the outcomes and roll-ups."""
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
            proposed = proposed_quantity(draft.row(fid))
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


def _refuse_change(draft: Draft, fid: int, fs: str, task: str) -> None:
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


def _take_change(draft: Draft, fid: int, quantity: Decimal) -> None:
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
    proposed = proposed_quantity(fline)
    if proposed is None:
        return fline.status, fline.change_json
    if proposed - shipped > 0:
        return fline.status, to_column({**change, "quantity": str(proposed - shipped)})
    return "CANCEL_PENDING", to_column({"kind": "Cancel", "prior": change.get("prior")})


def _split(draft: Draft, fid: int, shipped: Decimal, header: HeaderRow, reason: str) -> None:
    """Split off the unshipped remainder of ``fid`` as a new line awaiting shipment (or
    receipt); a remainder whose change is still waiting keeps waiting for it."""
    fline = draft.row(fid)
    waits = fline.status in PENDING_CHANGE
    awaiting = "AWAIT_RECEIVING" if is_return_fline(fline) else "AWAIT_SHIP"
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
    draft: Draft,
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
    draft: Draft,
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


def _assign(draft: Draft, fid: int, request: NewRequest, reason: str) -> None:
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


def _rollup(draft: Draft, header: HeaderRow, reason: str) -> None:
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
