"""Oracle's ``results`` payload for each change, from the order as stored.

Each function fills exactly the fields contract §5.4 gives its EventCode (the writer in
:mod:`connectors.push_payload_writer` refuses anything else). Where Oracle has a numeric
id that omgw does not keep (item and organization ids, the source schedule id), the field
is sent ``xsi:nil``, as Oracle's mappings do for an empty source; ``CustomerId`` is the
buying party number when that is numeric, and ``FlineStatusUpdate`` maps the source line
id to the fulfillment line's ``OrchestrationOrderLineId``, as Oracle's XSL does.
``OrderAttributeUpdate`` carries on each fulfillment line the pairs that changed; a ship-to
site that is not a number (``xs:decimal``) is left out, and times are sent in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from connectors.push_payload import EventFulfillLine, EventHeader, EventLine
from gateway.persistence.models import FulfillLine, Hold, OrderHeader, OrderLine, as_utc

__all__ = [
    "attribute_update",
    "fline_closed",
    "fline_status",
    "header_status",
    "hold",
    "jeopardy",
    "split",
]


def _long(value: str | None) -> int | None:
    """A wire ``long`` from one of our strings, when it is one."""
    if value is None or not value.strip().isdigit():
        return None
    number = int(value)
    return number if number < 2**63 else None


def _whole(quantity: Decimal | None) -> int | None:
    """Oracle sends fulfillment line quantities as ``long``: whole quantities only."""
    if quantity is None or quantity != quantity.to_integral_value():
        return None
    return int(quantity)


def _keys(header: OrderHeader) -> dict[str, object]:
    return {
        "source_order_system": header.source_system.code,
        "source_order_id": header.source_order_id,
        "source_order_number": header.source_order_number,
        "orchestration_order_number": header.order_number,
        "orchestration_order_id": header.id,
    }


def header_status(header: OrderHeader, old: str | None, new: str) -> EventHeader:
    return EventHeader(
        "OrderHeaderStatusUpdate",
        **_keys(header),  # type: ignore[arg-type]
        customer_id=_long(header.buying_party_number),
        status_prior_value=old,
        status_new_value=new,
    )


def fline_status(
    header: OrderHeader,
    line: OrderLine,
    fline: FulfillLine,
    header_change: tuple[str | None, str],
    line_change: tuple[str | None, str],
    change: tuple[str | None, str],
) -> EventHeader:
    return EventHeader(
        "FlineStatusUpdate",
        source_order_system=header.source_system.code,
        source_order_id=header.source_order_id,
        source_order_number=header.source_order_number,
        status_code_old_value=header_change[0],
        status_code_new_value=header_change[1],
        lines=(
            EventLine(
                orchestration_order_line_number=line.line_number,
                status_code_old_value=line_change[0],
                status_code_new_value=line_change[1],
                fulfillment_lines=(
                    EventFulfillLine(
                        orchestration_order_line_id=_long(line.source_line_id),
                        fulfillment_order_line_id=fline.id,
                        status_code_old_value=change[0],
                        status_code_new_value=change[1],
                    ),
                ),
            ),
        ),
    )


def fline_closed(
    header: OrderHeader, line: OrderLine, fline: FulfillLine, line_open: tuple[str, str]
) -> EventHeader:
    canceled = fline.status == "CANCELED"
    return EventHeader(
        "FlineClosed",
        source_order_number=header.order_number,
        orchestration_order_id=header.id,
        lines=(
            EventLine(
                orchestration_order_line_id=line.id,
                open_flag_old_value=line_open[0],
                open_flag_new_value=line_open[1],
                fulfillment_lines=(
                    EventFulfillLine(
                        fulfillment_order_line_id=fline.id,
                        cancel_flag_old_value="N",
                        cancel_flag_new_value="Y" if canceled else "N",
                    ),
                ),
            ),
        ),
    )


def hold(
    header: OrderHeader,
    row: Hold,
    lines: Sequence[tuple[OrderLine, Sequence[FulfillLine]]],
    released: bool,
) -> EventHeader:
    """A hold applied, or released (its comments then say so and why)."""
    comments = row.comments
    if released:
        comments = "Released" + (f": {row.release_comments}" if row.release_comments else "")
    code = row.hold_code
    return EventHeader(
        "HOLD",
        **_keys(header),  # type: ignore[arg-type]
        hold_code=code,
        hold_comments=comments,
        lines=tuple(
            EventLine(
                orchestration_order_line_id=line.id,
                orchestration_order_line_number=line.line_number,
                hold_code=code,
                hold_comments=comments,
                source_order_line_id=line.source_line_id,
                source_order_line_number=line.source_line_number,
                fulfillment_lines=tuple(
                    EventFulfillLine(
                        fulfillment_order_line_id=f.id,
                        fulfillment_order_line_number=f.fulfill_line_number,
                        hold_code=code,
                        hold_comments=comments,
                    )
                    for f in flines
                ),
            )
            for line, flines in lines
        ),
    )


def split(
    header: OrderHeader, line: OrderLine, pre_split: Decimal, flines: Sequence[FulfillLine]
) -> EventHeader:
    return EventHeader(
        "SPLIT",
        **_keys(header),  # type: ignore[arg-type]
        customer_id=_long(header.buying_party_number),
        lines=(
            EventLine(
                orchestration_order_line_id=line.id,
                orchestration_order_line_number=line.line_number,
                source_order_line_id=line.source_line_id,
                source_order_line_number=line.source_line_number,
                pre_split_ordered_quantity=pre_split,
                fulfillment_lines=tuple(
                    EventFulfillLine(
                        fulfillment_order_line_id=f.id,
                        fulfillment_order_line_number=f.fulfill_line_number,
                        shipped_quantity=_whole(f.shipped_quantity or Decimal(0)),
                        ordered_quantity=_whole(f.quantity),
                    )
                    for f in flines
                ),
            ),
        ),
    )


def jeopardy(
    header: OrderHeader, line: OrderLine, fline: FulfillLine, priority: str
) -> EventHeader:
    """One header wrapping one line (Oracle pushes jeopardy per line); the EventCode
    is on the line."""
    return EventHeader(
        "JEOPARDY",
        lines=(
            EventLine(
                event_code="JEOPARDY",
                orchestration_order_line_id=line.id,
                orchestration_order_line_number=line.line_number,
                source_order_line_id=line.source_line_id,
                source_order_line_number=line.source_line_number,
                source_order_system=header.source_system.code,
                source_order_id=header.source_order_id,
                fulfillment_lines=(
                    EventFulfillLine(
                        fulfillment_order_line_id=fline.id,
                        fulfillment_order_line_number=fline.fulfill_line_number,
                        jeopardy_priority=priority,
                    ),
                ),
            ),
        ),
    )


def _instant(value: object) -> datetime | None:
    return as_utc(value) if isinstance(value, datetime) else None


def _site(value: object) -> Decimal | None:
    """A ship-to site as ``xs:decimal``: only a site identifier that is a number."""
    number = _long(value) if isinstance(value, str) else None
    return None if number is None else Decimal(number)


def _quantity(value: object) -> Decimal | None:
    """A stored quantity without the column's trailing zeros."""
    return value.normalize() if isinstance(value, Decimal) else None


#: attribute → (its EventFulfillLine fields, new then old; how a stored value is written)
_PAIRS = {
    "OrderedQty": (("ordered_qty_new", "ordered_qty_old"), _quantity),
    "RequestShipDate": (("request_ship_date_new", "request_ship_date_old"), _instant),
    "ScheduleShipDate": (("schedule_ship_date_new", "schedule_ship_date_old"), _instant),
    "ShipToSiteUseId": (("ship_to_site_use_id_new", "ship_to_site_use_id_old"), _site),
    "CancelFlag": (("cancel_flag_new_value", "cancel_flag_old_value"), lambda v: v),
}


def attribute_update(
    header: OrderHeader,
    changed: Sequence[tuple[FulfillLine, Mapping[str, tuple[object, object]]]],
) -> EventHeader:
    """The fulfillment lines in ``changed``, each with its attributes' (old, new) values,
    grouped under their order lines in the order given."""
    lines: dict[int, tuple[OrderLine, list[EventFulfillLine]]] = {}
    for fline, attributes in changed:
        values: dict[str, object] = {}
        for attribute, (old, new) in attributes.items():
            (new_field, old_field), written = _PAIRS[attribute]
            values[new_field], values[old_field] = written(new), written(old)
        line = fline.order_line
        lines.setdefault(line.id, (line, []))[1].append(
            EventFulfillLine(
                fulfillment_order_line_id=fline.id,
                fulfillment_order_line_number=fline.fulfill_line_number,
                **values,  # type: ignore[arg-type]
            )
        )
    return EventHeader(
        "OrderAttributeUpdate",
        **_keys(header),  # type: ignore[arg-type]
        lines=tuple(
            EventLine(
                orchestration_order_line_id=line.id,
                orchestration_order_line_number=line.line_number,
                source_order_line_id=line.source_line_id,
                source_order_line_number=line.source_line_number,
                fulfillment_lines=tuple(flines),
            )
            for line, flines in lines.values()
        ),
    )
