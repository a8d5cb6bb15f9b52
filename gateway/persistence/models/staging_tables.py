"""The staging tables: orders and fulfillment responses accepted by the ``stage*``
operations and imported later by the background loop (Oracle's interface tables).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.persistence.models.table_base import Base, Id, utcnow

__all__ = ["StagedOrder", "StagedResponse"]


class StagedOrder(Base):
    """An order accepted by ``stageOrders``, imported later by the background loop."""

    __tablename__ = "staged_orders"
    __table_args__ = (Index("ix_staged_orders_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    batch_name: Mapped[str | None] = mapped_column(String(150))
    source_system: Mapped[str] = mapped_column(String(30))
    source_order_id: Mapped[str] = mapped_column(String(50))
    revision: Mapped[str] = mapped_column(String(50))
    payload_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="STAGED")  # STAGED|IMPORTED|ERROR
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    header_id: Mapped[int | None] = mapped_column(ForeignKey("order_headers.id"))
    staged_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class StagedResponse(Base):
    """A fulfillment response accepted by ``stageFulfillmentResponse`` (Oracle's DOO_FS_*_INT)."""

    __tablename__ = "staged_responses"
    __table_args__ = (
        UniqueConstraint("fulfillment_system", "response_identifier", name="uq_staged_resp"),
        Index("ix_staged_responses_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    fulfillment_system: Mapped[str] = mapped_column(String(30))
    response_identifier: Mapped[str] = mapped_column(String(100))
    payload_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="STAGED")  # STAGED|PROCESSED|ERROR
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    staged_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
