"""Deciding a fulfillment response over plain rows: no database here.

:func:`decide` takes the response's lines, the whole orders they belong to
(:class:`~gateway.orders.rows.OrderSet`) and the registry snapshot, and returns a
:class:`~gateway.orders.decision_draft.Decision`: each line's checks
(:mod:`gateway.orders.response_checks`), what every changed fulfillment line becomes
(splits included), the order lines' and headers' rolled-up statuses, the history rows,
the splits to announce, and the billing requests to send
(:mod:`gateway.orders.response_effects`). The store writes it
(:mod:`gateway.orders.response_store`). Rows the decision adds have negative ids until
written; everything that names them (history, outcomes, requests) is resolved then.

Under the three processing options: ``REJECT_ALL_ON_FIRST_ERROR`` stops at the first
bad line and applies nothing; ``REJECT_ALL_ON_ANY_ERROR`` checks every line and applies
nothing if any is bad, reporting every error; ``REJECT_ERROR_GROUPS`` applies the good
groups and rejects each group holding a bad line, a group being a ship set (else the
line alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gateway.errors import LineError, ResponseRejected
from gateway.orders.decision_draft import Decision, Draft
from gateway.orders.message_values import FulfillLineResponse, LineOutcome
from gateway.orders.response_checks import check_lines, reject_groups
from gateway.orders.response_effects import apply_plans
from gateway.orders.rows import OrderSet
from gateway.registry.registry_snapshot import Snapshot, System

__all__ = ["decide"]


def decide(
    lines: Sequence[FulfillLineResponse],
    *,
    system: System,
    task: str,
    option: str,
    orders: OrderSet,
    registry: Snapshot,
    may_answer_unassigned: bool,
    now: datetime,
) -> Decision:
    """The outcome of ``lines`` (a ``task`` response from ``system``) on ``orders``;
    raises :class:`ResponseRejected` when the option applies none of it."""
    plans, errors = check_lines(lines, system, task, option, orders, may_answer_unassigned)
    if option == "REJECT_ERROR_GROUPS" and errors:
        plans, rejected = reject_groups(plans, errors, orders)
        errors = errors + rejected
    if errors and (option != "REJECT_ERROR_GROUPS" or not plans):
        raise ResponseRejected(errors, option)
    draft = Draft(orders, now)
    draft.decision.errors = errors
    for err in errors:
        draft.decision.outcomes.append(_error_outcome(err, orders))
    apply_plans(draft, plans, system.code, task, registry)
    return draft.finish()


def _error_outcome(err: LineError, orders: OrderSet) -> LineOutcome:
    fline = orders.flines.get(err.fulfill_line_id) if err.fulfill_line_id else None
    return LineOutcome(
        fulfill_line_id=err.fulfill_line_id,
        status="ERROR",
        fulfill_line_number=fline.fulfill_line_number if fline else None,
        task_instance_status=fline.status if fline else None,
        errors=(err,),
    )
