"""The requests a revision changes at fulfillment systems.

A request that never reached its system and names a line the revision changed is
withdrawn (:func:`withdraw_unsent`); a line a system holds waits while an ``Update`` or
``Cancel`` request goes to that system through the line's connector, one request per
connector and original request (:func:`send_changes`), in the revision's transaction.
The system's answer is applied by :mod:`gateway.orders.compensation`.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.orders.changes import AWAITING_SYSTEM, RevisionPlan
from gateway.orders.outgoing import ChangeNote, OutboxWriter
from gateway.orders.rows import FlineRow
from gateway.persistence.kept_attributes import from_column
from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    OrderHeader,
    OrderLine,
    OutboxMessage,
    utcnow,
)
from gateway.registry.registry_snapshot import Snapshot

__all__ = ["Compensations", "send_changes", "withdraw_unsent"]

#: the lines of each (original request, ``Update`` or ``Cancel``) as the change describes them
Compensations = dict[tuple[int, str], list[tuple[OrderLine, FlineRow]]]


def withdraw_unsent(
    session: Session, header: OrderHeader, plan: RevisionPlan, unsent: frozenset[int], why: str
) -> list[tuple[OrderLine, FulfillLine]]:
    """A request that never reached its system and names a line the revision changed
    is withdrawn (its outbox rows discarded: never sent, never replayed); returns its
    lines still open, to be requested anew as they now are."""
    changed = {fc.fline_id for change in plan.changes for fc in change.flines}
    flines = [f for line in header.lines for f in line.fulfill_lines]
    stale = {f.request_id for f in flines if f.id in changed and f.request_id in unsent}
    if not stale:
        return []
    now = utcnow()
    for request_id in stale:
        request = session.get(FulfillmentRequest, request_id)
        assert request is not None
        request.status = "SUPERSEDED"
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.request_id.in_(stale),
            OutboxMessage.status.in_(("READY", "PARKED")),
        )
        .values(
            status="DISCARDED",
            last_error=f"withdrawn before it was delivered: {why} changed its lines",
            parked_at=now,
            lease_owner=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return [
        (line, f)
        for line in header.lines
        for f in line.fulfill_lines
        if f.request_id in stale and f.status in AWAITING_SYSTEM
    ]


def send_changes(
    session: Session,
    registry: Snapshot,
    reply_to: str | None,
    header: OrderHeader,
    compensations: Compensations,
    plan: RevisionPlan,
) -> None:
    """One ``Update`` or ``Cancel`` request per original request and kind, through the
    original's connector, for the lines waiting in ``compensations``; each line waits on
    its request (``change_request_id``) until the system answers."""
    outbox = OutboxWriter(session, registry, reply_to)
    for (original_id, kind), pairs in compensations.items():
        original = session.get(FulfillmentRequest, original_id)
        assert original is not None
        request = FulfillmentRequest(
            header_id=header.id,
            task_type=original.task_type,
            fulfillment_system=original.fulfillment_system,
            connector_id=original.connector_id,
            operation=kind,
            interface_type=original.interface_type,
            status="SENT",
            original_request_id=original.id,
        )
        session.add(request)
        session.flush()
        for _, row in pairs:
            fline = session.get(FulfillLine, row.id)
            assert fline is not None
            fline.change_request_id = request.id
        code, reason = plan.reason_code, plan.reason
        if code is None and reason is None:
            first = from_column(pairs[0][0].attributes_json)
            code = first.get("CancelReasonCode") if kind == "Cancel" else None
            reason = first.get("CancelReason") if kind == "Cancel" else None
        note = ChangeNote(original.id, str(code) if code else None, str(reason) if reason else None)
        outbox.request(request, header, pairs, note)
