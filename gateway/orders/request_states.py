"""Where each fulfillment request of an order stands with its system, for a revision.

A line whose request reached its system (or may have) changes only when that system
agrees; one whose request surely never left may be withdrawn and asked for anew; one
whose request the system refused changes at once. The outbox rows say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.persistence.models import FulfillmentRequest, OrderHeader, OutboxMessage

__all__ = ["RequestStates", "request_states"]


@dataclass(frozen=True)
class RequestStates:
    """The order's requests as its fulfillment systems stand with them."""

    #: reached (or may have reached) their system, which has not refused them
    held: frozenset[int]
    #: surely not reached their system yet: waiting unsent, or parked unsent
    unsent: frozenset[int]


_SENT_ROWS = (
    select(
        OutboxMessage.id,
        OutboxMessage.request_id,
        OutboxMessage.status,
        OutboxMessage.uncertain,
        OutboxMessage.lease_owner,
    )
    .where(OutboxMessage.header_id == bindparam("header"))
    .where(OutboxMessage.kind == "FULFILLMENT_REQUEST")
    .where(OutboxMessage.request_id.is_not(None))
)


def request_states(session: Session, header: OrderHeader) -> RequestStates:
    """Which of the order's requests its fulfillment systems hold. A row being sent, or
    one whose earlier attempt may have arrived (``uncertain``), counts as held: only one
    surely never delivered may be withdrawn.

    On PostgreSQL the rows are locked, so no worker claims one while the revision
    decides; a row a worker has locked already (claiming it, or recording a send) is
    not waited for, which could deadlock with the order's lock it may take next: it
    counts as being sent."""
    params = {"header": header.id}
    rows: dict[int, list[Any]] = {}
    for row in session.execute(_SENT_ROWS, params):
        rows.setdefault(row.request_id, []).append(row)
    busy: set[int] = set()
    if rows and session.get_bind().dialect.name == "postgresql":
        locked = _SENT_ROWS.with_for_update(of=OutboxMessage, skip_locked=True)
        free = {row.id for row in session.execute(locked, params)}
        busy = {r.id for sent in rows.values() for r in sent} - free
    refused = {
        r.id
        for r in session.scalars(
            select(FulfillmentRequest).where(
                FulfillmentRequest.header_id == header.id,
                FulfillmentRequest.status.in_(("REJECTED", "SUPERSEDED")),
            )
        )
    }
    held, unsent = set(), set()
    for request_id, sent in rows.items():
        if request_id in refused:
            continue
        if all(
            r.status in ("READY", "PARKED")
            and not r.uncertain
            and r.lease_owner is None
            and r.id not in busy
            for r in sent
        ):
            unsent.add(request_id)
        else:
            held.add(request_id)
    return RequestStates(frozenset(held), frozenset(unsent))
