"""Who names what in the registry, and the one check that refuses a change which would
leave such a name pointing at nothing.

:data:`REFUSALS` is the table: for each change that can strand a reference (removing a
source system, a connector, a task type or a wallet entry; taking a connector out of
``BUSINESS_EVENT`` mode; dropping a wallet entry's client certificate) it lists the
referrers to look for and how the refusal reads. :func:`refuse_if_referenced` is the one
place that looks and refuses, with ``IN_USE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError
from gateway.persistence.models import (
    Connector,
    FulfillmentRequest,
    OrderHeader,
    OutboxMessage,
    Process,
    ProcessStep,
    SourceSystem,
    StagedOrder,
    StagedResponse,
    TaskType,
)
from gateway.registry.rule_draft import RuleDraft
from gateway.registry.store_base import names
from gateway.registry.trigger_store import trigger_referrers

__all__ = [
    "REFUSALS",
    "Refusal",
    "certificate_referrers",
    "refuse_if_referenced",
    "wallet_referrers",
]

#: What names an item, as shown in a refusal ("connector X", "3 order(s)"), given the
#: item's key: ``(code,)``, ``(name,)`` or, for a wallet entry, ``(credential_map, key)``.
Finder = Callable[[Session, tuple[str, ...]], list[str]]


@dataclass(frozen=True)
class Refusal:
    """Referrers looked for together, and the refusal when any is there: ``{0}``,
    ``{1}`` are the parts of the item's key, ``{users}`` the referrers found (the first
    ``shown`` of them; all when None)."""

    finders: tuple[Finder, ...]
    message: str
    shown: int | None = 5


def refuse_if_referenced(session: Session, change: str, *key: str) -> None:
    """Raise ``IN_USE`` when anything :data:`REFUSALS` lists for ``change`` names the
    item ``key``; the refusals are tried in order and the first that finds any wins."""
    for refusal in REFUSALS[change]:
        users = [user for find in refusal.finders for user in find(session, key)]
        if users:
            text = refusal.message.format(*key, users=names(users, refusal.shown))
            raise ConflictError("IN_USE", text)


def _count(session: Session, label: str, model: Any, *where: Any) -> list[str]:
    count = session.scalar(select(func.count()).select_from(model).where(*where))
    return [f"{count} {label}"] if count else []


def _system_id(code: str) -> Any:
    return select(SourceSystem.id).where(SourceSystem.code == code).scalar_subquery()


def _connector_id(name: str) -> Any:
    return select(Connector.id).where(Connector.name == name).scalar_subquery()


# -- source systems ------------------------------------------------------------------


def _connectors_to(session: Session, key: tuple[str, ...]) -> list[str]:
    rows = session.scalars(
        select(Connector.name).where(Connector.target_system_id == _system_id(key[0]))
    )
    return [f"connector {n}" for n in rows]


def _orders_from(session: Session, key: tuple[str, ...]) -> list[str]:
    return _count(
        session, "order(s)", OrderHeader, OrderHeader.source_system_id == _system_id(key[0])
    )


def _open_requests_to(session: Session, key: tuple[str, ...]) -> list[str]:
    r = FulfillmentRequest
    return _count(
        session,
        "open fulfillment request(s)",
        r,
        r.fulfillment_system == key[0],
        r.status.in_(("SENT", "ACCEPTED")),
    )


def _staged_orders_from(session: Session, key: tuple[str, ...]) -> list[str]:
    s = StagedOrder
    return _count(session, "staged order(s)", s, s.source_system == key[0], s.status == "STAGED")


def _staged_responses_from(session: Session, key: tuple[str, ...]) -> list[str]:
    s = StagedResponse
    return _count(
        session, "staged response(s)", s, s.fulfillment_system == key[0], s.status == "STAGED"
    )


# -- connectors ----------------------------------------------------------------------


def _requests_carried(session: Session, key: tuple[str, ...]) -> list[str]:
    r = FulfillmentRequest
    return _count(session, "fulfillment request(s)", r, r.connector_id == _connector_id(key[0]))


def _routing_naming(session: Session, key: tuple[str, ...]) -> list[str]:
    return RuleDraft(session).connector_referrers(key[0])


def _trigger_points_to(session: Session, key: tuple[str, ...]) -> list[str]:
    connector_id = session.scalar(select(Connector.id).where(Connector.name == key[0]))
    return [] if connector_id is None else trigger_referrers(session, connector_id)


def _outbox_messages_to(session: Session, key: tuple[str, ...]) -> list[str]:
    m = OutboxMessage
    return _count(session, "outbox message(s)", m, m.connector_id == _connector_id(key[0]))


# -- task types ----------------------------------------------------------------------


def _processes_using(session: Session, key: tuple[str, ...]) -> list[str]:
    rows = session.execute(
        select(Process.name, Process.version)
        .join(ProcessStep, ProcessStep.process_id == Process.id)
        .join(TaskType, ProcessStep.task_type_id == TaskType.id)
        .where(TaskType.code == key[0])
    )
    return sorted({f"process {n} v{v}" for n, v in rows})


def _routing_defaults_for(session: Session, key: tuple[str, ...]) -> list[str]:
    return [f"{r} for it" for r in RuleDraft(session).task_type_referrers(key[0])]


# -- wallet entries ------------------------------------------------------------------


def wallet_referrers(session: Session, key: tuple[str, ...]) -> list[str]:
    """The connectors that name wallet entry ``(credential_map, key)`` for credentials
    or their client certificate."""
    credential_map, name = key
    rows = session.scalars(
        select(Connector.name).where(
            Connector.credential_map == credential_map,
            (Connector.credential_key == name) | (Connector.tls_client_certificate == name),
        )
    )
    return [f"connector {n}" for n in rows]


def certificate_referrers(session: Session, key: tuple[str, ...]) -> list[str]:
    """The connectors whose client certificate is wallet entry ``(credential_map, key)``."""
    credential_map, name = key
    rows = session.scalars(
        select(Connector.name).where(
            Connector.credential_map == credential_map,
            Connector.tls_client_certificate == name,
        )
    )
    return sorted(f"connector {n}" for n in rows)


_KEEP_HISTORY = "disable it instead (enabled = false) so their history stays intact"

#: For each change that could strand a reference, what to look for and how to refuse.
REFUSALS: dict[str, tuple[Refusal, ...]] = {
    "remove source system": (
        Refusal(
            (_connectors_to, _orders_from, _open_requests_to, _staged_orders_from,
             _staged_responses_from),
            "source system {0} is used by {users}; remove those first",
        ),
    ),
    "remove connector": (
        Refusal((_requests_carried,), "connector {0} carried {users}; " + _KEEP_HISTORY),
        Refusal((_routing_naming,), "connector {0} is named by routing: {users}"),
        Refusal((_trigger_points_to,), "connector {0} receives trigger point(s) {users}"),
        Refusal((_outbox_messages_to,), "connector {0} has {users}; " + _KEEP_HISTORY),
    ),
    "connector leaves BUSINESS_EVENT": (
        Refusal(
            (_trigger_points_to,),
            "connector {0} receives trigger point(s) {users}; "
            "it must stay BUSINESS_EVENT until they no longer name it",
        ),
    ),
    "remove task type": (
        Refusal((_processes_using, _routing_defaults_for), "task type {0} is used by {users}"),
    ),
    "remove wallet entry": (
        Refusal(
            (wallet_referrers,),
            "wallet entry ({0}, {1}) is used by {users}; point them at another key first",
            shown=None,
        ),
    ),
    "drop client certificate": (
        Refusal(
            (certificate_referrers,),
            "wallet entry ({0}, {1}) holds the client certificate of {users}; "
            "give --client-certificate and --client-key again",
            shown=None,
        ),
    ),
}  # fmt: skip
