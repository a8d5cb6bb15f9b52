"""Connectors as stored: how each endpoint of a target system is reached.

A connector names its target system and, by (credential map, key), the wallet entries
of its credentials and client certificate; each must exist when the connector is put.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from connectors.connector_specs import ConnectorSpec, RetryPolicy, TlsSettings
from gateway.errors import NotFoundError, ValidationError
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import Connector, SourceSystem
from gateway.registry import references
from gateway.registry.references import refuse_if_referenced
from gateway.registry.source_system_store import system_row
from gateway.registry.store_base import StoreBase
from gateway.registry.wallet_store import wallet_entry

__all__ = ["ConnectorStore"]


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


class ConnectorStore(StoreBase):
    def _connector_row(self, name: str) -> Connector | None:
        return self._s.scalar(select(Connector).where(Connector.name == name))

    def _unknown_connector(self, name: str) -> NotFoundError:
        return NotFoundError(
            "CONNECTOR_UNKNOWN",
            f"there is no connector {name!r}{self._like(Connector.name, name)}",
        )

    def connector(self, name: str) -> ConnectorSpec | None:
        row = self._connector_row(name)
        return None if row is None else _connector_spec(row)

    def require_connector(self, name: str) -> ConnectorSpec:
        spec = self.connector(name)
        if spec is None:
            raise self._unknown_connector(name)
        return spec

    def connectors_for(self, target_system: str) -> list[ConnectorSpec]:
        return [c for c in self.connectors() if c.target_system == target_system]

    def connectors(self) -> list[ConnectorSpec]:
        rows = sorted(self._s.scalars(select(Connector)), key=lambda r: r.name)
        return [_connector_spec(r) for r in rows]

    def put_connector(self, spec: ConnectorSpec, mode: str = "upsert") -> Change | None:
        row = self._connector_row(spec.name)
        before = None if row is None else _connector_spec(row)
        self._check_mode(
            mode, "connector", spec.name, before is not None, "CONNECTOR_UNKNOWN", Connector.name
        )
        if before == spec:
            return None
        target = system_row(self._s, spec.target_system)
        if target is None:
            raise NotFoundError(
                "SOURCE_SYSTEM_UNKNOWN",
                f"connector {spec.name}: target system {spec.target_system!r} does not exist"
                f"{self._like(SourceSystem.code, spec.target_system)}; add it with "
                f"'omgw source-system add {spec.target_system}'",
            )
        self._check_wallet_entries(spec, before)
        if row is not None and spec.invocation_mode != "BUSINESS_EVENT":
            refuse_if_referenced(self._s, "connector leaves BUSINESS_EVENT", spec.name)
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

    def _check_wallet_entries(self, spec: ConnectorSpec, before: ConnectorSpec | None) -> None:
        """The wallet entries and the CA bundle ``spec`` names are there, and its client
        certificate entry holds a certificate."""
        for what, key in (
            ("credential_key", spec.credential_key),
            ("tls.client_certificate", spec.tls.client_certificate),
        ):
            if key and wallet_entry(self._s, spec.credential_map, key) is None:
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
        entry = wallet_entry(self._s, spec.credential_map, cert) if cert else None
        if entry is not None and not entry.has_client_certificate:
            raise ValidationError(
                "INVALID_VALUE",
                f"connector {spec.name}: wallet entry {cert} holds no client certificate",
            )

    def remove_connector(self, name: str) -> Change:
        row = self._connector_row(name)
        if row is None:
            raise self._unknown_connector(name)
        refuse_if_referenced(self._s, "remove connector", name)
        before = _connector_spec(row).to_mapping()
        self._s.delete(row)
        self._s.flush()
        return self._audit(Change("delete", "connector", name, before, None))

    def wallet_referrers(self, credential_map: str, key: str) -> list[str]:
        """The connectors that name wallet entry (``credential_map``, ``key``)."""
        return references.wallet_referrers(self._s, (credential_map, key))
