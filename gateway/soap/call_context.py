"""One SOAP call as the front hands it to the services.

The front passes a :class:`Call` to the service function as its context: who called,
what they sent (as it may be logged), and what the service learns on the way. A call
that commits writes its message-log row in its own transaction (``services.edge``),
from :meth:`Call.log_row`. On spyne's own mapping (``spyne_mapping``, or an operation
the compiled codec does not know) spyne makes the context, and the call rides in the
WSGI environ spyne hands on, under :data:`CALL_KEY`: spyne offers no other way in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway.persistence.message_log_writer import logged_payload
from gateway.runtime import Runtime
from gateway.security.systems import SystemGrant

__all__ = ["CALL_KEY", "Call", "RequestInfo", "call_of"]

#: the WSGI environ key of the call on spyne's own mapping
CALL_KEY = "omgw.call"


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
    #: the caller's address as the server saw it
    address: str | None = None

    def correlation_key(self) -> str | None:
        if not self.correlation:
            return None
        return " ".join(f"{k}={v}" for k, v in self.correlation.items())[:300]


@dataclass
class Call:
    """One call: the runtime it runs in, what is known of it, and its logged request."""

    runtime: Runtime
    info: RequestInfo
    started: float = field(default_factory=time.perf_counter)
    #: the request as the caller sent it, secrets blanked; set once the caller is
    #: authenticated and the body is within limits (a service runs only after that)
    payload: bytes | None = None
    #: whether the service's transaction wrote the call's log row
    logged: bool = False

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def log_row(self, status: str) -> dict[str, Any]:
        """The message-log row's values, answered with HTTP ``status``."""
        info = self.info
        code = info.fault_code
        return dict(
            service=info.service,
            operation=(info.operation or None) and info.operation[:80],
            principal=info.principal,
            message_id=(info.message_id or None) and info.message_id[:200],
            correlation_key=info.correlation_key(),
            order_number=",".join(info.order_numbers)[:50] or None,
            outcome="OK" if code is None else "FAULT",
            fault_code=code,
            http_status=int(status.split()[0]),
            duration_ms=self.elapsed_ms(),
            client_address=(info.address or None) and info.address[:64],
            payload=logged_payload(
                self.payload,
                authenticated=info.principal is not None,
                keep=self.runtime.settings.log_payloads,
            ),
        )


def call_of(ctx: Any) -> Call:
    """The call a service function runs for, from the context it was given."""
    if isinstance(ctx, Call):
        return ctx
    found = ctx.transport.req_env[CALL_KEY]  # spyne's own mapping
    assert isinstance(found, Call)
    return found
