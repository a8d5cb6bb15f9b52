"""Where a line is in its process: the steps as routing sees them (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.orchestration_model import DEFAULT_PROCESS, RETURN_PROCESS, StepSpec
from gateway.registry.registry_snapshot import ProcessVersion, Snapshot

__all__ = ["Stage", "first_stage", "next_external", "process_of"]


@dataclass(frozen=True)
class Stage:
    """A process and one of its steps, as routing sees it."""

    process: str
    step: StepSpec


def _steps(process: ProcessVersion | None) -> tuple[str, tuple[StepSpec, ...]]:
    """A process's name and steps; the built-in definition's for a line without one."""
    if process is None:
        return DEFAULT_PROCESS.name, DEFAULT_PROCESS.steps
    return process.name, process.steps


def first_stage(process: ProcessVersion | None, task_type: str) -> Stage | None:
    """The first step of ``task_type`` in ``process``; without a process, in the
    built-in process that has one (a return's receipt is in the return process)."""
    if process is None:
        for builtin in (DEFAULT_PROCESS, RETURN_PROCESS):
            for spec in builtin.steps:
                if spec.task_type == task_type:
                    return Stage(builtin.name, spec)
        return None
    name, steps = _steps(process)
    for spec in steps:
        if spec.task_type == task_type:
            return Stage(name, spec)
    return None


def process_of(registry: Snapshot, process_id: int | None) -> ProcessVersion | None:
    """A line's process version; the newest default one for a line without one (or
    whose version is gone: the built-in definition then)."""
    if process_id is None:
        return registry.newest.get(DEFAULT_PROCESS.name)
    return registry.processes.get(process_id)


def next_external(process: ProcessVersion | None, after: str) -> Stage | None:
    """The external step that follows the first step of task type ``after``."""
    name, steps = _steps(process)
    seen = False
    for spec in steps:
        if seen and spec.kind == "EXTERNAL":
            return Stage(name, spec)
        seen = seen or spec.task_type == after
    return None
