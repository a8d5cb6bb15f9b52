"""Writing the message log: one row per inbound message, in the call's own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.persistence.models import MessageLog, table_of

__all__ = ["EXCERPT_BYTES", "logged_payload", "write_log"]

#: the most of a request's payload kept when the request was refused before its caller was
#: authenticated: enough to see what was sent, too little for anyone to fill the disk
EXCERPT_BYTES = 2048

#: Core, not the unit of work: every message writes one, and an ORM object would cost a
#: flush's bookkeeping for a row nothing reads back.
_INSERT = insert(table_of(MessageLog))


def write_log(session: Session, values: Mapping[str, Any]) -> None:
    """Insert a message-log row of ``values`` (column defaults fill the rest), on the
    session's connection: the session's own ``execute`` would take an INSERT of a mapped
    table through the ORM's bulk path."""
    session.connection().execute(_INSERT, values)


def logged_payload(payload: bytes | None, *, authenticated: bool, keep: bool) -> str | None:
    """What the log keeps of a (redacted) request payload.

    All of it for an authenticated caller when payloads are kept (``OMGW_LOG_PAYLOADS``);
    for a request refused before anyone was authenticated, its first
    :data:`EXCERPT_BYTES` bytes and its size, whatever its size was.
    """
    if payload is None or not keep:
        return None
    if authenticated or len(payload) <= EXCERPT_BYTES:
        return payload.decode("utf-8", "replace")
    head = payload[:EXCERPT_BYTES].decode("utf-8", "ignore")  # no half character at the cut
    return f"{head}\n<!-- {len(payload)} bytes in all; the rest is not kept -->"
