"""The orders' tables: each revision of a sales order, its lines and fulfillment lines,
the fulfillment requests sent for them, holds, every status change, and the responses
already applied (so a repeated one returns its first result).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.persistence.models.registry_tables import SourceSystem
from gateway.persistence.models.table_base import Base, Id, Qty, utcnow

__all__ = [
    "FulfillLine",
    "FulfillmentRequest",
    "FulfillmentResponseRecord",
    "Hold",
    "OrderHeader",
    "OrderLine",
    "StatusHistory",
]


class OrderHeader(Base):
    """One revision of a sales order. Revisions share ``order_number``."""

    __tablename__ = "order_headers"
    __table_args__ = (
        UniqueConstraint("source_system_id", "source_order_id", "revision", name="uq_order_rev"),
        Index("ix_order_headers_number", "order_number"),
        Index("ix_order_headers_source_number", "source_order_number"),
        # ``omgw orders show --po`` finds an order by it
        Index("ix_order_headers_customer_po", "customer_po_number"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(50))
    source_system_id: Mapped[int] = mapped_column(ForeignKey("source_systems.id"))
    source_order_id: Mapped[str] = mapped_column(String(50))
    source_order_number: Mapped[str] = mapped_column(String(50))
    revision: Mapped[str] = mapped_column(String(50))
    revision_seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30))
    batch_name: Mapped[str | None] = mapped_column(String(150))
    buying_party_name: Mapped[str | None] = mapped_column(String(360))
    buying_party_number: Mapped[str | None] = mapped_column(String(30))
    transaction_type_code: Mapped[str | None] = mapped_column(String(30))
    currency_code: Mapped[str | None] = mapped_column(String(15))
    customer_po_number: Mapped[str | None] = mapped_column(String(50))
    business_unit_name: Mapped[str | None] = mapped_column(String(240))
    transaction_on: Mapped[datetime | None]
    requested_ship_date: Mapped[datetime | None]
    #: every other attribute the order was imported with, as sent (services.attributes)
    attributes_json: Mapped[str | None] = mapped_column(Text)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("order_headers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    source_system: Mapped[SourceSystem] = relationship(lazy="joined", innerjoin=True)
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="header", order_by="OrderLine.line_number", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("header_id", "source_line_id", name="uq_line_source"),
        # named as migration 0014 created it
        Index("ix_order_lines_reference", "reference_line_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    header_id: Mapped[int] = mapped_column(ForeignKey("order_headers.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    source_line_id: Mapped[str] = mapped_column(String(50))
    source_line_number: Mapped[str] = mapped_column(String(50))
    product_number: Mapped[str] = mapped_column(String(300))
    product_description: Mapped[str | None] = mapped_column(String(240))
    ordered_quantity: Mapped[Decimal] = mapped_column(Qty)
    uom_code: Mapped[str] = mapped_column(String(3))
    ship_set_name: Mapped[str | None] = mapped_column(String(30))
    requested_fulfillment_org: Mapped[str | None] = mapped_column(String(18))
    requested_ship_date: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(30))
    #: every other attribute the line was imported with, as sent (services.attributes)
    attributes_json: Mapped[str | None] = mapped_column(Text)
    #: ORDER, or RETURN for a line taking back what an earlier line shipped
    category: Mapped[str] = mapped_column(String(10), default="ORDER", server_default="ORDER")
    #: a return line's original line, and its fulfillment line when the return named one
    reference_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    # use_alter: fulfill_lines refers to order_lines too, so one of the two is added after
    reference_fline_id: Mapped[int | None] = mapped_column(
        ForeignKey("fulfill_lines.id", use_alter=True, name="fk_order_lines_reference_fline")
    )

    header: Mapped[OrderHeader] = relationship(back_populates="lines")
    fulfill_lines: Mapped[list[FulfillLine]] = relationship(
        back_populates="order_line",
        order_by="FulfillLine.fulfill_line_number",
        foreign_keys="FulfillLine.order_line_id",
    )


class FulfillmentRequest(Base):
    """A request (one task, one fulfillment system) covering lines of one order."""

    __tablename__ = "fulfillment_requests"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    header_id: Mapped[int] = mapped_column(ForeignKey("order_headers.id"), index=True)
    task_type: Mapped[str] = mapped_column(String(30))
    fulfillment_system: Mapped[str | None] = mapped_column(String(30))
    #: the connector the request went through (set by dispatch); its response option applies
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
    #: the routing rule's actions: Override Operation and the interface type to set
    operation: Mapped[str | None] = mapped_column(String(50))
    interface_type: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    ack_error_name: Mapped[str | None] = mapped_column(String(240))
    ack_error_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    #: for an Update or Cancel request: the request that first asked for its lines
    original_request_id: Mapped[int | None] = mapped_column(ForeignKey("fulfillment_requests.id"))


class FulfillLine(Base):
    __tablename__ = "fulfill_lines"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    header_id: Mapped[int] = mapped_column(ForeignKey("order_headers.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    fulfill_line_number: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Qty)
    shipped_quantity: Mapped[Decimal | None] = mapped_column(Qty)
    status: Mapped[str] = mapped_column(String(30))
    task_type: Mapped[str | None] = mapped_column(String(30))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("fulfillment_requests.id"))
    split_from_id: Mapped[int | None] = mapped_column(ForeignKey("fulfill_lines.id"))
    scheduled_ship_date: Mapped[datetime | None]
    actual_ship_date: Mapped[datetime | None]
    billing_number: Mapped[str | None] = mapped_column(String(50))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    #: the routing version and rule that chose the line's connector (None: no rule did)
    rule_set_version: Mapped[int | None] = mapped_column(Integer)
    routing_rule_id: Mapped[str | None] = mapped_column(String(50))
    #: why routing found no connector (the line is then ROUTING_ERROR)
    routing_error: Mapped[str | None] = mapped_column(Text)
    #: the process version the line follows, and what its internal steps decided
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"))
    warehouse: Mapped[str | None] = mapped_column(String(18))
    #: jeopardy (gateway/orders/jeopardy.py): when the whole process should be done, how
    #: late the current step is, and the priority the thresholds give that delay
    planned_completion_at: Mapped[datetime | None]
    jeopardy_delay_minutes: Mapped[int | None] = mapped_column(Integer)
    jeopardy_priority: Mapped[str | None] = mapped_column(String(10))
    #: what fulfillment systems' responses said of the line beyond what omgw acts on:
    #: {"FulfillmentDetail": [...], "LotSerial": [...], ...}, accumulated response by
    #: response (services.attributes)
    attributes_json: Mapped[str | None] = mapped_column(Text)
    jeopardy_checked_at: Mapped[datetime | None]
    #: a change the line's fulfillment system has not answered yet: the update or
    #: cancel request, and the line as it was before (``gateway.orders.changes``)
    change_request_id: Mapped[int | None] = mapped_column(ForeignKey("fulfillment_requests.id"))
    change_json: Mapped[str | None] = mapped_column(Text)
    #: why the line's last change was refused (GetOrderDetails shows it)
    change_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order_line: Mapped[OrderLine] = relationship(
        back_populates="fulfill_lines", foreign_keys=[order_line_id]
    )
    request: Mapped[FulfillmentRequest | None] = relationship(foreign_keys=[request_id])


class StatusHistory(Base):
    """Every status change of a header, order line or fulfillment line, in order."""

    __tablename__ = "status_history"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    header_id: Mapped[int] = mapped_column(ForeignKey("order_headers.id"), index=True)
    entity: Mapped[str] = mapped_column(String(12))  # HEADER | LINE | FULFILL_LINE
    entity_id: Mapped[int] = mapped_column(Id)
    old_status: Mapped[str | None] = mapped_column(String(30))
    new_status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(240))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hold(Base):
    """A hold on an order (``order_line_id`` None) or one order line; active until
    released. A held line does not progress (gateway/orders/hold_service.py)."""

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_header", "header_id", "released_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    header_id: Mapped[int] = mapped_column(ForeignKey("order_headers.id"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    hold_code: Mapped[str] = mapped_column(String(30))
    comments: Mapped[str | None] = mapped_column(String(2000))
    applied_by: Mapped[str] = mapped_column(String(100))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(100))
    release_comments: Mapped[str | None] = mapped_column(String(2000))


class FulfillmentResponseRecord(Base):
    """A fulfillment response that was applied, with the result first returned for it."""

    __tablename__ = "fulfillment_responses"
    __table_args__ = (
        UniqueConstraint("fulfillment_system", "response_identifier", name="uq_response_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    fulfillment_system: Mapped[str] = mapped_column(String(30))
    response_identifier: Mapped[str] = mapped_column(String(100))
    task_type: Mapped[str] = mapped_column(String(30))
    result_json: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
