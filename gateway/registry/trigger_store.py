"""Trigger points and jeopardy thresholds on SQLAlchemy, checked and audited.

A trigger point may name only connectors in ``BUSINESS_EVENT`` mode, and a status
criterion must be a status of its level's state machine; thresholds are replaced as a
whole set, refused when any two ranges of one task type overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectors.connector_errors import SpecInvalid
from connectors.trigger_points import (
    JeopardyThresholdSpec,
    TriggerPointSpec,
    canonical_criterion,
    check_thresholds,
)
from gateway.errors import NotFoundError, ValidationError, did_you_mean
from gateway.lifecycle import FLINE_TRANSITIONS, HEADER_TRANSITIONS
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import Connector, JeopardyThreshold, TaskType, TriggerPoint
from gateway.registry.spec_building import build_spec

__all__ = ["TriggerStore", "criterion_problem", "trigger_record", "trigger_referrers"]

_STATUSES = {
    "ORDER_STATUS_UPDATE": ("an order header", tuple(HEADER_TRANSITIONS)),
    "FLINE_STATUS_UPDATE": ("a fulfillment line", tuple(FLINE_TRANSITIONS)),
}


def criterion_problem(spec: TriggerPointSpec) -> str | None:
    """Why a status trigger point's criterion is not a status of its level, or None."""
    known = _STATUSES.get(spec.event)
    if known and spec.criterion not in known[1]:
        return f"{spec.criterion} is not {known[0]} status (one of {', '.join(known[1])})"
    return None


def trigger_referrers(session: Session, connector_id: int) -> list[str]:
    """The trigger points that push to a connector, by key."""
    rows = session.scalars(select(TriggerPoint))
    return sorted(_spec(tp).key for tp in rows if any(c.id == connector_id for c in tp.connectors))


def _spec(row: TriggerPoint) -> TriggerPointSpec:
    return TriggerPointSpec(
        event=row.event,
        criterion=row.criterion,
        raise_event=row.raise_event,
        send_email=row.send_email,
        email_to=tuple(a for a in row.email_to.split(",") if a),
        connectors=tuple(sorted(c.name for c in row.connectors)),
    )


def trigger_record(spec: TriggerPointSpec) -> dict[str, Any]:
    """A trigger point as listed (``omgw trigger list --json``, the console)."""
    return {
        "key": spec.key,
        "event": spec.event,
        "criterion": spec.criterion or None,
        "raise_event": spec.raise_event,
        "send_email": spec.send_email,
        "email_to": list(spec.email_to),
        "connectors": list(spec.connectors),
    }


def _threshold(row: JeopardyThreshold) -> JeopardyThresholdSpec:
    return JeopardyThresholdSpec(row.priority, row.from_minutes, row.to_minutes, row.task_type)


class TriggerStore:
    """Reads and changes trigger points and thresholds in the caller's transaction."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self.actor = actor

    # -- trigger points ----------------------------------------------------------------

    def _row(self, event: str, criterion: str) -> TriggerPoint | None:
        return self._s.scalar(
            select(TriggerPoint).where(
                TriggerPoint.event == event,
                TriggerPoint.criterion == canonical_criterion(event, criterion),
            )
        )

    def trigger_points(self) -> list[TriggerPointSpec]:
        rows = self._s.scalars(select(TriggerPoint))
        return sorted((_spec(r) for r in rows), key=lambda s: (s.event, s.criterion))

    def trigger_point(self, event: str, criterion: str = "") -> TriggerPointSpec:
        row = self._row(event, criterion)
        if row is None:
            key = f"{event}/{criterion}" if criterion else event
            known = [_spec(r).key for r in self._s.scalars(select(TriggerPoint))]
            raise NotFoundError(
                "TRIGGER_POINT_UNKNOWN",
                f"there is no trigger point {key}{did_you_mean(key, known)}",
            )
        return _spec(row)

    def _connectors(self, spec: TriggerPointSpec) -> list[Connector]:
        rows = {
            c.name: c
            for c in self._s.scalars(select(Connector).where(Connector.name.in_(spec.connectors)))
        }
        out: list[Connector] = []
        for name in spec.connectors:
            row = rows.get(name)
            if row is None:
                like = did_you_mean(name, self._s.scalars(select(Connector.name)))
                raise NotFoundError(
                    "CONNECTOR_UNKNOWN",
                    f"trigger point {spec.key}: there is no connector {name!r}{like}",
                )
            if row.invocation_mode != "BUSINESS_EVENT":
                raise ValidationError(
                    "CONNECTOR_NOT_EVENT",
                    f"trigger point {spec.key}: connector {name} is {row.invocation_mode}, not "
                    "BUSINESS_EVENT; business events go only to connectors that implement "
                    'pushPayload (set invocation_mode = "BUSINESS_EVENT")',
                )
            out.append(row)
        return out

    def _check_criterion(self, spec: TriggerPointSpec) -> None:
        problem = criterion_problem(spec)
        if problem:
            raise ValidationError("INVALID_VALUE", f"trigger point {spec.key}: {problem}")

    def put_trigger_point(self, spec: TriggerPointSpec) -> Change | None:
        """Create or replace the trigger point (event, criterion); None if unchanged."""
        self._check_criterion(spec)
        connectors = self._connectors(spec)
        row = self._row(spec.event, spec.criterion)
        before = None if row is None else _spec(row)
        if before == spec:
            return None
        if row is None:
            row = TriggerPoint(event=spec.event, criterion=spec.criterion)
            self._s.add(row)
        row.raise_event = spec.raise_event
        row.send_email = spec.send_email
        row.email_to = ",".join(spec.email_to)
        row.connectors = connectors
        self._s.flush()
        change = Change.put(
            "trigger_point",
            spec.key,
            None if before is None else before.to_mapping(),
            spec.to_mapping(),
        )
        audit_trail.record(self._s, self.actor, change)
        return change

    def set_trigger_point(
        self,
        event: str,
        criterion: str = "",
        *,
        raise_event: bool | None = None,
        send_email: bool | None = None,
        email_to: Sequence[str] | None = None,
        connectors: Sequence[str] | None = None,
    ) -> Change | None:
        """Create the trigger point (event, criterion), or change the options given (not
        None) of the one there, keeping the stored values of the others."""
        event = event.strip().upper()
        criterion = canonical_criterion(event, criterion)
        try:
            data: dict[str, Any] = self.trigger_point(event, criterion).to_mapping()
        except NotFoundError:
            data = {"event": event, "criterion": criterion} if criterion else {"event": event}
        given = {
            "raise_event": raise_event,
            "send_email": send_email,
            "email_to": None if email_to is None else list(email_to),
            "connectors": None if connectors is None else list(connectors),
        }
        data.update({k: v for k, v in given.items() if v is not None})
        label = f"{event}/{criterion}" if criterion else event
        spec = build_spec(f"trigger point {label}", data, TriggerPointSpec.from_mapping)
        return self.put_trigger_point(spec)

    def remove_trigger_point(self, event: str, criterion: str = "") -> Change:
        spec = self.trigger_point(event, criterion)
        row = self._row(event, criterion)
        self._s.delete(row)
        self._s.flush()
        change = Change("delete", "trigger_point", spec.key, spec.to_mapping(), None)
        audit_trail.record(self._s, self.actor, change)
        return change

    # -- jeopardy thresholds -------------------------------------------------------------

    def thresholds(self) -> list[JeopardyThresholdSpec]:
        rows = self._s.scalars(select(JeopardyThreshold))
        return sorted((_threshold(r) for r in rows), key=lambda t: (t.task_type, t.from_minutes))

    def replace_thresholds(self, specs: Sequence[JeopardyThresholdSpec]) -> Change | None:
        """Make ``specs`` the whole set of thresholds; None if it already is."""
        problems = check_thresholds(specs)
        if problems:
            raise ValidationError("SETUP_INVALID", str(SpecInvalid(problems)))
        task_types = {t.task_type for t in specs if t.task_type}
        known = set(self._s.scalars(select(TaskType.code).where(TaskType.code.in_(task_types))))
        for missing in sorted(task_types - known):
            like = did_you_mean(missing, self._s.scalars(select(TaskType.code)))
            raise NotFoundError(
                "TASK_TYPE_UNKNOWN",
                f"jeopardy threshold: there is no task type {missing!r}{like}",
            )
        before = self.thresholds()
        after = sorted(specs, key=lambda t: (t.task_type, t.from_minutes))
        if before == after:
            return None
        self._s.execute(delete(JeopardyThreshold))
        for t in after:
            self._s.add(
                JeopardyThreshold(
                    task_type=t.task_type,
                    from_minutes=t.from_minutes,
                    to_minutes=t.to_minutes,
                    priority=t.priority,
                )
            )
        self._s.flush()
        change = Change(
            "update" if before else "create",
            "jeopardy_thresholds",
            "all",
            {"threshold": [t.to_mapping() for t in before]} if before else None,
            {"threshold": [t.to_mapping() for t in after]},
        )
        audit_trail.record(self._s, self.actor, change)
        return change
