"""How omgw's log lines look, and the lines an operator reads first.

``OMGW_LOG_FORMAT=text`` (the default) writes one readable line per record;
``json`` writes one JSON object per line (python-json-logger), with the fields given
as ``extra`` (client address, user, operation, fault code …) as keys of their own, for
a log shipper to index. Every record is redacted as it is made
(:mod:`gateway.security.log_redaction`) whatever the format.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pythonjsonlogger.json import JsonFormatter

from gateway.security.log_redaction import redact_text

__all__ = ["ACCESS", "TEXT_FORMAT", "CallLine", "formatter", "log_call", "use_format"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: one line per inbound call
ACCESS = logging.getLogger("omgw.access")


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of format ``fmt`` (text or json)."""
    if fmt == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def use_format(fmt: str, loggers: Sequence[logging.Logger] = ()) -> None:
    """Give every handler of the root logger (and of ``loggers``) the ``fmt`` format."""
    chosen = formatter(fmt)
    for logger in (logging.getLogger(), *loggers):
        for handler in logger.handlers:
            handler.setFormatter(chosen)


@dataclass(frozen=True)
class CallLine:
    """What the access line says about one inbound call."""

    address: str | None
    user: str | None
    service: str
    operation: str | None
    status: int
    fault_code: str | None
    message_id: str | None
    orders: Sequence[str]
    ms: int


def log_call(line: CallLine) -> None:
    """The call's access line: INFO when answered, WARNING for a fault."""
    level = logging.INFO if line.fault_code is None else logging.WARNING
    if not ACCESS.isEnabledFor(level):
        return
    fields = {
        "client": line.address or "-",
        "user": line.user or "-",
        "service": line.service,
        "operation": line.operation or "-",
        "status": line.status,
        "fault_code": line.fault_code or "-",
        "message_id": (line.message_id or "-")[:200],
        "orders": ",".join(line.orders)[:200] or "-",
        "ms": line.ms,
    }
    # a caller's MessageID is its own text: one line, whatever it holds, and redacted
    # here because a JSON formatter prints these fields beside the (redacted) message
    fields = {
        k: redact_text(" ".join(v.split())[:200]) if isinstance(v, str) else v
        for k, v in fields.items()
    }
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    ACCESS.log(level, "call %s", text, extra=fields)
