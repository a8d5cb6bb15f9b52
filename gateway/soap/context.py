"""Per-request facts shared between the WSGI front and the services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.security.systems import SystemGrant

__all__ = ["REQUEST_KEY", "RUNTIME_KEY", "RequestInfo"]

#: WSGI environ keys the front sets for the services.
RUNTIME_KEY = "omgw.runtime"
REQUEST_KEY = "omgw.request"


@dataclass
class RequestInfo:
    """What the message log records about one call; services fill in what they learn."""

    service: str
    operation: str | None = None
    principal: str | None = None
    #: the systems the caller may act for (nothing until it is authenticated)
    grant: SystemGrant = field(default_factory=SystemGrant)
    message_id: str | None = None
    correlation: dict[str, str] = field(default_factory=dict)
    order_numbers: list[str] = field(default_factory=list)
    fault_code: str | None = None
    #: the message-log row of a successful call (its values), written in the call's own
    #: transaction
    log_row: Callable[[], dict[str, Any]] | None = None
    logged: bool = False

    def correlation_key(self) -> str | None:
        if not self.correlation:
            return None
        return " ".join(f"{k}={v}" for k, v in self.correlation.items())[:300]
