"""``OrderHoldService``: ``applyHold`` and ``releaseHold`` from order-capture systems.

omgw's own service (docs/holds-over-soap.md): Oracle's ADF shape, with the operation and
attribute names Oracle's REST API uses for the same requests. The order is named as
createOrders names it (``SourceTransactionSystem`` + ``SourceTransactionIdentifier``),
a line by its ``SourceTransactionLineIdentifier``. Both operations go through
:class:`~gateway.orders.hold_service.HoldService`, as ``omgw hold`` does, and answer a repeat
as done already (``ALREADY_APPLIED``, ``ALREADY_RELEASED``): a caller that lost an
answer sends the same request again.
"""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, rpc
from sqlalchemy.orm import Session

from gateway import namespaces as ns
from gateway.errors import ValidationError
from gateway.orders.hold_service import HoldOutcome, HoldService, HoldTarget
from gateway.runtime import Runtime
from gateway.services.convert import as_utc, make, required, text
from gateway.services.edge import authorise, request_info, transaction
from gateway.services.types import types_of

__all__ = ["OrderHoldService"]

SERVICE_NAME = "OrderHoldService"
TYPES_NS = ns.ORDER_HOLD_TYPES

_T = types_of(SERVICE_NAME)
_KIND = "source system"
_RESULT: dict[str, Any] = {
    "_in_variable_names": {"request": "request"},
    "_returns": _T["HoldResult"],
    "_out_variable_name": "result",
}


def _target(req: Any) -> HoldTarget:
    """The order (and line) a request names; both order keys are required."""
    system = text(req.SourceTransactionSystem)
    key = text(req.SourceTransactionIdentifier)
    missing = [
        name
        for name, value in (
            ("SourceTransactionSystem", system),
            ("SourceTransactionIdentifier", key),
        )
        if value is None
    ]
    if missing:
        raise ValidationError(
            "MISSING_KEY",
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required: a hold "
            "names its order as createOrders did",
        )
    return HoldTarget(
        source_system=system,
        source_order_id=key,
        source_line_id=text(req.SourceTransactionLineIdentifier),
    )


def _note(ctx: Any, target: HoldTarget, verb: str) -> None:
    """Record the call's keys for the message log, and refuse a caller not bound to the
    order's source system (before anything is read)."""
    info = request_info(ctx)
    info.correlation["SourceTransactionSystem"] = target.source_system or "-"
    info.correlation["SourceTransactionIdentifier"] = target.source_order_id or "-"
    if target.source_line_id:
        info.correlation["SourceTransactionLineIdentifier"] = target.source_line_id
    authorise(ctx, [target.source_system], verb, _KIND)


def _service(ctx: Any, session: Session, runtime: Runtime) -> HoldService:
    settings = runtime.settings
    actor = request_info(ctx).principal or "soap"
    return HoldService(session, actor, settings.default_fulfillment_system, settings.reply_to)


def _result(ctx: Any, outcome: HoldOutcome, status: str, message: str) -> Any:
    header, line, hold = outcome.header, outcome.line, outcome.hold
    request_info(ctx).order_numbers.append(header.order_number)
    return make(
        _T["HoldResult"],
        StatusCode=status,
        Message=message,
        OrderNumber=header.order_number,
        HeaderId=header.id,
        SourceTransactionSystem=header.source_system.code,
        SourceTransactionIdentifier=header.source_order_id,
        SourceTransactionLineIdentifier=line.source_line_id if line is not None else None,
        LineNumber=line.line_number if line is not None else None,
        HoldCode=hold.hold_code,
        HoldComments=hold.comments,
        HoldAppliedDate=as_utc(hold.applied_at),
        HoldReleasedDate=as_utc(hold.released_at),
        HoldReleaseComments=hold.release_comments,
        RequestedFulfillLineIdentifier=[f.id for f in outcome.requested],
    )


def _where(outcome: HoldOutcome) -> str:
    where = f"order {outcome.header.order_number}"
    if outcome.line is not None:
        where += f" line {outcome.line.line_number} ({outcome.line.source_line_id})"
    return where


class OrderHoldService(ServiceBase):
    """Holds applied and released by the systems that capture orders."""

    @rpc(_T["ApplyHoldRequest"].customize(min_occurs=1), **_RESULT)
    def applyHold(ctx, request):
        def work(session: Session, runtime: Runtime) -> Any:
            req = required(request, "request")
            target = _target(req)
            _note(ctx, target, "hold orders of")
            outcome = _service(ctx, session, runtime).apply_to(
                target, text(req.HoldCode), text(req.HoldComments), repeat_ok=True
            )
            code, where = outcome.hold.hold_code, _where(outcome)
            if outcome.changed:
                return _result(ctx, outcome, "APPLIED", f"hold {code} applied to {where}")
            return _result(
                ctx, outcome, "ALREADY_APPLIED", f"hold {code} was already on {where}; unchanged"
            )

        return transaction(ctx, work)

    @rpc(_T["ReleaseHoldRequest"].customize(min_occurs=1), **_RESULT)
    def releaseHold(ctx, request):
        def work(session: Session, runtime: Runtime) -> Any:
            req = required(request, "request")
            target = _target(req)
            _note(ctx, target, "release holds on orders of")
            reason = text(req.HoldReleaseReasonCode)
            if reason is None:
                raise ValidationError(
                    "MISSING_KEY", "HoldReleaseReasonCode is required: say why the hold is released"
                )
            outcome = _service(ctx, session, runtime).release_from(
                target,
                text(req.HoldCode),
                text(req.HoldReleaseComments),
                reason=reason,
                repeat_ok=True,
            )
            code, where = outcome.hold.hold_code, _where(outcome)
            if not outcome.changed:
                return _result(
                    ctx,
                    outcome,
                    "ALREADY_RELEASED",
                    f"hold {code} was already released from {where}; unchanged",
                )
            message = f"hold {code} released from {where}"
            if outcome.requested:
                message += f"; {len(outcome.requested)} fulfillment line(s) requested now"
            return _result(ctx, outcome, "RELEASED", message)

        return transaction(ctx, work)
