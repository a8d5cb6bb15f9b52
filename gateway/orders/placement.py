"""Where a fulfillment line's external step goes: deciding code, no I/O.

Once a routing version is published, the line's step is routed (rules → connector) and
a line nothing routes goes to ``ROUTING_ERROR`` with the reason. Before that, every line
goes to the configured default fulfillment system, through its first enabled service
connector by name (with none, the request is only recorded). Lines of one order with
the same :attr:`Placement.key` share one fulfillment request.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.orders.line_routing import Router, line_attributes
from gateway.orders.rows import FlineRow, HeaderRow, LineRow
from gateway.orders.steps import first_stage, process_of
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from gateway.registry.registry_snapshot import ConnectorInfo, Snapshot

__all__ = ["AWAITING", "BILLED_WHERE_SHIPPED", "Placement", "default_connector", "place"]

#: the status a line waits in while an external step of each task type is out
AWAITING = {"Shipment": "AWAIT_SHIP", "Invoice": "AWAIT_BILLING", "Return": "AWAIT_RECEIVING"}
#: the task type that, when routing has no usable connector for it, goes where the line's
#: shipment went (the connector of its shipment request) instead of to ROUTING_ERROR, as
#: Oracle's default process bills through the fulfillment system that shipped
BILLED_WHERE_SHIPPED = "Invoice"


@dataclass(frozen=True)
class Placement:
    """Where one line's step goes, or why it goes nowhere (``error``, routed lines only)."""

    task_type: str
    routed: bool
    connector: ConnectorInfo | None
    system: str | None
    operation: str | None = None
    interface_type: str | None = None
    version: int | None = None
    rule_id: str | None = None
    error: str | None = None
    #: the connector routing chose, usable or not (``connector`` is None when not)
    chosen: str | None = None

    @property
    def key(self) -> tuple[int | None, str | None, str | None, str | None]:
        """Lines of one order with the same key share one request."""
        connector = self.connector.id if self.connector is not None else None
        return (connector, self.system, self.operation, self.interface_type)

    @property
    def placed(self) -> bool:
        return not self.routed or self.connector is not None

    @property
    def reason(self) -> str:
        """The history reason of the line's move to its awaiting status."""
        if not self.routed:
            return f"{self.task_type} requested"
        if self.connector is None:
            return f"not routed: {self.error}"
        how = f"rule {self.rule_id}" if self.rule_id else "default"
        return f"{self.task_type} requested via {self.connector.name} ({how})"


def default_connector(registry: Snapshot, default_fs: str | None) -> ConnectorInfo | None:
    """Before routing is published: the default system's first enabled service connector
    by name (none: the request is recorded and nothing is sent)."""
    system = registry.systems.get(default_fs) if default_fs else None
    if system is None:
        return None
    enabled = [c for c in registry.service_connectors(system.id) if c.enabled]
    return enabled[0] if enabled else None


def place(
    registry: Snapshot,
    router: Router,
    header: OrderHeader | HeaderRow,
    line: OrderLine | LineRow,
    fline: FulfillLine | FlineRow,
    task_type: str,
    default_fs: str | None,
) -> Placement:
    """Where ``fline``'s ``task_type`` step goes."""
    if not router.active:
        return Placement(task_type, False, default_connector(registry, default_fs), default_fs)
    stage = first_stage(process_of(registry, fline.process_id), task_type)
    if stage is None:  # a process without the step: route as the built-in one
        stage = first_stage(None, task_type)
    assert stage is not None
    system = registry.systems_by_id[header.source_system_id].code
    route = router.route(line_attributes(header, system, line, fline, stage.process, stage.step))
    connector, rule = route.connector, route.decision.rule
    return Placement(
        task_type,
        True,
        connector,
        connector.system.code if connector is not None else None,
        rule.operation if rule and connector else None,
        rule.interface_type if rule and connector else None,
        route.decision.version,
        route.decision.rule_id,
        route.error,
        route.decision.connector,
    )
