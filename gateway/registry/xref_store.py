"""Cross-references as stored: each source system's value maps, by domain."""

from __future__ import annotations

from sqlalchemy import select

from connectors.connector_specs import ValueMaps, check_domain
from connectors.spec_reader import is_plain
from gateway.errors import NotFoundError, ValidationError
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import SourceSystem, ValueMap
from gateway.registry.source_system_store import require_system, system_row
from gateway.registry.store_base import StoreBase

__all__ = ["XrefStore"]


class XrefStore(StoreBase):
    def value_maps(self, system: str) -> ValueMaps:
        """The system's value maps, empty (pass-through) when cross-reference is off."""
        row = system_row(self._s, system)
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

    def _xref_row(self, system_id: int, domain: str, external: str) -> ValueMap | None:
        return self._s.scalar(
            select(ValueMap).where(
                ValueMap.source_system_id == system_id,
                ValueMap.domain == domain,
                ValueMap.external_value == external,
            )
        )

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
        ss = require_system(self._s, system)
        row = self._xref_row(ss.id, domain, external)
        if row is not None and row.internal_value == internal:
            return None
        before = None if row is None else {"internal": row.internal_value}
        if row is None:
            row = ValueMap(source_system_id=ss.id, domain=domain, external_value=external)
            self._s.add(row)
        row.internal_value = internal
        self._s.flush()
        key = f"{system}/{domain}/{external}"
        return self._audit(Change.put("xref", key, before, {"internal": internal}))

    def remove_xref(self, system: str, domain: str, external: str) -> Change:
        ss = require_system(self._s, system)
        row = self._xref_row(ss.id, domain, external)
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
