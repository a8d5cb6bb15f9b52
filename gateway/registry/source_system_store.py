"""Source systems as stored: the systems orders come from and go to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.connector_specs import SourceSystemSpec
from gateway.errors import NotFoundError
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import SourceSystem
from gateway.registry.references import refuse_if_referenced
from gateway.registry.store_base import StoreBase, like

__all__ = ["SourceSystemStore", "require_system", "system_row"]


def system_row(session: Session, code: str) -> SourceSystem | None:
    return session.scalar(select(SourceSystem).where(SourceSystem.code == code))


def require_system(session: Session, code: str) -> SourceSystem:
    row = system_row(session, code)
    if row is None:
        raise NotFoundError(
            "SOURCE_SYSTEM_UNKNOWN",
            f"there is no source system {code!r}{like(session, SourceSystem.code, code)}",
        )
    return row


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


class SourceSystemStore(StoreBase):
    def source_system(self, code: str) -> SourceSystemSpec:
        return _system_spec(require_system(self._s, code))

    def source_systems(self) -> list[SourceSystemSpec]:
        rows = sorted(self._s.scalars(select(SourceSystem)), key=lambda r: r.code)
        return [_system_spec(r) for r in rows]

    def put_source_system(self, spec: SourceSystemSpec, mode: str = "upsert") -> Change | None:
        """``mode``: ``create`` (must be new), ``update`` (must exist) or ``upsert``."""
        row = system_row(self._s, spec.code)
        before = None if row is None else _system_spec(row)
        self._check_mode(
            mode,
            "source system",
            spec.code,
            before is not None,
            "SOURCE_SYSTEM_UNKNOWN",
            SourceSystem.code,
        )
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
        row = require_system(self._s, code)
        refuse_if_referenced(self._s, "remove source system", code)
        before = _system_spec(row).to_mapping()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "source_system", code, before, None))
