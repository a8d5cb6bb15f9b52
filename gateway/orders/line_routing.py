"""Routing in the flow: which connector each fulfillment line's step goes to.

The attribute values come from the order header, the order and fulfillment line, and
the process step (routing/rule_attributes.py names them); the newest published version
decides (gateway/registry/rule_versions.py compiles it once). Every routed line records
the version and rule that chose its connector; a line nothing routes records why and goes to
``ROUTING_ERROR``, so no line waits silently for a request that was never made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.orchestration_model import DEFAULT_PROCESS, StepSpec
from gateway.orders.rows import FlineRow, HeaderRow, LineRow
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine
from gateway.registry.registry_snapshot import ConnectorInfo, Snapshot
from routing.decision import Decision
from routing.engine import Engine
from routing.rule_attributes import typed_values

__all__ = ["Route", "Router", "line_attributes", "shipment_step"]


def shipment_step() -> tuple[str, StepSpec]:
    """The default process and its Ship step (what `rule explain` assumes for a line)."""
    step = next(s for s in DEFAULT_PROCESS.steps if s.task_type == "Shipment")
    return DEFAULT_PROCESS.name, step


def line_attributes(
    header: OrderHeader | HeaderRow,
    system: str,
    line: OrderLine | LineRow,
    fline: FulfillLine | FlineRow | None,
    process: str,
    step: StepSpec,
) -> dict[str, Any]:
    """The typed attribute values rules see for one fulfillment line at one step of an
    order sent by source system ``system``."""
    return typed_values(
        {
            "SourceTransactionSystem": system,
            "SourceTransactionNumber": header.source_order_number,
            "OrderNumber": header.order_number,
            "BuyingPartyNumber": header.buying_party_number,
            "BuyingPartyName": header.buying_party_name,
            "TransactionTypeCode": header.transaction_type_code,
            "TransactionalCurrencyCode": header.currency_code,
            "BusinessUnitName": header.business_unit_name,
            "CustomerPONumber": header.customer_po_number,
            "TransactionOn": header.transaction_on,
            "ProductNumber": line.product_number,
            "OrderedQuantity": fline.quantity if fline is not None else line.ordered_quantity,
            "OrderedUOM": line.uom_code,
            "RequestedFulfillmentOrganizationCode": line.requested_fulfillment_org,
            "ShipSetName": line.ship_set_name,
            "RequestedShipDate": line.requested_ship_date,
            "ScheduledShipDate": fline.scheduled_ship_date if fline is not None else None,
            "ProcessName": process,
            "StepName": step.name,
            "TaskType": step.task_type,
            "Task": step.task,
            "Service": step.service,
        }
    )


@dataclass(frozen=True)
class Route:
    """A decision made usable: the connector, or the reason there is none."""

    decision: Decision
    connector: ConnectorInfo | None
    error: str | None


class Router:
    """Routes lines with the routing version and connectors of a registry snapshot."""

    def __init__(self, registry: Snapshot) -> None:
        self._engine: Engine | None = registry.routing
        self._connectors = registry.connectors

    @property
    def active(self) -> bool:
        """Whether a routing version is published (before that, lines are not routed)."""
        return self._engine is not None

    def route(self, values: dict[str, Any], at: datetime | None = None) -> Route:
        assert self._engine is not None, "route() needs a published routing version"
        decision = self._engine.decide(values, at or datetime.now(UTC))
        if decision.connector is None:
            return Route(decision, None, decision.reason)
        connector = self._connectors.get(decision.connector)
        via = (
            f"rule {decision.rule_id}"
            if decision.rule_id
            else f"the default for task type {values.get('TaskType')}"
        )
        if connector is None:  # removal is refused while routing names it; kept for safety
            return Route(decision, None, f"{via} names connector {decision.connector}, "
                                         "which does not exist")  # fmt: skip
        if not connector.enabled:
            return Route(decision, None, f"{via} routes to connector {connector.name}, which is "
                                         "disabled")  # fmt: skip
        system = connector.system
        if not system.fulfillment:
            return Route(decision, None, f"{via} routes to connector {connector.name}, whose "
                         f"system {system.code} is not enabled for fulfillment")  # fmt: skip
        return Route(decision, connector, None)
