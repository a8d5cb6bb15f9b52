"""Task types as stored: kinds of fulfillment work, with their tasks and services.

The built-in ones (:data:`gateway.orchestration_model.SYSTEM_TASK_TYPES`) cannot be
changed or removed; a change to another may not take away a task or service that a
stored process step names.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.errors import ConflictError, NotFoundError
from gateway.orchestration_model import TaskSpec, TaskTypeSpec
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import Process, ProcessStep, Task, TaskService, TaskType
from gateway.registry.references import refuse_if_referenced
from gateway.registry.store_base import StoreBase, names

__all__ = ["TaskTypeStore", "task_type_spec"]


def task_type_spec(row: TaskType) -> TaskTypeSpec:
    return TaskTypeSpec(
        code=row.code,
        name=row.name,
        description=row.description,
        tasks=tuple(TaskSpec(t.name, tuple(s.name for s in t.services)) for t in row.tasks),
        system=row.system,
    )


class TaskTypeStore(StoreBase):
    def _task_type_row(self, code: str) -> TaskType | None:
        return self._s.scalar(select(TaskType).where(TaskType.code == code))

    def _require_task_type(self, code: str) -> TaskType:
        row = self._task_type_row(code)
        if row is None:
            raise NotFoundError(
                "TASK_TYPE_UNKNOWN",
                f"there is no task type {code!r}{self._like(TaskType.code, code)}",
            )
        return row

    def task_type(self, code: str) -> TaskTypeSpec:
        return task_type_spec(self._require_task_type(code))

    def task_types(self) -> list[TaskTypeSpec]:
        rows = sorted(self._s.scalars(select(TaskType)), key=lambda r: (not r.system, r.code))
        return [task_type_spec(r) for r in rows]

    def put_task_type(self, spec: TaskTypeSpec, mode: str = "upsert") -> Change | None:
        row = self._task_type_row(spec.code)
        before = None if row is None else task_type_spec(row)
        self._check_mode(
            mode, "task type", spec.code, before is not None, "TASK_TYPE_UNKNOWN", TaskType.code
        )
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
                f"{names(sorted(set(broken)))}",
            )

    def remove_task_type(self, code: str) -> Change:
        row = self._require_task_type(code)
        if row.system:
            raise ConflictError("BUILT_IN", f"task type {code} is built in; it cannot be removed")
        refuse_if_referenced(self._s, "remove task type", code)
        before = task_type_spec(row).to_mapping()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "task_type", code, before, None))
