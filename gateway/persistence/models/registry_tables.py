"""The registry's tables: source systems and their value maps, connectors and the
wallet that holds their credentials, task types, processes, trigger points, jeopardy
thresholds, and the stamp that moves with every change (routing's tables are in
:mod:`routing_tables`).

These are the rows ``gateway.registry`` reads and writes; what they mean lives in
``connectors.connector_specs`` and ``gateway.orchestration_model``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.persistence.models.table_base import Base, Id, utcnow

__all__ = [
    "Connector",
    "JeopardyThreshold",
    "Process",
    "ProcessStep",
    "RegistryStamp",
    "SourceSystem",
    "Task",
    "TaskService",
    "TaskType",
    "TriggerPoint",
    "TriggerPointConnector",
    "ValueMap",
    "WalletEntry",
    "WalletState",
]


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


class RegistryStamp(Base):
    """The one row whose ``n`` moves with every change to the registry's tables.

    Database triggers (migration 0010) bump it inside the changing transaction, so a
    process caching the registry (:mod:`gateway.registry.registry_snapshot`) reads it
    once per transaction to know whether its copy is current. A migration that rebuilds
    a watched table on SQLite drops that table's triggers with it, and must create them
    again.
    """

    __tablename__ = "registry_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)
