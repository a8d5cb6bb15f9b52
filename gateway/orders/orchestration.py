"""Orchestration: each fulfillment line walks the steps of its process.

A new line takes the newest version of the default process
(``DOO_OrderFulfillmentGenericProcess``) and keeps it. Internal steps complete at once
and record what they decide: Schedule sets the scheduled ship date (the requested one,
else now) and the line becomes ``SCHEDULED``; Reservation picks the warehouse (the
requested organization, else :data:`DEFAULT_WAREHOUSE`). An external step is routed
(rules → connector), the lines of one order bound for one connector (and the same rule
actions) share one fulfillment request, and the request goes to the outbox in the same
transaction (:mod:`gateway.outbox.writer`). A shipment moves a line to the next external
step (Invoice in the default process); a line whose process has no next step closes.

Until a routing version is published, a new line's request goes to the configured
default fulfillment system, through its first enabled service connector by name (with
none, the request is only recorded, as before routing existed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from connectors.registry import DEFAULT_PROCESS, StepSpec
from gateway.orders.held import active_holds, hold_on
from gateway.orders.routing import Route, Router, line_attributes
from gateway.orders.state import StatusWriter
from gateway.outbox.writer import OutboxWriter
from gateway.persistence.models import (
    Connector,
    FulfillLine,
    FulfillmentRequest,
    OrderHeader,
    OrderLine,
    Process,
    ProcessStep,
    SourceSystem,
    utcnow,
)
from gateway.persistence.quiet import unless_changed

__all__ = ["DEFAULT_WAREHOUSE", "Orchestrator", "Stage", "step_spec"]

#: the organization a reservation picks when the line names none
DEFAULT_WAREHOUSE = "M1"

#: the status a line waits in while an external step of each task type is out
_AWAITING = {"Shipment": "AWAIT_SHIP", "Invoice": "AWAIT_BILLING"}

Pair = tuple[OrderLine, FulfillLine]


@dataclass(frozen=True)
class Stage:
    """A process and one of its steps, as routing sees it."""

    process: str
    step: StepSpec


def step_spec(step: ProcessStep) -> StepSpec:
    """A stored process step as the registry model's value."""
    return StepSpec(
        step.name,
        step.task_type.code,
        step.task_name,
        step.service_name,
        step.kind,
        step.planned_minutes,
    )


#: (process id, (name, version, created), task type) -> the next external stage, per OS
#: process: process versions are immutable, so this never goes stale.
_VERSION_STAGES: dict[tuple[int, tuple[object, ...] | None, str], Stage | None] = {}
#: the same key -> the first stage of that task type (what a request of it routes for)
_VERSION_FIRST_STAGES: dict[tuple[int, tuple[object, ...] | None, str], Stage | None] = {}
_VERSION_CACHE_SIZE = 1000


def _remember(
    cache: dict[tuple[int, tuple[object, ...] | None, str], Stage | None],
    key: tuple[int, tuple[object, ...] | None, str],
    find: Callable[[], Stage | None],
) -> Stage | None:
    try:  # one lookup: another thread may clear the cache between a test and a read
        return cache[key]
    except KeyError:
        pass
    if len(cache) > _VERSION_CACHE_SIZE:
        cache.clear()
    found = cache[key] = find()
    return found


class Orchestrator:
    """Moves lines through their process inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        default_fulfillment_system: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        self._s = session
        self._status = StatusWriter(session)
        self._default_fs = default_fulfillment_system
        self._outbox = OutboxWriter(session, reply_to)
        self._router: Router | None = None
        self._processes: dict[int | None, Process | None] = {}
        self._versions: dict[int, tuple[object, ...] | None] = {}
        self._next: dict[tuple[int | None, str], Stage | None] = {}

    # -- processes ------------------------------------------------------------------

    def _newest(self) -> Process | None:
        if None not in self._processes:
            self._processes[None] = self._s.scalar(
                select(Process)
                .where(Process.name == DEFAULT_PROCESS.name)
                .order_by(Process.version.desc())
                .limit(1)
            )
        return self._processes[None]

    def _process_of(self, fline: FulfillLine) -> Process | None:
        if fline.process_id is None:
            return self._newest()
        if fline.process_id not in self._processes:
            with unless_changed(self._s, Process, ProcessStep):
                self._processes[fline.process_id] = self._s.get(Process, fline.process_id)
        return self._processes[fline.process_id]

    def _stage(self, process: Process | None, task_type: str) -> Stage | None:
        """The first step of ``task_type`` in ``process`` (the built-in definition's when
        the line has no stored process)."""
        if process is None:
            for spec in DEFAULT_PROCESS.steps:
                if spec.task_type == task_type:
                    return Stage(DEFAULT_PROCESS.name, spec)
            return None
        for step in process.steps:
            if step.task_type.code == task_type:
                return Stage(process.name, step_spec(step))
        return None

    def _version(self, process_id: int) -> tuple[object, ...] | None:
        """What identifies a process version for good: its name, version and creation time
        (an id alone could be reused after a delete)."""
        if process_id not in self._versions:
            with unless_changed(self._s, Process):
                row = self._s.execute(
                    select(Process.name, Process.version, Process.created_at).where(
                        Process.id == process_id
                    )
                ).one_or_none()
            self._versions[process_id] = tuple(row) if row else None
        return self._versions[process_id]

    def _stage_of(self, fline: FulfillLine, task_type: str) -> Stage | None:
        """``_stage`` of the line's process, without loading the process's steps when this
        OS process has seen that version (four statements less per request)."""
        if fline.process_id is None:
            return self._stage(self._newest(), task_type)
        key = (fline.process_id, self._version(fline.process_id), task_type)
        return _remember(
            _VERSION_FIRST_STAGES, key, lambda: self._stage(self._process_of(fline), task_type)
        )

    def _next_external(self, process: Process | None, after: str) -> Stage | None:
        """The external step that follows the first step of task type ``after``."""
        key = (process.id if process is not None else None, after)
        if key not in self._next:  # asked once per line of a response: once is enough
            self._next[key] = self._find_next_external(process, after)
        return self._next[key]

    def _next_external_of(self, fline: FulfillLine, after: str) -> Stage | None:
        """``_next_external`` of the line's process, without loading the process's steps
        when this OS process has seen that version: a version never changes."""
        if fline.process_id is None:
            return self._next_external(self._newest(), after)
        key = (fline.process_id, after)
        if key not in self._next:
            known = (fline.process_id, self._version(fline.process_id), after)
            self._next[key] = _remember(
                _VERSION_STAGES,
                known,
                lambda: self._find_next_external(self._process_of(fline), after),
            )
        return self._next[key]

    @staticmethod
    def _find_next_external(process: Process | None, after: str) -> Stage | None:
        steps = (
            [step_spec(s) for s in process.steps] if process is not None else DEFAULT_PROCESS.steps
        )
        name = process.name if process is not None else DEFAULT_PROCESS.name
        seen = False
        for spec in steps:
            if seen and spec.kind == "EXTERNAL":
                return Stage(name, spec)
            seen = seen or spec.task_type == after
        return None

    # -- new lines --------------------------------------------------------------------

    def start(self, header: OrderHeader, pairs: Sequence[Pair]) -> list[FulfillLine]:
        """Run new lines through the internal steps up to their first external step and
        request it; returns the lines routing could not place (``ROUTING_ERROR``)."""
        process = self._newest()
        now = utcnow()
        for line, fline in pairs:
            fline.process_id = process.id if process is not None else None
            steps = process.steps if process is not None else ()
            for step in steps:
                if step.kind == "EXTERNAL":
                    break
                code = step.task_type.code
                if code == "Schedule":
                    fline.scheduled_ship_date = (
                        fline.scheduled_ship_date or line.requested_ship_date or now
                    )
                    self._status.fline(fline, "SCHEDULED", f"scheduled by step {step.name}")
                elif code == "Reservation":
                    fline.warehouse = line.requested_fulfillment_org or DEFAULT_WAREHOUSE
        return self.request(header, pairs, "Shipment")

    def request(
        self,
        header: OrderHeader,
        pairs: Sequence[Pair],
        task_type: str,
        routed: dict[int, tuple[Stage, Route]] | None = None,
    ) -> list[FulfillLine]:
        """Route ``pairs`` for their process's ``task_type`` step and request it.

        ``routed`` holds lines the caller has just routed, by fulfillment line id, with
        the stage they were routed for: those are not routed again for the same stage.
        Returns the lines nothing routes (they go to ``ROUTING_ERROR`` with the reason)."""
        holds = active_holds(self._s, header.id)
        if holds:  # a held line waits here; releasing the hold requests it
            pairs = [p for p in pairs if hold_on(holds, p[0].id) is None]
        if not pairs:
            return []
        router = self._routing()
        waiting = _AWAITING[task_type]
        if not router.active:
            connector = self._default_connector()
            request = self._new_request(header, task_type, self._default_fs, connector)
            for _line, fline in pairs:
                self._assign(fline, request, task_type, waiting, f"{task_type} requested")
            self._outbox.request(request, header, pairs)
            return []
        requests: dict[tuple[int, str | None, str | None], FulfillmentRequest] = {}
        unrouted: list[FulfillLine] = []
        for line, fline in pairs:
            stage = self._stage_of(fline, task_type)
            if stage is None:  # a process without the step: route as the built-in one
                stage = self._stage(None, task_type)
            assert stage is not None
            earlier = routed.get(fline.id) if routed else None
            if earlier is not None and earlier[0] == stage:
                route = earlier[1]
            else:
                values = line_attributes(header, line, fline, stage.process, stage.step)
                route = router.route(values)
            fline.rule_set_version = route.decision.version
            fline.routing_rule_id = route.decision.rule_id
            fline.routing_error = route.error
            if route.connector is None:
                unrouted.append(fline)
                if fline.status != "ROUTING_ERROR":
                    self._status.fline(fline, "ROUTING_ERROR", f"not routed: {route.error}")
                continue
            connector, rule = route.connector, route.decision.rule
            actions = (rule.operation, rule.interface_type) if rule else (None, None)
            key = (connector.id, *actions)
            if key not in requests:
                requests[key] = self._new_request(
                    header, task_type, connector.target_system.code, connector, *actions
                )
            how = f"rule {route.decision.rule_id}" if route.decision.rule_id else "default"
            reason = f"{task_type} requested via {connector.name} ({how})"
            self._assign(fline, requests[key], task_type, waiting, reason)
        for request in requests.values():
            self._outbox.request(request, header, [p for p in pairs if p[1].request is request])
        return unrouted

    # -- after a shipment ---------------------------------------------------------------

    def shipped(self, header: OrderHeader, pairs: Sequence[Pair], fulfillment_system: str) -> None:
        """Move shipped lines to their next external step (billing), or close them.

        Billing is routed like any step; when routing has nothing for it (no rule and
        no Invoice default), it goes where the shipment went, as Oracle's default
        process bills through the fulfillment system that shipped.
        """
        closing = [p for p in pairs if self._next_external_of(p[1], "Shipment") is None]
        for _line, fline in closing:
            self._status.fline(fline, "CLOSED", "process complete: no step after shipment")
            fline.task_type = None
        billing = [p for p in pairs if p not in closing]
        if not billing:
            return
        routed: list[Pair] = []
        routes: dict[int, tuple[Stage, Route]] = {}
        fallback: dict[int | None, list[Pair]] = {}
        router = self._routing()
        for line, fline in billing:
            stage = self._next_external_of(fline, "Shipment")
            assert stage is not None
            if router.active:
                route = router.route(
                    line_attributes(header, line, fline, stage.process, stage.step)
                )
                if route.connector is not None:
                    routed.append((line, fline))
                    routes[fline.id] = (stage, route)
                    continue
                if route.decision.connector is not None:
                    # a rule chose a connector that cannot take it (disabled, say): the
                    # bill still goes out, where the shipment went, and the line says why
                    fline.routing_error = route.error
            shipment = fline.request
            fallback.setdefault(shipment.connector_id if shipment else None, []).append(
                (line, fline)
            )
        if routed:
            self.request(header, routed, "Invoice", routes)
        for connector_id, group in fallback.items():
            connector = self._s.get(Connector, connector_id) if connector_id else None
            request = self._new_request(header, "Invoice", fulfillment_system, connector)
            for _line, fline in group:
                self._assign(fline, request, "Invoice", "AWAIT_BILLING", "billing requested")
            self._outbox.request(request, header, group)

    # -- helpers ------------------------------------------------------------------------

    def _routing(self) -> Router:
        """The router, built once (it loads the published engine) and only when needed."""
        if self._router is None:
            self._router = Router(self._s)
        return self._router

    def _default_connector(self) -> Connector | None:
        """Before routing is published: the default system's first enabled service
        connector by name (none: the request is recorded and nothing is sent)."""
        if self._default_fs is None:
            return None
        return self._s.scalar(
            select(Connector)
            .join(Connector.target_system)
            .where(
                SourceSystem.code == self._default_fs,
                Connector.enabled.is_(True),
                Connector.invocation_mode != "BUSINESS_EVENT",
            )
            .order_by(Connector.name)
            .limit(1)
        )

    def _assign(
        self,
        fline: FulfillLine,
        request: FulfillmentRequest,
        task_type: str,
        status: str,
        reason: str,
    ) -> None:
        fline.request_id = request.id
        # the column is what gets written; the relationship is set without history, so
        # the flush has no dependency to work out per line
        set_committed_value(fline, "request", request)
        fline.task_type = task_type
        if fline.status != status:
            self._status.fline(fline, status, reason)

    def _new_request(
        self,
        header: OrderHeader,
        task_type: str,
        system: str | None,
        connector: Connector | None,
        operation: str | None = None,
        interface_type: str | None = None,
    ) -> FulfillmentRequest:
        # Inserted on its own, not flushed with the session: its id goes into the lines
        # and the envelope, and the lines' pending changes then wait for the commit, so
        # each line is written once. RETURNING gives the row as the session will hold it.
        row = {
            "header_id": header.id,
            "task_type": task_type,
            "fulfillment_system": system,
            "connector_id": connector.id if connector is not None else None,
            "operation": operation,
            "interface_type": interface_type,
            "status": "SENT",
        }
        with self._s.no_autoflush:
            return self._s.scalars(
                insert(FulfillmentRequest).returning(FulfillmentRequest), [row]
            ).one()
