"""A snapshot of everything a request could change, to prove a refused one changed nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.persistence.models import (
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    OrderHeader,
    OrderLine,
    StagedOrder,
    StagedResponse,
    StatusHistory,
)
from gateway.runtime import Runtime


def snapshot(runtime: Runtime) -> dict[str, object]:
    with runtime.sessions() as s:
        return {
            "headers": s.execute(
                select(OrderHeader.id, OrderHeader.status).order_by(OrderHeader.id)
            ).all(),
            "lines": s.execute(select(OrderLine.id, OrderLine.status).order_by(OrderLine.id)).all(),
            "flines": s.execute(
                select(
                    FulfillLine.id,
                    FulfillLine.status,
                    FulfillLine.quantity,
                    FulfillLine.attributes_json,
                ).order_by(FulfillLine.id)
            ).all(),
            "requests": s.execute(
                select(FulfillmentRequest.id, FulfillmentRequest.status).order_by(
                    FulfillmentRequest.id
                )
            ).all(),
            "history": s.scalar(select(func.count()).select_from(StatusHistory)),
            "responses": s.scalar(select(func.count()).select_from(FulfillmentResponseRecord)),
            "staged": s.scalar(select(func.count()).select_from(StagedOrder))
            + s.scalar(select(func.count()).select_from(StagedResponse)),
        }
