"""The registry on SQLAlchemy: specs in, specs out, references checked, changes audited.

Every ``put_*`` compares the spec with what is stored and returns the :class:`Change`
it made, or ``None`` when nothing differs; that is what makes ``omgw apply`` idempotent.
Every change is written to the audit log in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.connector_specs import (
    ConnectorSpec,
    RetryPolicy,
    SourceSystemSpec,
    TlsSettings,
    ValueMaps,
    check_domain,
)
from connectors.spec_reader import is_plain
from gateway.errors import ConflictError, NotFoundError, ValidationError, did_you_mean
from gateway.orchestration_model import (
    DEFAULT_PROCESS,
    RETURN_PROCESS,
    SYSTEM_TASK_TYPES,
    ProcessSpec,
    StepSpec,
    TaskSpec,
    TaskTypeSpec,
    check_process,
)
from gateway.persistence import audit
from gateway.persistence.audit import Change
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
    Task,
    TaskService,
    TaskType,
    ValueMap,
    WalletEntry,
)
from gateway.registry.rules import RuleStore
from gateway.registry.triggers import trigger_referrers

__all__ = ["Registry", "ensure_builtins", "wallet_entry"]


class _Spec(Protocol):
    def to_mapping(self) -> dict[str, Any]: ...


def _names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class Registry:
    """Reads and changes the registry inside the caller's session and transaction."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self.actor = actor

    def _audit(self, change: Change) -> Change:
        audit.record(self._s, self.actor, change)
        return change

    def _audit_put(self, entity: str, key: str, before: _Spec | None, after: _Spec) -> Change:
        old = None if before is None else before.to_mapping()
        return self._audit(Change.put(entity, key, old, after.to_mapping()))

    # -- source systems --------------------------------------------------------------

    def _system_row(self, code: str) -> SourceSystem | None:
        return self._s.scalar(select(SourceSystem).where(SourceSystem.code == code))

    def _require_system(self, code: str) -> SourceSystem:
        row = self._system_row(code)
        if row is None:
            raise NotFoundError(
                "SOURCE_SYSTEM_UNKNOWN",
                f"there is no source system {code!r}{self._like(SourceSystem.code, code)}",
            )
        return row

    @staticmethod
    def _system_spec(row: SourceSystem) -> SourceSystemSpec:
        return SourceSystemSpec(
            code=row.code,
            name=row.name,
            system_type=row.system_type,
            order_capture=row.order_capture,
            fulfillment=row.fulfillment,
            cross_reference=row.cross_reference,
            time_zone=row.time_zone,
            collections_allowed=row.collections_allowed,
        )

    def source_system(self, code: str) -> SourceSystemSpec:
        return self._system_spec(self._require_system(code))

    def source_systems(self) -> list[SourceSystemSpec]:
        rows = sorted(self._s.scalars(select(SourceSystem)), key=lambda r: r.code)
        return [self._system_spec(r) for r in rows]

    def put_source_system(self, spec: SourceSystemSpec, mode: str = "upsert") -> Change | None:
        """``mode``: ``create`` (must be new), ``update`` (must exist) or ``upsert``."""
        row = self._system_row(spec.code)
        before = None if row is None else self._system_spec(row)
        self._check_mode(mode, "source system", spec.code, before is not None)
        if before == spec:
            return None
        if row is None:
            row = SourceSystem(code=spec.code)
            self._s.add(row)
        row.name = spec.name
        row.system_type = spec.system_type
        row.order_capture = spec.order_capture
        row.fulfillment = spec.fulfillment
        row.cross_reference = spec.cross_reference
        row.time_zone = spec.time_zone
        row.collections_allowed = spec.collections_allowed
        self._s.flush()
        return self._audit_put("source_system", spec.code, before, spec)

    def remove_source_system(self, code: str) -> Change:
        row = self._require_system(code)
        users = [
            f"connector {n}"
            for n in self._s.scalars(
                select(Connector.name).where(Connector.target_system_id == row.id)
            )
        ]
        orders = self._s.scalar(
            select(func.count())
            .select_from(OrderHeader)
            .where(OrderHeader.source_system_id == row.id)
        )
        if orders:
            users.append(f"{orders} order(s)")
        requests, staged, responses = FulfillmentRequest, StagedOrder, StagedResponse
        pending = (
            ("open fulfillment request(s)", requests, requests.fulfillment_system,
             requests.status.in_(("SENT", "ACCEPTED"))),
            ("staged order(s)", staged, staged.source_system, staged.status == "STAGED"),
            ("staged response(s)", responses, responses.fulfillment_system,
             responses.status == "STAGED"),
        )  # fmt: skip
        for label, model, column, open_ in pending:
            count = self._s.scalar(
                select(func.count()).select_from(model).where(column == code, open_)
            )
            if count:
                users.append(f"{count} {label}")
        if users:
            raise ConflictError(
                "IN_USE", f"source system {code} is used by {_names(users)}; remove those first"
            )
        before = self._system_spec(row).to_mapping()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "source_system", code, before, None))

    # -- cross-references ------------------------------------------------------------

    def value_maps(self, system: str) -> ValueMaps:
        """The system's value maps, empty (pass-through) when cross-reference is off."""
        row = self._system_row(system)
        if row is None or not row.cross_reference:
            return ValueMaps()
        rows = self._s.execute(
            select(ValueMap.domain, ValueMap.external_value, ValueMap.internal_value).where(
                ValueMap.source_system_id == row.id
            )
        )
        return ValueMaps((d, e, i) for d, e, i in rows)

    def xref_entries(
        self, system: str | None = None, domain: str | None = None
    ) -> list[tuple[str, str, str, str]]:
        stmt = select(
            SourceSystem.code, ValueMap.domain, ValueMap.external_value, ValueMap.internal_value
        ).join(SourceSystem, ValueMap.source_system_id == SourceSystem.id)
        if system:
            stmt = stmt.where(SourceSystem.code == system)
        if domain:
            stmt = stmt.where(ValueMap.domain == domain)
        return sorted((s, d, e, i) for s, d, e, i in self._s.execute(stmt))

    def put_xref(self, system: str, domain: str, external: str, internal: str) -> Change | None:
        external, internal = external.strip(), internal.strip()
        if why := check_domain(domain):
            raise ValidationError("INVALID_VALUE", why)
        for what, value in (("external", external), ("internal", internal)):
            if not is_plain(value, 300):
                raise ValidationError(
                    "INVALID_VALUE",
                    f"a value map's {what} value is 1 to 300 characters, no control characters",
                )
        ss = self._require_system(system)
        row = self._s.scalar(
            select(ValueMap).where(
                ValueMap.source_system_id == ss.id,
                ValueMap.domain == domain,
                ValueMap.external_value == external,
            )
        )
        key = f"{system}/{domain}/{external}"
        if row is not None and row.internal_value == internal:
            return None
        before = None if row is None else {"internal": row.internal_value}
        if row is None:
            row = ValueMap(source_system_id=ss.id, domain=domain, external_value=external)
            self._s.add(row)
        row.internal_value = internal
        self._s.flush()
        return self._audit(
            Change.put(
                "xref",
                key,
                before,
                {"internal": internal},
            )
        )

    def remove_xref(self, system: str, domain: str, external: str) -> Change:
        ss = self._require_system(system)
        row = self._s.scalar(
            select(ValueMap).where(
                ValueMap.source_system_id == ss.id,
                ValueMap.domain == domain,
                ValueMap.external_value == external,
            )
        )
        if row is None:
            raise NotFoundError(
                "XREF_UNKNOWN", f"source system {system} has no {domain} value {external!r}"
            )
        before = {"internal": row.internal_value}
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "xref", f"{system}/{domain}/{external}", before, None))

    def replace_xref_domain(
        self, system: str, domain: str, mapping: dict[str, str]
    ) -> list[Change]:
        """Make the domain hold exactly ``mapping`` (as a setup file describes it)."""
        changes = [self.put_xref(system, domain, e, i) for e, i in sorted(mapping.items())]
        for _s, _d, external, _i in self.xref_entries(system, domain):
            if external not in mapping:
                changes.append(self.remove_xref(system, domain, external))
        return [c for c in changes if c is not None]

    # -- connectors ------------------------------------------------------------------

    def _connector_row(self, name: str) -> Connector | None:
        return self._s.scalar(select(Connector).where(Connector.name == name))

    @staticmethod
    def _connector_spec(row: Connector) -> ConnectorSpec:
        return ConnectorSpec(
            name=row.name,
            target_system=row.target_system.code,
            url=row.url,
            description=row.description,
            credential_map=row.credential_map,
            credential_key=row.credential_key,
            auth_style=row.auth_style,
            invocation_mode=row.invocation_mode,
            response_processing=row.response_processing,
            send_attachments=row.send_attachments,
            timeout=row.timeout_seconds,
            retry=RetryPolicy(row.retry_max_attempts, row.retry_base_delay, row.retry_max_delay),
            tls=TlsSettings(row.tls_verify, row.tls_ca_bundle, row.tls_client_certificate),
            enabled=row.enabled,
        )

    def connector(self, name: str) -> ConnectorSpec | None:
        row = self._connector_row(name)
        return None if row is None else self._connector_spec(row)

    def require_connector(self, name: str) -> ConnectorSpec:
        spec = self.connector(name)
        if spec is None:
            raise NotFoundError(
                "CONNECTOR_UNKNOWN",
                f"there is no connector {name!r}{self._like(Connector.name, name)}",
            )
        return spec

    def connectors_for(self, target_system: str) -> list[ConnectorSpec]:
        return [c for c in self.connectors() if c.target_system == target_system]

    def connectors(self) -> list[ConnectorSpec]:
        rows = sorted(self._s.scalars(select(Connector)), key=lambda r: r.name)
        return [self._connector_spec(r) for r in rows]

    def _wallet_entry(self, credential_map: str, key: str) -> WalletEntry | None:
        return wallet_entry(self._s, credential_map, key)

    def put_connector(self, spec: ConnectorSpec, mode: str = "upsert") -> Change | None:
        row = self._connector_row(spec.name)
        before = None if row is None else self._connector_spec(row)
        self._check_mode(mode, "connector", spec.name, before is not None)
        if before == spec:
            return None
        target = self._system_row(spec.target_system)
        if target is None:
            raise NotFoundError(
                "SOURCE_SYSTEM_UNKNOWN",
                f"connector {spec.name}: target system {spec.target_system!r} does not exist"
                f"{self._like(SourceSystem.code, spec.target_system)}; add it with "
                f"'omgw source-system add {spec.target_system}'",
            )
        for what, key in (
            ("credential_key", spec.credential_key),
            ("tls.client_certificate", spec.tls.client_certificate),
        ):
            if key and self._wallet_entry(spec.credential_map, key) is None:
                raise NotFoundError(
                    "WALLET_ENTRY_UNKNOWN",
                    f"connector {spec.name}: {what} names wallet entry "
                    f"({spec.credential_map}, {key}), which does not exist; add it with "
                    f"'omgw wallet set {spec.credential_map} {key} --username …'",
                )
        new_bundle = before is None or before.tls.ca_bundle != spec.tls.ca_bundle
        if new_bundle and spec.tls.ca_bundle and not Path(spec.tls.ca_bundle).is_file():
            raise ValidationError(
                "INVALID_VALUE",
                f"connector {spec.name}: CA bundle {spec.tls.ca_bundle} is not a file here",
            )
        cert = spec.tls.client_certificate
        if cert and not self._wallet_entry(spec.credential_map, cert).has_client_certificate:  # type: ignore[union-attr]
            raise ValidationError(
                "INVALID_VALUE",
                f"connector {spec.name}: wallet entry {cert} holds no client certificate",
            )
        if row is not None and spec.invocation_mode != "BUSINESS_EVENT":
            triggers = trigger_referrers(self._s, row.id)
            if triggers:
                raise ConflictError(
                    "IN_USE",
                    f"connector {spec.name} receives trigger point(s) {_names(triggers)}; "
                    "it must stay BUSINESS_EVENT until they no longer name it",
                )
        if row is None:
            row = Connector(name=spec.name)
            self._s.add(row)
        row.target_system = target
        row.url = spec.url
        row.description = spec.description
        row.credential_map = spec.credential_map
        row.credential_key = spec.credential_key
        row.auth_style = spec.auth_style
        row.invocation_mode = spec.invocation_mode
        row.response_processing = spec.response_processing
        row.send_attachments = spec.send_attachments
        row.timeout_seconds = spec.timeout
        row.retry_max_attempts = spec.retry.max_attempts
        row.retry_base_delay = spec.retry.base_delay
        row.retry_max_delay = spec.retry.max_delay
        row.tls_verify = spec.tls.verify
        row.tls_ca_bundle = spec.tls.ca_bundle
        row.tls_client_certificate = spec.tls.client_certificate
        row.enabled = spec.enabled
        self._s.flush()
        return self._audit_put("connector", spec.name, before, spec)

    def remove_connector(self, name: str) -> Change:
        row = self._connector_row(name)
        if row is None:
            raise NotFoundError(
                "CONNECTOR_UNKNOWN",
                f"there is no connector {name!r}{self._like(Connector.name, name)}",
            )
        requests = self._s.scalar(
            select(func.count())
            .select_from(FulfillmentRequest)
            .where(FulfillmentRequest.connector_id == row.id)
        )
        if requests:
            raise ConflictError(
                "IN_USE",
                f"connector {name} carried {requests} fulfillment request(s); "
                "disable it instead (enabled = false) so their history stays intact",
            )
        routes = RuleStore(self._s).connector_referrers(name)
        if routes:
            raise ConflictError("IN_USE", f"connector {name} is named by routing: {_names(routes)}")
        triggers = trigger_referrers(self._s, row.id)
        if triggers:
            raise ConflictError(
                "IN_USE", f"connector {name} receives trigger point(s) {_names(triggers)}"
            )
        events = self._s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.connector_id == row.id)
        )
        if events:
            raise ConflictError(
                "IN_USE",
                f"connector {name} has {events} outbox message(s); "
                "disable it instead (enabled = false) so their history stays intact",
            )
        before = self._connector_spec(row).to_mapping()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "connector", name, before, None))

    def certificate_referrers(self, credential_map: str, key: str) -> list[str]:
        rows = self._s.scalars(
            select(Connector.name).where(
                Connector.credential_map == credential_map,
                Connector.tls_client_certificate == key,
            )
        )
        return sorted(f"connector {n}" for n in rows)

    def wallet_referrers(self, credential_map: str, key: str) -> list[str]:
        rows = self._s.scalars(
            select(Connector.name).where(
                Connector.credential_map == credential_map,
                (Connector.credential_key == key) | (Connector.tls_client_certificate == key),
            )
        )
        return [f"connector {n}" for n in rows]

    # -- task types ------------------------------------------------------------------

    def _task_type_row(self, code: str) -> TaskType | None:
        return self._s.scalar(select(TaskType).where(TaskType.code == code))

    @staticmethod
    def _task_type_spec(row: TaskType) -> TaskTypeSpec:
        return TaskTypeSpec(
            code=row.code,
            name=row.name,
            description=row.description,
            tasks=tuple(TaskSpec(t.name, tuple(s.name for s in t.services)) for t in row.tasks),
            system=row.system,
        )

    def task_type(self, code: str) -> TaskTypeSpec:
        row = self._task_type_row(code)
        if row is None:
            raise NotFoundError(
                "TASK_TYPE_UNKNOWN",
                f"there is no task type {code!r}{self._like(TaskType.code, code)}",
            )
        return self._task_type_spec(row)

    def task_types(self) -> list[TaskTypeSpec]:
        rows = sorted(self._s.scalars(select(TaskType)), key=lambda r: (not r.system, r.code))
        return [self._task_type_spec(r) for r in rows]

    def put_task_type(self, spec: TaskTypeSpec, mode: str = "upsert") -> Change | None:
        row = self._task_type_row(spec.code)
        before = None if row is None else self._task_type_spec(row)
        self._check_mode(mode, "task type", spec.code, before is not None)
        if before is not None and before.system and not spec.system:
            raise ConflictError(
                "BUILT_IN", f"task type {spec.code} is built in; it cannot be changed"
            )
        if before == spec:
            return None
        if row is None:
            row = TaskType(code=spec.code, system=spec.system)
            self._s.add(row)
        else:
            self._check_steps_still_valid(row, spec)
        row.name = spec.name
        row.description = spec.description
        row.tasks.clear()
        self._s.flush()  # delete the old tasks before their names are reused
        row.tasks.extend(
            Task(
                position=i,
                name=t.name,
                services=[TaskService(position=j, name=n) for j, n in enumerate(t.services)],
            )
            for i, t in enumerate(spec.tasks)
        )
        self._s.flush()
        return self._audit_put("task_type", spec.code, before, spec)

    def _check_steps_still_valid(self, row: TaskType, spec: TaskTypeSpec) -> None:
        steps = self._s.execute(
            select(Process.name, Process.version, ProcessStep.task_name, ProcessStep.service_name)
            .join(Process, ProcessStep.process_id == Process.id)
            .where(ProcessStep.task_type_id == row.id)
        )
        broken = []
        for name, version, task_name, service in steps:
            task = spec.task(task_name)
            if task is None or service not in task.services:
                broken.append(f"process {name} v{version} ({task_name} / {service})")
        if broken:
            raise ConflictError(
                "IN_USE",
                f"task type {row.code}: the change removes tasks or services used by "
                f"{_names(sorted(set(broken)))}",
            )

    def remove_task_type(self, code: str) -> Change:
        row = self._task_type_row(code)
        if row is None:
            raise NotFoundError(
                "TASK_TYPE_UNKNOWN",
                f"there is no task type {code!r}{self._like(TaskType.code, code)}",
            )
        if row.system:
            raise ConflictError("BUILT_IN", f"task type {code} is built in; it cannot be removed")
        users = sorted(
            {
                f"process {n} v{v}"
                for n, v in self._s.execute(
                    select(Process.name, Process.version)
                    .join(ProcessStep, ProcessStep.process_id == Process.id)
                    .where(ProcessStep.task_type_id == row.id)
                )
            }
        )
        users += [f"{r} for it" for r in RuleStore(self._s).task_type_referrers(code)]
        if users:
            raise ConflictError("IN_USE", f"task type {code} is used by {_names(users)}")
        before = self._task_type_spec(row).to_mapping()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "task_type", code, before, None))

    # -- processes -------------------------------------------------------------------

    def _process_rows(self, name: str) -> list[Process]:
        return list(
            self._s.scalars(select(Process).where(Process.name == name).order_by(Process.version))
        )

    @staticmethod
    def _process_spec(row: Process) -> ProcessSpec:
        return ProcessSpec(
            name=row.name,
            description=row.description,
            steps=tuple(
                StepSpec(
                    s.name, s.task_type.code, s.task_name, s.service_name, s.kind, s.planned_minutes
                )
                for s in row.steps
            ),
        )

    def process(self, name: str, version: int | None = None) -> tuple[int, ProcessSpec]:
        rows = self._process_rows(name)
        if version is not None:
            rows = [r for r in rows if r.version == version]
        if not rows:
            which = f" version {version}" if version is not None else ""
            like = self._like(Process.name, name) if version is None else ""
            raise NotFoundError("PROCESS_UNKNOWN", f"there is no process {name!r}{which}{like}")
        return rows[-1].version, self._process_spec(rows[-1])

    def is_builtin_process(self, name: str) -> bool:
        return any(r.system for r in self._process_rows(name))

    def process_versions(self, name: str) -> list[int]:
        return [r.version for r in self._process_rows(name)]

    def processes(self) -> list[tuple[int, ProcessSpec]]:
        """The newest version of each process."""
        names = sorted(set(self._s.scalars(select(Process.name))))
        return [self.process(n) for n in names]

    def put_process(
        self, spec: ProcessSpec, mode: str = "upsert", *, system: bool = False
    ) -> Change | None:
        """Store ``spec`` as a new version unless it equals the newest one."""
        rows = self._process_rows(spec.name)
        latest = self._process_spec(rows[-1]) if rows else None
        self._check_mode(mode, "process", spec.name, latest is not None)
        if latest == spec:
            return None
        if rows and rows[-1].system and not system:
            raise ConflictError(
                "BUILT_IN",
                f"process {spec.name} is built in; copy it under another name to change it",
            )
        types = {r.code: r for r in self._s.scalars(select(TaskType))}
        problems = check_process(spec, {c: self._task_type_spec(r) for c, r in types.items()})
        if problems:
            text = f"process {spec.name}: " + "; ".join(str(p) for p in problems)
            if any(p.path[-1] == "task_type" for p in problems):
                raise NotFoundError("TASK_TYPE_UNKNOWN", text)
            raise ValidationError("INVALID_VALUE", text)
        version = rows[-1].version + 1 if rows else 1
        row = Process(name=spec.name, version=version, description=spec.description, system=system)
        row.steps = [
            ProcessStep(
                position=i,
                name=s.name,
                task_type=types[s.task_type],
                task_name=s.task,
                service_name=s.service,
                kind=s.kind,
                planned_minutes=s.planned_minutes,
            )
            for i, s in enumerate(spec.steps)
        ]
        self._s.add(row)
        self._s.flush()
        after = {**spec.to_mapping(), "version": version}
        before = None if latest is None else {**latest.to_mapping(), "version": rows[-1].version}
        return self._audit(
            Change("create" if latest is None else "update", "process", spec.name, before, after)
        )

    def remove_process(self, name: str) -> Change:
        rows = self._process_rows(name)
        if not rows:
            raise NotFoundError(
                "PROCESS_UNKNOWN", f"there is no process {name!r}{self._like(Process.name, name)}"
            )
        if any(r.system for r in rows):
            raise ConflictError("BUILT_IN", f"process {name} is built in; it cannot be removed")
        before = {**self._process_spec(rows[-1]).to_mapping(), "versions": len(rows)}
        for row in rows:
            self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "process", name, before, None))

    # -- shared ----------------------------------------------------------------------

    def _like(self, column: Any, name: str) -> str:
        """:func:`did_you_mean` over every value of ``column`` (registry tables are small)."""
        return did_you_mean(name, self._s.scalars(select(column).distinct()))

    def _check_mode(self, mode: str, what: str, key: str, exists: bool) -> None:
        if mode == "create" and exists:
            raise ConflictError(
                "ALREADY_EXISTS", f"{what} {key} already exists; use 'update' to change it"
            )
        if mode == "update" and not exists:
            code, column = {
                "source system": ("SOURCE_SYSTEM_UNKNOWN", SourceSystem.code),
                "connector": ("CONNECTOR_UNKNOWN", Connector.name),
                "task type": ("TASK_TYPE_UNKNOWN", TaskType.code),
                "process": ("PROCESS_UNKNOWN", Process.name),
            }[what]
            raise NotFoundError(code, f"there is no {what} {key!r}{self._like(column, key)}")


def wallet_entry(session: Session, credential_map: str, key: str) -> WalletEntry | None:
    return session.scalar(
        select(WalletEntry).where(
            WalletEntry.credential_map == credential_map, WalletEntry.key == key
        )
    )


def ensure_builtins(session: Session) -> None:
    """Write the built-in task types and the default process where they are missing.

    Run whenever the schema is prepared; changes nothing when they are there already.
    """
    registry = Registry(session, actor="omgw")
    for spec in SYSTEM_TASK_TYPES:
        row = registry._task_type_row(spec.code)
        if row is None or registry._task_type_spec(row) != spec:
            registry.put_task_type(spec)
    for process in (DEFAULT_PROCESS, RETURN_PROCESS):
        if not registry.process_versions(process.name):
            registry.put_process(process, system=True)
