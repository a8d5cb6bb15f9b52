"""The orchestration model: task types, their tasks and services, and the processes
whose steps name them (contract §7.4), as plain values, with the ones the product ships.

Orchestration (:mod:`gateway.orders`) plans and advances lines by these; the registry
(:mod:`gateway.registry`) stores them. It sits at the bottom of ``gateway``, below both,
because the registry, a lower layer than ``orders``, reads and writes it; it does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from connectors.connector_errors import Problem, SpecInvalid
from connectors.spec_reader import (
    CODE,
    IDENTIFIER,
    SpecReader,
    format_duration,
    has_control,
    parse_duration,
)

__all__ = [
    "DEFAULT_PROCESS",
    "RETURN_PROCESS",
    "STEP_KINDS",
    "SYSTEM_TASK_TYPES",
    "ProcessSpec",
    "StepSpec",
    "TaskSpec",
    "TaskTypeSpec",
    "check_process",
]

STEP_KINDS = ("INTERNAL", "EXTERNAL")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class TaskTypeSpec:
    """A kind of fulfillment work and its tasks and services (contract §7.4)."""

    code: str
    name: str = ""
    description: str = ""
    tasks: tuple[TaskSpec, ...] = ()
    system: bool = False

    def task(self, name: str) -> TaskSpec | None:
        return next((t for t in self.tasks if t.name == name), None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TaskTypeSpec:
        r = SpecReader(data)
        code = r.text(
            "code",
            required=True,
            max_len=30,
            pattern=IDENTIFIER,
            hint=" (a letter, then letters, digits, _)",
        )
        tasks: list[TaskSpec] = []
        for i, item in enumerate(r.tables("task")):
            tr = SpecReader(item, ("task", i))
            tname = tr.text("name", required=True, max_len=120) or ""
            services = tr.raw("services")
            if (
                not isinstance(services, list)
                or not services
                or not all(isinstance(s, str) and s.strip() for s in services)
            ):
                tr.problem("services", "must be a non-empty list of service names")
                services = []
            elif any(len(s.strip()) > 120 or has_control(s) for s in services):
                tr.problem(
                    "services", "a service name is 1 to 120 characters, no control characters"
                )
            services = [s.strip() for s in services]
            if len(set(services)) != len(services):
                tr.problem("services", "names a service twice")
            if any(t.name == tname for t in tasks):
                tr.problem("name", f"task {tname!r} appears twice")
            try:
                tr.finish()
            except SpecInvalid:
                r.nested(tr)
            tasks.append(TaskSpec(tname, tuple(services)))
        if code and not tasks:
            r.problem("task", "a task type needs at least one [[task_type.task]]")
        spec = cls(
            code=code or "",
            name=r.text("name", default="", max_len=240) or (code or ""),
            description=r.text("description", default="", max_len=1000) or "",
            tasks=tuple(tasks),
        )
        r.finish()
        return spec

    def to_mapping(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "task": [{"name": t.name, "services": list(t.services)} for t in self.tasks],
        }


@dataclass(frozen=True)
class StepSpec:
    name: str
    task_type: str
    task: str
    service: str
    kind: str = "EXTERNAL"
    planned_minutes: int | None = None


@dataclass(frozen=True)
class ProcessSpec:
    """An orchestration process definition. Versions are numbered by the store: a change
    of steps makes a new version, so orders already on a version keep it."""

    name: str
    description: str = ""
    steps: tuple[StepSpec, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProcessSpec:
        r = SpecReader(data)
        name = r.text(
            "name", required=True, max_len=120, pattern=CODE, hint=" (letters, digits, _ . -)"
        )
        steps: list[StepSpec] = []
        for i, item in enumerate(r.tables("step")):
            sr = SpecReader(item, ("step", i))
            minutes: int | None = None
            duration = sr.text("planned_duration", max_len=20)
            if duration:
                try:
                    minutes = parse_duration(duration)
                except ValueError as exc:
                    sr.problem("planned_duration", str(exc))
            step = StepSpec(
                name=sr.text("name", required=True, max_len=120) or "",
                task_type=sr.text("task_type", required=True, max_len=30) or "",
                task=sr.text("task", required=True, max_len=120) or "",
                service=sr.text("service", required=True, max_len=120) or "",
                kind=sr.choice("kind", STEP_KINDS, "EXTERNAL"),
                planned_minutes=minutes,
            )
            if any(s.name == step.name for s in steps):
                sr.problem("name", f"step {step.name!r} appears twice")
            try:
                sr.finish()
            except SpecInvalid:
                r.nested(sr)
            steps.append(step)
        if name and not steps:
            r.problem("step", "a process needs at least one [[process.step]]")
        spec = cls(
            name=name or "",
            description=r.text("description", default="", max_len=1000) or "",
            steps=tuple(steps),
        )
        r.finish()
        return spec

    def to_mapping(self) -> dict[str, Any]:
        steps = []
        for s in self.steps:
            step = {k: v for k, v in asdict(s).items() if k != "planned_minutes"}
            if s.planned_minutes is not None:
                step["planned_duration"] = format_duration(s.planned_minutes)
            steps.append(step)
        return {"name": self.name, "description": self.description, "step": steps}


def check_process(spec: ProcessSpec, task_types: Mapping[str, TaskTypeSpec]) -> list[Problem]:
    """Problems with the references of ``spec``'s steps to the known task types."""
    problems: list[Problem] = []
    for i, step in enumerate(spec.steps):
        tt = task_types.get(step.task_type)
        if tt is None:
            problems.append(
                Problem(("step", i, "task_type"), f"task type {step.task_type!r} does not exist")
            )
            continue
        task = tt.task(step.task)
        if task is None:
            known = ", ".join(t.name for t in tt.tasks)
            problems.append(
                Problem(
                    ("step", i, "task"), f"task type {tt.code} has no task {step.task!r} ({known})"
                )
            )
        elif step.service not in task.services:
            problems.append(
                Problem(
                    ("step", i, "service"),
                    f"task {task.name!r} has no service {step.service!r} "
                    f"({', '.join(task.services)})",
                )
            )
    return problems


#: The task types the product knows (contract §7.4), with their tasks and services.
SYSTEM_TASK_TYPES: tuple[TaskTypeSpec, ...] = tuple(
    TaskTypeSpec(code, code, desc, (TaskSpec(task, services),), system=True)
    for code, desc, task, services in (
        ("Schedule", "Schedule the line (internal)", "Schedule",
         ("Create Scheduling", "Update Scheduling", "Cancel Scheduling")),
        ("Reservation", "Reserve inventory (internal)", "Reserve",
         ("Create Inventory Reservation", "Update Inventory Reservation",
          "Cancel Inventory Reservation")),
        ("Shipment", "Ship from a warehouse", "Ship",
         ("Create Shipment Request", "Update Shipment Request", "Cancel Shipment Request",
          "Wait for Shipment Advice")),
        ("Invoice", "Bill the line", "Invoice", ("Create Billing Line", "Wait for Billing")),
        ("Return", "Receive a return", "Return",
         ("Create Return Receipt Advice", "Wait for Return Receipt")),
        ("Activity", "Work performed outside Order Management", "Activity",
         ("Create Activity", "Update Activity", "Cancel Activity", "Wait for Activity Completion")),
    )
)  # fmt: skip

#: The process that ships with the product: Schedule → Reservation → Shipment → Invoice.
DEFAULT_PROCESS = ProcessSpec(
    "DOO_OrderFulfillmentGenericProcess",
    "The default process: schedule, reserve, ship, bill.",
    (
        StepSpec("Schedule", "Schedule", "Schedule", "Create Scheduling", "INTERNAL", 60),
        StepSpec(
            "Reserve", "Reservation", "Reserve", "Create Inventory Reservation", "INTERNAL", 60
        ),
        StepSpec("Ship", "Shipment", "Ship", "Create Shipment Request", "EXTERNAL", 2880),
        StepSpec("Invoice", "Invoice", "Invoice", "Create Billing Line", "EXTERNAL", 1440),
    ),
)

#: The process a return line follows: receive the goods back, then credit them.
RETURN_PROCESS = ProcessSpec(
    "DOO_ReturnOrderGenericProcess",
    "The default return process: receive, credit.",
    (
        StepSpec("Receive", "Return", "Return", "Create Return Receipt Advice", "EXTERNAL", 10080),
        StepSpec("Credit", "Invoice", "Invoice", "Create Billing Line", "EXTERNAL", 1440),
    ),
)
