"""The registry on SQLAlchemy: specs in, specs out, references checked, changes audited.

Each part of the registry has a store of its own (source systems, value maps,
connectors, task types, processes); :class:`Registry` is all of them in one object, for
the callers that touch several. Every ``put_*`` compares the spec with what is stored
and returns the :class:`~gateway.persistence.audit_trail.Change` it made, or ``None`` when
nothing differs; that is what makes ``omgw apply`` idempotent. Every change is written
to the audit log in the caller's transaction. What may not be removed while something
names it is decided in one place, :mod:`gateway.registry.references`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.orchestration_model import DEFAULT_PROCESS, RETURN_PROCESS, SYSTEM_TASK_TYPES
from gateway.registry.connector_store import ConnectorStore
from gateway.registry.process_store import ProcessStore
from gateway.registry.source_system_store import SourceSystemStore
from gateway.registry.task_type_store import TaskTypeStore
from gateway.registry.xref_store import XrefStore

__all__ = ["Registry", "ensure_builtins"]


class Registry(SourceSystemStore, XrefStore, ConnectorStore, TaskTypeStore, ProcessStore):
    """Reads and changes the whole registry inside the caller's session and transaction.

    It adds nothing to the stores it joins: each keeps to its own part, sharing only
    :class:`~gateway.registry.store_base.StoreBase`, so their method names do not meet.
    """


def ensure_builtins(session: Session) -> None:
    """Write the built-in task types and the default processes where they are missing.

    Run whenever the schema is prepared; changes nothing when they are there already.
    """
    task_types = TaskTypeStore(session, actor="omgw")
    stored = {spec.code: spec for spec in task_types.task_types()}
    for spec in SYSTEM_TASK_TYPES:
        if stored.get(spec.code) != spec:
            task_types.put_task_type(spec)
    processes = ProcessStore(session, actor="omgw")
    for process in (DEFAULT_PROCESS, RETURN_PROCESS):
        if not processes.process_versions(process.name):
            processes.put_process(process, system=True)
