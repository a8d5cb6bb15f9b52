"""What a demo run came to: the summary ``omgw demo`` prints last and returns.

:class:`DemoSummary` counts the first batch's orders, messages and events;
:class:`ChangesSummary` what the chapter of changes after release came to. The CLI fails
the run when an order did not close; the tests read the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.persistence.models import DeliveryAttempt, FulfillLine, OrderHeader, OutboxMessage
from gateway.runtime import Runtime

__all__ = ["ChangesSummary", "DemoSummary", "read_summary"]


@dataclass(frozen=True)
class ChangesSummary:
    """The chapter of changes after release, as the parties saw it."""

    #: (operation, answer) of each change the asynchronous warehouse received
    changes: tuple[tuple[str, str], ...]
    #: returns the synchronous warehouse received, and the credit memos it billed
    returns: int
    credits: tuple[str, ...]
    #: the fault code of each return refused at intake
    refused: tuple[str, ...]
    #: chapter orders closed, of those imported
    closed: int
    orders: int
    seconds: float = 0.0

    def line(self) -> str:
        made = ", ".join(f"{op} {answer}" for op, answer in self.changes) or "none"
        return (
            f"changes:           {made}; {self.returns} return(s) received, "
            f"{len(self.credits)} credited, {len(self.refused)} refused; "
            f"{self.closed}/{self.orders} closed in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class DemoSummary:
    """What a demo run came to: :meth:`lines` prints it."""

    orders: int
    closed: int
    fulfillment_lines: int
    messages: int
    delivered: int
    parked: int
    retries: int
    callbacks: int
    seconds: float
    events: dict[str, int]
    event_messages: int = 0
    #: messages the simulated mail server received (notifications and alerts)
    mails: int = 0
    #: requests parked by a refusal and replayed by the demo, as an operator would
    replayed: int = 0
    #: what the chapter of changes after release came to
    changes: ChangesSummary | None = None

    @property
    def events_received(self) -> int:
        return sum(self.events.values())

    def lines(self) -> list[str]:
        rate = self.closed / self.seconds if self.seconds else 0.0
        return [
            f"orders:            {self.orders} imported, {self.closed} closed",
            f"fulfillment lines: {self.fulfillment_lines}",
            f"messages sent:     {self.messages} ({self.delivered} delivered, "
            f"{self.parked} parked, {self.retries} retries)",
            f"callbacks:         {self.callbacks} from the asynchronous warehouse",
            f"events received:   {self.events_received} by the CRM subscriber"
            + (
                " (" + ", ".join(f"{code} {n}" for code, n in sorted(self.events.items())) + ")"
                if self.events
                else ""
            ),
            f"replayed:          {self.replayed} parked request(s), as an operator would",
            *([self.changes.line()] if self.changes is not None else []),
            f"e-mails received:  {self.mails} by the simulated mail server",
            f"time:              {self.seconds:.1f} s ({rate:.1f} orders/s closed)",
        ]


def read_summary(
    runtime: Runtime,
    numbers: list[str],
    callbacks: int,
    seconds: float,
    events: dict[str, int],
) -> DemoSummary:
    """The first batch's summary: what the database holds of orders ``numbers``, with the
    counts the parties keep (``callbacks``, ``events`` received by code)."""
    with runtime.read_sessions() as s:
        closed = s.scalar(
            select(func.count())
            .select_from(OrderHeader)
            .where(OrderHeader.order_number.in_(numbers), OrderHeader.status == "CLOSED")
        )
        flines = s.scalar(
            select(func.count())
            .select_from(FulfillLine)
            .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
            .where(OrderHeader.order_number.in_(numbers))
        )
        statuses = dict(
            s.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.order_number.in_(numbers))
                .group_by(OutboxMessage.status)
            ).all()
        )
        event_messages = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_number.in_(numbers), OutboxMessage.kind == "BUSINESS_EVENT")
        )
        retries = s.scalar(
            select(func.count())
            .select_from(DeliveryAttempt)
            .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.outbox_id)
            .where(OutboxMessage.order_number.in_(numbers), DeliveryAttempt.outcome == "RETRY")
        )
    return DemoSummary(
        orders=len(numbers),
        closed=int(closed or 0),
        fulfillment_lines=int(flines or 0),
        messages=sum(int(v) for v in statuses.values()),
        delivered=int(statuses.get("DELIVERED", 0)),
        parked=int(statuses.get("PARKED", 0)),
        retries=int(retries or 0),
        callbacks=callbacks,
        seconds=seconds,
        events=events,
        event_messages=int(event_messages or 0),
    )
