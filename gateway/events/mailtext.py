"""The text of an e-mail notification: a subject a person can triage by, and a body
that names the order, the change and every line it touched."""

from __future__ import annotations

from connectors.push_payload import EventHeader
from gateway.persistence.models import OrderHeader

__all__ = ["notification"]

_WHAT = {
    "OrderHeaderStatusUpdate": "status update",
    "FlineStatusUpdate": "fulfillment line status update",
    "FlineClosed": "fulfillment line closed",
    "HOLD": "hold",
    "SPLIT": "fulfillment line split",
    "JEOPARDY": "jeopardy",
    "OrderAttributeUpdate": "attribute update",
}


def _pair(old: object, new: object) -> str:
    return f"{old or '(none)'} → {new or '(none)'}"


def notification(event: EventHeader, header: OrderHeader) -> tuple[str, str]:
    """(subject, body) for ``event`` on ``header``."""
    what = _WHAT.get(event.event_code, event.event_code)
    detail = ""
    if event.event_code == "OrderHeaderStatusUpdate":
        detail = f": {_pair(event.status_prior_value, event.status_new_value)}"
    elif event.event_code == "HOLD":
        detail = f": {event.hold_code}"
    elif event.event_code == "JEOPARDY":
        priorities = {f.jeopardy_priority for ln in event.lines for f in ln.fulfillment_lines}
        detail = f": {', '.join(sorted(p for p in priorities if p))}"
    subject = f"[omgw] Order {header.order_number} ({header.source_order_number}) {what}{detail}"
    body = [
        f"Event:        {event.event_code}",
        f"Order:        {header.order_number} (header id {header.id})",
        f"Source order: {header.source_system.code} {header.source_order_number} "
        f"(id {header.source_order_id}, revision {header.revision})",
        f"Order status: {header.status}",
    ]
    if event.event_code == "OrderHeaderStatusUpdate":
        body.append(f"Change:       {_pair(event.status_prior_value, event.status_new_value)}")
    if event.hold_code:
        body.append(f"Hold:         {event.hold_code} {event.hold_comments or ''}".rstrip())
    for line in event.lines:
        number = line.orchestration_order_line_number or line.orchestration_order_line_id
        parts = [f"Line {number}"]
        if line.status_code_new_value:
            parts.append(_pair(line.status_code_old_value, line.status_code_new_value))
        if line.pre_split_ordered_quantity is not None:
            parts.append(f"split from quantity {line.pre_split_ordered_quantity}")
        body.append("  ".join(parts))
        for f in line.fulfillment_lines:
            bits = [f"  fulfillment line {f.fulfillment_order_line_id}"]
            if f.status_code_new_value:
                bits.append(_pair(f.status_code_old_value, f.status_code_new_value))
            if f.jeopardy_priority:
                bits.append(f"jeopardy {f.jeopardy_priority}")
            if f.ordered_quantity is not None:
                bits.append(f"ordered {f.ordered_quantity}, shipped {f.shipped_quantity or 0}")
            if f.ordered_qty_new is not None:
                bits.append(f"quantity {_pair(f.ordered_qty_old, f.ordered_qty_new)}")
            if f.schedule_ship_date_new is not None:
                bits.append(
                    f"scheduled {_pair(f.schedule_ship_date_old, f.schedule_ship_date_new)}"
                )
            if f.cancel_flag_new_value:
                bits.append("canceled" if f.cancel_flag_new_value == "Y" else "closed")
            body.append("  ".join(bits))
    body.append("")
    body.append(f"See it with: omgw orders show {header.order_number}")
    return subject, "\n".join(body) + "\n"
