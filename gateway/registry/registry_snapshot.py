"""The registry as a process holds it: plain values, read again only after a change.

Every write reads configuration: the source system that sends it, the connectors of a
system, the process a line follows, the routing version in force, the trigger points
and value maps. Held here per database, that costs one read per operation: the stamp
that database triggers move with every change to those tables, in the changing
transaction (``RegistryStamp``). A moved stamp reloads the whole copy inside the
reading transaction, so an operation never sees configuration older than its stamp.

The values are frozen and hold no session, so any thread may share them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.connector_specs import ValueMaps
from gateway.orchestration_model import StepSpec
from gateway.persistence.models import (
    Connector,
    Process,
    ProcessStep,
    RegistryStamp,
    RuleSetVersion,
    SourceSystem,
    TaskService,
    TaskType,
    TriggerPoint,
    TriggerPointConnector,
    ValueMap,
)
from gateway.persistence.models import (
    Task as TaskRow,
)
from gateway.registry.rule_versions import RuleVersions
from routing.engine import Engine

__all__ = [
    "ConnectorInfo",
    "InTransaction",
    "ProcessVersion",
    "Snapshot",
    "System",
    "Trigger",
    "current",
]

#: models whose rows the snapshot holds: pending changes to them are flushed (and so
#: move the stamp) before the stamp is read
WATCHED = (
    SourceSystem,
    ValueMap,
    Connector,
    TaskType,
    TaskRow,
    TaskService,
    Process,
    ProcessStep,
    RuleSetVersion,
    TriggerPoint,
    TriggerPointConnector,
)


@dataclass(frozen=True)
class System:
    id: int
    code: str
    order_capture: bool
    fulfillment: bool
    cross_reference: bool
    #: its value maps; empty (pass-through) when cross-reference is off
    maps: ValueMaps = field(default_factory=ValueMaps, compare=False)


@dataclass(frozen=True)
class ConnectorInfo:
    id: int
    name: str
    url: str
    system: System
    invocation_mode: str
    response_processing: str
    enabled: bool

    @property
    def is_service(self) -> bool:
        """Whether it takes fulfillment requests (an event connector takes events)."""
        return self.invocation_mode != "BUSINESS_EVENT"


@dataclass(frozen=True)
class ProcessVersion:
    id: int
    name: str
    version: int
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True)
class Trigger:
    event: str
    criterion: str
    raise_event: bool
    send_email: bool
    email_to: str
    #: the connectors its events are pushed to, by name
    connectors: tuple[ConnectorInfo, ...]


@dataclass(frozen=True)
class Snapshot:
    stamp: int
    systems: Mapping[str, System]
    connectors: Mapping[str, ConnectorInfo]
    processes: Mapping[int, ProcessVersion]
    #: the highest version of each process, by name
    newest: Mapping[str, ProcessVersion]
    #: the newest published routing version, compiled; None before the first publish
    routing: Engine | None
    triggers: tuple[Trigger, ...]
    systems_by_id: Mapping[int, System] = field(init=False, compare=False)
    connectors_by_id: Mapping[int, ConnectorInfo] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "systems_by_id", {s.id: s for s in self.systems.values()})
        object.__setattr__(self, "connectors_by_id", {c.id: c for c in self.connectors.values()})

    def service_connectors(self, system_id: int) -> list[ConnectorInfo]:
        """The connectors that take requests for a system, by name."""
        return sorted(
            (c for c in self.connectors.values() if c.system.id == system_id and c.is_service),
            key=lambda c: c.name,
        )


_HELD: dict[str, Snapshot] = {}
_STAMP = select(RegistryStamp.n).where(RegistryStamp.id == 1)
_LOCK = threading.Lock()


class InTransaction:
    """For a class whose instances work inside one transaction (``self._s``): the
    registry as that transaction sees it, read at first use.

    Not a ``cached_property``: on Python 3.11 that holds one lock per class, shared by
    every instance, while the first read waits for the database's write turn; a thread
    holding the turn and wanting the lock would wait for ever on a thread holding the
    lock and wanting the turn."""

    _s: Session
    _registry: Snapshot | None = None

    @property
    def registry(self) -> Snapshot:
        if self._registry is None:
            self._registry = current(self._s)
        return self._registry


def current(session: Session) -> Snapshot:
    """The registry as of the stamp this transaction reads (one read when it is held)."""
    if any(isinstance(o, WATCHED) for o in (*session.new, *session.dirty, *session.deleted)):
        session.flush()  # the triggers move the stamp for what this transaction changed
    connection = session.connection()
    stamp = connection.execute(_STAMP).scalar_one()
    key = connection.engine.url.render_as_string(hide_password=True)
    held = _HELD.get(key)
    if held is not None and held.stamp == stamp:
        return held
    loaded = _load(session, stamp)
    with _LOCK:
        mine = _HELD.get(key)
        if mine is None or mine.stamp <= stamp:
            _HELD[key] = loaded
    return loaded


def _load(session: Session, stamp: int) -> Snapshot:
    run = session.connection().execute
    maps: dict[int, list[tuple[str, str, str]]] = {}
    for system_id, domain, external, internal in run(
        select(
            ValueMap.source_system_id,
            ValueMap.domain,
            ValueMap.external_value,
            ValueMap.internal_value,
        )
    ):
        maps.setdefault(system_id, []).append((domain, external, internal))
    systems = {
        r.code: System(
            r.id,
            r.code,
            r.order_capture,
            r.fulfillment,
            r.cross_reference,
            ValueMaps(maps.get(r.id, ())) if r.cross_reference else ValueMaps(),
        )
        for r in run(
            select(
                SourceSystem.id,
                SourceSystem.code,
                SourceSystem.order_capture,
                SourceSystem.fulfillment,
                SourceSystem.cross_reference,
            )
        )
    }
    by_id = {s.id: s for s in systems.values()}
    connectors = {
        r.name: ConnectorInfo(
            r.id,
            r.name,
            r.url,
            by_id[r.target_system_id],
            r.invocation_mode,
            r.response_processing,
            r.enabled,
        )
        for r in run(
            select(
                Connector.id,
                Connector.name,
                Connector.url,
                Connector.target_system_id,
                Connector.invocation_mode,
                Connector.response_processing,
                Connector.enabled,
            )
        )
    }
    processes = _processes(session)
    newest: dict[str, ProcessVersion] = {}
    for p in processes.values():
        if p.name not in newest or p.version > newest[p.name].version:
            newest[p.name] = p
    return Snapshot(
        stamp=stamp,
        systems=systems,
        connectors=connectors,
        processes=processes,
        newest=newest,
        routing=_routing(session),
        triggers=_triggers(session, {c.id: c for c in connectors.values()}),
    )


def _processes(session: Session) -> dict[int, ProcessVersion]:
    steps: dict[int, list[StepSpec]] = {}
    for r in session.connection().execute(
        select(
            ProcessStep.process_id,
            ProcessStep.name,
            TaskType.code,
            ProcessStep.task_name,
            ProcessStep.service_name,
            ProcessStep.kind,
            ProcessStep.planned_minutes,
        )
        .join(TaskType, TaskType.id == ProcessStep.task_type_id)
        .order_by(ProcessStep.process_id, ProcessStep.position)
    ):
        steps.setdefault(r.process_id, []).append(
            StepSpec(r.name, r.code, r.task_name, r.service_name, r.kind, r.planned_minutes)
        )
    return {
        r.id: ProcessVersion(r.id, r.name, r.version, tuple(steps.get(r.id, ())))
        for r in session.connection().execute(select(Process.id, Process.name, Process.version))
    }


def _routing(session: Session) -> Engine | None:
    return RuleVersions(session).engine()


def _triggers(session: Session, connectors: Mapping[int, ConnectorInfo]) -> tuple[Trigger, ...]:
    receivers: dict[int, list[ConnectorInfo]] = {}
    for point_id, connector_id in session.connection().execute(
        select(TriggerPointConnector.trigger_point_id, TriggerPointConnector.connector_id)
    ):
        receivers.setdefault(point_id, []).append(connectors[connector_id])
    return tuple(
        Trigger(
            r.event,
            r.criterion,
            r.raise_event,
            r.send_email,
            r.email_to,
            tuple(sorted(receivers.get(r.id, ()), key=lambda c: c.name)),
        )
        for r in session.connection().execute(
            select(
                TriggerPoint.id,
                TriggerPoint.event,
                TriggerPoint.criterion,
                TriggerPoint.raise_event,
                TriggerPoint.send_email,
                TriggerPoint.email_to,
            )
        )
    )
