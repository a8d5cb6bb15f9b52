"""The hub's tables, one module per aggregate, assembled here: every table is
imported, so ``Base.metadata`` is complete for Alembic, and callers import any table
or helper from ``gateway.persistence.models``.
"""

from gateway.persistence.models.log_tables import AuditEntry, MessageLog
from gateway.persistence.models.monitor_tables import Alert, JobRun, WorkerBeat
from gateway.persistence.models.order_tables import (
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    Hold,
    OrderHeader,
    OrderLine,
    StatusHistory,
)
from gateway.persistence.models.outbox_tables import ConnectorHealth, DeliveryAttempt, OutboxMessage
from gateway.persistence.models.registry_tables import (
    Connector,
    JeopardyThreshold,
    Process,
    ProcessStep,
    RegistryStamp,
    SourceSystem,
    Task,
    TaskService,
    TaskType,
    TriggerPoint,
    TriggerPointConnector,
    ValueMap,
    WalletEntry,
    WalletState,
)
from gateway.persistence.models.routing_tables import RoutingDefault, RoutingRule, RuleSetVersion
from gateway.persistence.models.security_tables import AuthFailure, ConsoleSession, UsedNonce, User
from gateway.persistence.models.staging_tables import StagedOrder, StagedResponse
from gateway.persistence.models.table_base import MAX_ROW_ID, Base, as_utc, row_id, table_of, utcnow

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
