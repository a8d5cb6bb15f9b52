"""The one place where a service call becomes a transaction and errors become faults."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from spyne import Fault
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.errors import GatewayError, InternalError
from gateway.persistence.message_log_writer import write_log
from gateway.runtime import Runtime
from gateway.security.systems import require
from gateway.soap.call_context import RequestInfo, call_of
from gateway.soap.faults import service_error_message
from gateway.soap.operations import ERROR_ATTRIBUTE

__all__ = ["authorise", "request_info", "to_fault", "transaction"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def to_fault(err: GatewayError) -> Fault:
    fault = Fault(
        faultcode=err.fault_kind, faultstring=err.message, detail=service_error_message(err)
    )
    setattr(fault, ERROR_ATTRIBUTE, err)  # the hot path writes the fault from the error
    return fault


def request_info(ctx: Any) -> RequestInfo:
    return call_of(ctx).info


def authorise(ctx: Any, codes: Iterable[str | None], verb: str, kind: str) -> None:
    """Refuse the call (``AUTH_FORBIDDEN``) unless its caller is bound to every system in
    ``codes``; services call it before their first write."""
    info = request_info(ctx)
    require(info.grant, info.principal, codes, verb, kind)


def transaction(ctx: Any, work: Callable[[Session, Runtime], T], *, readonly: bool = False) -> T:
    """Run ``work`` in one transaction; commit on success, roll back on any error.

    An ``IntegrityError`` means a concurrent request inserted the same key first (two
    copies of one order, one response): the work runs once more, and now finds the
    committed row and answers as for a duplicate.
    """
    call = call_of(ctx)
    runtime, info = call.runtime, call.info
    sessions = runtime.read_sessions if readonly else runtime.sessions
    logs = not readonly and call.payload is not None
    for attempt in (1, 2):
        try:
            with sessions() as session, session.begin():
                result = work(session, runtime)
                if logs:
                    write_log(session, call.log_row("200 OK"))
            call.logged = logs
            return result
        except IntegrityError:
            if attempt == 1:
                log.info("concurrent insert of the same key; retrying once")
                continue
            err: GatewayError = InternalError(
                "INTERNAL_ERROR", "a concurrent update conflicted twice; send the request again"
            )
        except GatewayError as exc:
            err = exc
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception(
                "unexpected error in %s.%s (reference %s)", info.service, info.operation, ref
            )
            err = InternalError(
                "INTERNAL_ERROR", f"internal error; nothing was applied (reference {ref})"
            )
        info.fault_code = err.code
        raise to_fault(err)
    raise AssertionError("unreachable")
