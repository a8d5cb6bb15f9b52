"""The names the outbox worker imports from here, until it imports them from
:mod:`connectors.connector_specs`, where they live."""

from __future__ import annotations

from connectors.connector_specs import DEFAULT_CREDENTIAL_MAP, RetryPolicy

__all__ = ["DEFAULT_CREDENTIAL_MAP", "RetryPolicy"]
