"""Typed SQLAlchemy 2 models of the hub's state.

Keys are integers, not UUIDs: Oracle's wire identifiers (``HeaderId``,
``FulfillLineIdentifier``, ``FulfillmentRequestIdentifier``) are ``long`` values that
callers store and send back, so our primary keys are those identifiers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway.persistence.decimals import ScaledDecimal

__all__ = [
    "MAX_ROW_ID",
    "Alert",
    "AuditEntry",
    "AuthFailure",
    "Base",
    "Connector",
    "ConnectorHealth",
    "ConsoleSession",
    "DeliveryAttempt",
    "FulfillLine",
    "FulfillmentRequest",
    "FulfillmentResponseRecord",
    "Hold",
    "JeopardyThreshold",
    "JobRun",
    "MessageLog",
    "OrderHeader",
    "OrderLine",
    "OutboxMessage",
    "Process",
    "ProcessStep",
    "RegistryStamp",
    "RoutingDefault",
    "RoutingRule",
    "RuleSetVersion",
    "SourceSystem",
    "StagedOrder",
    "StagedResponse",
    "StatusHistory",
    "Task",
    "TaskService",
    "TaskType",
    "TriggerPoint",
    "TriggerPointConnector",
    "UsedNonce",
    "User",
    "ValueMap",
    "WalletEntry",
    "WalletState",
    "WorkerBeat",
    "as_utc",
    "row_id",
    "table_of",
    "utcnow",
]

# BigInteger autoincrement is not a rowid alias on SQLite; Integer there, BIGINT elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")
#: quantities: NUMERIC(18, 4) on PostgreSQL, exact scaled integers on SQLite
Qty = ScaledDecimal(18, 4)


def utcnow() -> datetime:
    return datetime.now(UTC)


#: the largest integer key a row can have (a signed 64-bit column, on either database)
MAX_ROW_ID = 2**63 - 1


def row_id(text: str) -> int | None:
    """``text`` as an integer key a row can have; None when it is not ASCII digits or is
    past any key (``str.isdigit`` also says yes to "²", which ``int`` refuses)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None


def as_utc(at: datetime | None) -> datetime | None:
    """A time read back from the database, in UTC: SQLite keeps no offset, and every
    time omgw stores is UTC."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: DateTime(timezone=True)}


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for statements run on the session's connection."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class SourceSystem(Base):
    """A system known to the hub (DESIGN §2, contract §7.3)."""

    __tablename__ = "source_systems"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(240), default="")
    system_type: Mapped[str] = mapped_column(String(20), default="SPOKE")
    order_capture: Mapped[bool] = mapped_column(Boolean, default=False)
    fulfillment: Mapped[bool] = mapped_column(Boolean, default=False)
    cross_reference: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    collections_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ValueMap(Base):
    """One cross-reference of a source system: (domain, external value) → internal value."""

    __tablename__ = "value_maps"
    __table_args__ = (
        UniqueConstraint("source_system_id", "domain", "external_value", name="uq_value_map"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_system_id: Mapped[int] = mapped_column(
        ForeignKey("source_systems.id", ondelete="CASCADE")
    )
    domain: Mapped[str] = mapped_column(String(30))
    external_value: Mapped[str] = mapped_column(String(300))
    internal_value: Mapped[str] = mapped_column(String(300))


class WalletEntry(Base):
    """A credential sealed with AES-256-GCM; (map, key, key version) is its associated
    data, so a row moved or edited fails to open."""

    __tablename__ = "wallet_entries"
    __table_args__ = (UniqueConstraint("credential_map", "key", name="uq_wallet_entry"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    credential_map: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    key_version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    has_client_certificate: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WalletState(Base):
    """The one row that says which master key this database's secrets are sealed with:
    its version, and a known value sealed under it. Every process checks its key against
    it before sealing, so a host with a stale or foreign key file cannot write secrets
    that the other hosts could never open."""

    __tablename__ = "wallet_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_version: Mapped[int] = mapped_column(Integer)
    key_check: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Connector(Base):
    """How to reach one endpoint of a target system (contract §7.1)."""

    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    target_system_id: Mapped[int] = mapped_column(ForeignKey("source_systems.id"), index=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    url: Mapped[str] = mapped_column(String(1000))
    credential_map: Mapped[str] = mapped_column(String(200))
    credential_key: Mapped[str | None] = mapped_column(String(200))
    auth_style: Mapped[str] = mapped_column(String(20))
    invocation_mode: Mapped[str] = mapped_column(String(20))
    response_processing: Mapped[str] = mapped_column(String(40))
    send_attachments: Mapped[bool] = mapped_column(Boolean)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    retry_max_attempts: Mapped[int] = mapped_column(Integer)
    retry_base_delay: Mapped[float] = mapped_column(Float)
    retry_max_delay: Mapped[float] = mapped_column(Float)
    tls_verify: Mapped[bool] = mapped_column(Boolean)
    tls_ca_bundle: Mapped[str | None] = mapped_column(String(1000))
    tls_client_certificate: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    target_system: Mapped[SourceSystem] = relationship(lazy="joined", innerjoin=True)


class TaskType(Base):
    __tablename__ = "task_types"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(240))
    description: Mapped[str] = mapped_column(String(1000), default="")
    system: Mapped[bool] = mapped_column(Boolean, default=False)

    tasks: Mapped[list[Task]] = relationship(
        order_by="Task.position", cascade="all, delete-orphan", lazy="selectin"
    )


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("task_type_id", "name", name="uq_task_name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    task_type_id: Mapped[int] = mapped_column(ForeignKey("task_types.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))

    services: Mapped[list[TaskService]] = relationship(
        order_by="TaskService.position", cascade="all, delete-orphan", lazy="selectin"
    )


class TaskService(Base):
    __tablename__ = "task_services"
    __table_args__ = (UniqueConstraint("task_id", "name", name="uq_task_service"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))


class Process(Base):
    """One immutable version of an orchestration process definition."""

    __tablename__ = "processes"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_process_version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(1000), default="")
    system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[ProcessStep]] = relationship(
        order_by="ProcessStep.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ProcessStep(Base):
    __tablename__ = "process_steps"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    task_type_id: Mapped[int] = mapped_column(ForeignKey("task_types.id"), index=True)
    task_name: Mapped[str] = mapped_column(String(120))
    service_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    planned_minutes: Mapped[int | None] = mapped_column(Integer)

    task_type: Mapped[TaskType] = relationship(lazy="joined", innerjoin=True)


class RoutingRule(Base):
    """One rule of the routing draft; published versions copy the whole draft."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(50), unique=True)
    connector: Mapped[str] = mapped_column(String(120), index=True)
    #: the rule as ``routing.rule_set.Rule.to_dict`` writes it
    rule_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoutingDefault(Base):
    """The draft's default connector for a task type (used when no rule matches)."""

    __tablename__ = "routing_defaults"

    task_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    connector: Mapped[str] = mapped_column(String(120), index=True)


class RuleSetVersion(Base):
    """A published, immutable rule set; routing uses the highest version."""

    __tablename__ = "rule_set_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100))
    #: the version this one re-publishes (a rollback), if any
    source_version: Mapped[int | None] = mapped_column(Integer)
    rule_count: Mapped[int] = mapped_column(Integer)
    #: ``routing.rule_set.RuleSet.to_json``
    content_json: Mapped[str] = mapped_column(Text)


class RegistryStamp(Base):
    """The one row whose ``n`` moves with every change to the registry's tables.

    Database triggers (migration 0010) bump it inside the changing transaction, so a
    process caching the registry (:mod:`gateway.registry.snapshot`) reads it once per
    transaction to know whether its copy is current. A migration that rebuilds a watched
    table on SQLite drops that table's triggers with it, and must create them again.
    """

    __tablename__ = "registry_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)


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
    __table_args__ = (UniqueConstraint("header_id", "source_line_id", name="uq_line_source"),)

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
    reference_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
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


class User(Base):
    """An API user. ``password_hash`` is scrypt; ``digest_secret`` is the password sealed
    with the wallet key, needed only to check WS-Security ``PasswordDigest``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    digest_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    roles: Mapped[str] = mapped_column(String(300))  # space-separated
    #: the source and fulfillment systems the user may act for, codes space-separated
    #: (``security.systems``); ``all_systems`` grants every system, present and future
    systems: Mapped[str] = mapped_column(Text, default="")
    all_systems: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedNonce(Base):
    """Digest nonces seen inside the replay window (shared by every gateway process)."""

    __tablename__ = "used_nonces"

    nonce_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuthFailure(Base):
    """Failed sign-ins counted against a user name or a client address (shared by every
    gateway process); ``key`` is a hash of which (``gateway.security.lockout``)."""

    __tablename__ = "auth_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in console session (shared by every gateway process). Only a hash of its
    token is kept: the token itself lives in the browser's cookie."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the latest the session may last, however busy (``OMGW_CONSOLE_SESSION_SECONDS``)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WorkerBeat(Base):
    """When each outbox worker was last seen working (``/readyz``, ``omgw status``)."""

    __tablename__ = "worker_beats"

    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """The last run of a periodic job (the jeopardy check, the monitor) and what it did."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """An alert the monitor raised: active until ``cleared_at``; ``last_sent_at`` limits
    how often it is mailed (``gateway.observe.alerts``)."""

    __tablename__ = "alerts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    severity: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    runbook: Mapped[str] = mapped_column(String(100))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sent_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    emails: Mapped[int] = mapped_column(Integer, default=0)
    #: what the recipients were last mailed: RAISED, CLEARED, or nothing yet
    told: Mapped[str | None] = mapped_column(String(10))


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


class TriggerPoint(Base):
    """Which change raises a business event, who receives it, and whether it is mailed
    (contract §5.9, Oracle's DOO_EVENT_DETAILS): one row per (event, criterion), the
    criterion being a status value, a jeopardy priority, or empty."""

    __tablename__ = "trigger_points"
    __table_args__ = (UniqueConstraint("event", "criterion", name="uq_trigger_point"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    event: Mapped[str] = mapped_column(String(30))
    criterion: Mapped[str] = mapped_column(String(30), default="")
    raise_event: Mapped[bool] = mapped_column(Boolean, default=True)
    send_email: Mapped[bool] = mapped_column(Boolean, default=False)
    #: e-mail recipients, comma-separated
    email_to: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    connectors: Mapped[list[Connector]] = relationship(
        secondary="trigger_point_connectors", lazy="selectin", order_by="Connector.name"
    )


class TriggerPointConnector(Base):
    __tablename__ = "trigger_point_connectors"

    trigger_point_id: Mapped[int] = mapped_column(
        ForeignKey("trigger_points.id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(
        ForeignKey("connectors.id"), primary_key=True, index=True
    )


class JeopardyThreshold(Base):
    """A delay range (minutes, ``to_minutes`` exclusive, None: no end) and the jeopardy
    priority it gives, for one task type ("" for any task without its own ranges)."""

    __tablename__ = "jeopardy_thresholds"
    __table_args__ = (UniqueConstraint("task_type", "from_minutes", name="uq_jeopardy_threshold"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    task_type: Mapped[str] = mapped_column(String(30), default="")
    from_minutes: Mapped[int] = mapped_column(Integer)
    to_minutes: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(10))


class Hold(Base):
    """A hold on an order (``order_line_id`` None) or one order line; active until
    released. A held line does not progress (gateway/orders/holds.py)."""

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
