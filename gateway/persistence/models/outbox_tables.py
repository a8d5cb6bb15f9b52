"""The outbox's tables: each outbound message written with the change that causes it,
every attempt to deliver one, and each connector's circuit breaker.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.persistence.models.registry_tables import Connector
from gateway.persistence.models.table_base import Base, Id, utcnow

__all__ = ["ConnectorHealth", "DeliveryAttempt", "OutboxMessage"]


class OutboxMessage(Base):
    """One outbound message, written in the transaction of the change that causes it.

    ``payload`` is the SOAP envelope exactly as first built (WS-Addressing headers
    included, WS-Security not: a token and its timestamp are made fresh at each send),
    so a retry or a replay sends the same message with the same ``message_id``.
    A row is READY (waiting, or leased while ``lease_until`` is in the future),
    DELIVERED, PARKED (not sent again until replayed) or DISCARDED (never sent again).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_ready", "status", "next_attempt_at"),
        Index("ix_outbox_order", "order_number"),
        Index("ix_outbox_sequence", "connector_id", "order_number", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # FULFILLMENT_REQUEST|BUSINESS_EVENT|EMAIL
    #: the connector it goes through (None for an e-mail, which goes to the SMTP server)
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("fulfillment_requests.id"), index=True
    )
    header_id: Mapped[int | None] = mapped_column(ForeignKey("order_headers.id"))
    order_number: Mapped[str | None] = mapped_column(String(50))
    task_type: Mapped[str | None] = mapped_column(String(30))
    #: a business event's EventCode (``FlineStatusUpdate``, ``HOLD`` …)
    event_code: Mapped[str | None] = mapped_column(String(30))
    #: an e-mail's envelope recipients, comma-separated
    recipients: Mapped[str | None] = mapped_column(Text)
    invocation_mode: Mapped[str] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(80))
    soap_action: Mapped[str] = mapped_column(String(300))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default="READY")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    #: an attempt may have reached the receiver without an answer (e.g. a read timeout)
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    replays: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    parked_at: Mapped[datetime | None] = mapped_column(index=True)

    connector: Mapped[Connector | None] = relationship(lazy="joined")


class DeliveryAttempt(Base):
    """One try at sending an outbox message: who, when, how long, and what came back."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer)
    #: DELIVERED | RETRY | PARKED
    outcome: Mapped[str] = mapped_column(String(12))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class ConnectorHealth(Base):
    """A connector's circuit breaker, shared by every worker (connectors/resilience.py)."""

    __tablename__ = "connector_health"

    connector_id: Mapped[int] = mapped_column(
        ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    state: Mapped[str] = mapped_column(String(10), default="CLOSED")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None]
    probing_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: when it left CLOSED (``opened_at`` moves with every failed probe)
    broken_since: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
