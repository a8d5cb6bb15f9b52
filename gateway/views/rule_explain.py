"""How routing decides for a line: every rule considered, why it did not match, and the
winner, for attributes given or those of an order's line (``omgw rule explain``, the
console's explain form)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, ValidationError
from gateway.orders.inquiry import OrderQuery, find_orders
from gateway.orders.line_routing import line_attributes, shipment_step
from gateway.orders.placement import BILLED_WHERE_SHIPPED
from gateway.persistence.models import Connector, FulfillLine
from gateway.registry.rule_draft import rules_error
from gateway.registry.rule_store import RuleStore
from routing.engine import Engine, compile_rule_set
from routing.routing_errors import RuleSetInvalid
from routing.rule_attributes import typed_values

__all__ = ["LineExplanation", "explain_line"]


@dataclass(frozen=True)
class LineExplanation:
    """``record`` is what ``--json`` prints; ``outcome`` the decision in one sentence."""

    record: dict[str, Any]
    outcome: str
    #: "draft", or "version N"
    label: str
    values: dict[str, Any]
    rows: list[dict[str, Any]]


def _order_attributes(
    s: Session, order: str, line_number: int
) -> tuple[dict[str, Any], int | None, str | None]:
    """The line's attributes, the routing version that routed it (if one did), and the
    connector of its shipment request (if it has one)."""
    (header,) = find_orders(s, OrderQuery(order_number=order))
    lines = [li for li in header.lines if li.line_number == line_number]
    if not lines:
        raise NotFoundError("LINE_NOT_FOUND", f"order {order} has no line {line_number}")
    line = lines[0]
    process, step = shipment_step()
    fline = line.fulfill_lines[0] if line.fulfill_lines else None
    recorded = fline.rule_set_version if fline is not None else None
    attributes = line_attributes(header, header.source_system.code, line, fline, process, step)
    return attributes, recorded, _shipment_connector(s, fline)


def _shipment_connector(s: Session, fline: FulfillLine | None) -> str | None:
    request = fline.request if fline is not None else None
    if request is None or request.task_type != "Shipment" or request.connector_id is None:
        return None
    connector = s.get(Connector, request.connector_id)
    return connector.name if connector is not None else None


def _engine(store: RuleStore, version: int | None, draft: bool) -> Engine:
    if draft:
        try:
            return compile_rule_set(store.draft(), 0)
        except RuleSetInvalid as exc:
            raise rules_error(exc, "the draft") from None
    if version is not None:
        info, rule_set = store.version(version)
        return compile_rule_set(rule_set, info.version)
    engine = store.engine()
    if engine is None:
        raise ValidationError(
            "RULES_INVALID", "no routing version is published yet; use --draft, or publish"
        )
    return engine


def explain_line(
    s: Session,
    given: Mapping[str, str],
    at: datetime,
    *,
    order: str | None = None,
    line_number: int = 1,
    version: int | None = None,
    draft: bool = False,
) -> LineExplanation:
    """Explain routing for the attributes ``given`` (text, typed here), over those of the
    order's line when ``order`` is named; with the draft, a published version, or (by
    default) the version that routed the order's line, else the one in use."""
    store = RuleStore(s)
    values: dict[str, Any] = {}
    shipped_via = None
    if order is not None:
        values, recorded, shipped_via = _order_attributes(s, order, line_number)
        if version is None and not draft:
            version = recorded  # why it went where it went (or nowhere)
    engine = _engine(store, version, draft)
    try:
        typed = typed_values(dict(given))
    except ValueError as exc:
        raise ValidationError("INVALID_VALUE", str(exc)) from None
    values.update(typed)
    explanation = engine.explain(values, at)
    # a bill routing has nothing for goes where the line's shipment went, as the runtime
    # sends it (see BILLED_WHERE_SHIPPED)
    decision = explanation.decision
    connector = decision.connector
    fallback = connector is None and values.get("TaskType") == BILLED_WHERE_SHIPPED
    if decision.rule is not None:
        outcome = f"connector {decision.connector} (rule {decision.rule_id})"
    elif decision.by_default:
        outcome = f"connector {decision.connector} (default for task type {values['TaskType']})"
    elif fallback:
        connector = shipped_via
        where = f"connector {shipped_via}" if shipped_via else "its connector"
        outcome = (
            f"where the line's shipment went ({where}), since routing has no connector for "
            f"{BILLED_WHERE_SHIPPED}: {decision.reason}"
        )
    else:
        outcome = f"no connector: {decision.reason}"
    rows = [
        {
            "rule": v.rule.rule_id,
            "priority": v.rule.priority,
            "outcome": v.outcome,
            "detail": v.detail,
        }
        for v in explanation.verdicts
    ]
    label = "draft" if draft else f"version {engine.version}"
    record = {
        "version": "draft" if draft else engine.version,
        "at": at.isoformat(),
        "attributes": {k: str(v) for k, v in values.items() if v is not None},
        "rules": rows,
        "decision": {
            "connector": connector,
            "rule": decision.rule_id,
            "by_default": decision.by_default,
            "reason": decision.reason,
            "where_shipped": fallback,
        },
    }
    return LineExplanation(record, outcome, label, values, rows)
