"""The logs kept in the database: the admin audit log and the inbound message log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.persistence.models.table_base import Base, Id, utcnow

__all__ = ["AuditEntry", "MessageLog"]


class AuditEntry(Base):
    """One admin change: who, what, when, before and after (never a secret)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))  # create | update | delete | rotate
    entity: Mapped[str] = mapped_column(String(30))
    entity_key: Mapped[str] = mapped_column(String(300))
    before_json: Mapped[str | None] = mapped_column(Text)
    after_json: Mapped[str | None] = mapped_column(Text)


class MessageLog(Base):
    """Every inbound SOAP message: who, what, correlation ids, outcome, redacted payload."""

    __tablename__ = "message_log"
    __table_args__ = (Index("ix_message_log_order", "order_number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    direction: Mapped[str] = mapped_column(String(3), default="IN")
    service: Mapped[str] = mapped_column(String(60))
    operation: Mapped[str | None] = mapped_column(String(80))
    principal: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(200))
    correlation_key: Mapped[str | None] = mapped_column(String(300))
    order_number: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(10))  # OK | FAULT
    fault_code: Mapped[str | None] = mapped_column(String(60))
    http_status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str | None] = mapped_column(Text)
    #: the caller's address as the server saw it (a proxy's, behind one)
    client_address: Mapped[str | None] = mapped_column(String(64))
