"""Orchestration processes as stored, by version.

A change of steps stores a new version, so orders already on a version keep it; the
built-in processes cannot be changed or removed, only copied under another name.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.errors import ConflictError, NotFoundError, ValidationError
from gateway.orchestration_model import ProcessSpec, StepSpec, check_process
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import Process, ProcessStep, TaskType
from gateway.registry.store_base import StoreBase
from gateway.registry.task_type_store import task_type_spec

__all__ = ["ProcessStore"]


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


class ProcessStore(StoreBase):
    def _process_rows(self, name: str) -> list[Process]:
        return list(
            self._s.scalars(select(Process).where(Process.name == name).order_by(Process.version))
        )

    def process(self, name: str, version: int | None = None) -> tuple[int, ProcessSpec]:
        rows = self._process_rows(name)
        if version is not None:
            rows = [r for r in rows if r.version == version]
        if not rows:
            which = f" version {version}" if version is not None else ""
            like = self._like(Process.name, name) if version is None else ""
            raise NotFoundError("PROCESS_UNKNOWN", f"there is no process {name!r}{which}{like}")
        return rows[-1].version, _process_spec(rows[-1])

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
        latest = _process_spec(rows[-1]) if rows else None
        self._check_mode(
            mode, "process", spec.name, latest is not None, "PROCESS_UNKNOWN", Process.name
        )
        if latest == spec:
            return None
        if rows and rows[-1].system and not system:
            raise ConflictError(
                "BUILT_IN",
                f"process {spec.name} is built in; copy it under another name to change it",
            )
        types = {r.code: r for r in self._s.scalars(select(TaskType))}
        problems = check_process(spec, {c: task_type_spec(r) for c, r in types.items()})
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
        before = {**_process_spec(rows[-1]).to_mapping(), "versions": len(rows)}
        for row in rows:
            self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "process", name, before, None))
