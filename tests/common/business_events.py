"""Realistic business events, one :class:`EventHeader` per EventCode, each leaving at
least one field its code fills None (so the push writes it nil): shared by the tests of
building, reading and sending ``pushPayload`` requests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connectors.push_payload import EventFulfillLine, EventHeader, EventLine


def order_header_status_update() -> EventHeader:
    return EventHeader(
        "OrderHeaderStatusUpdate",
        source_order_system="LEG",
        source_order_id="SO-4711",
        source_order_number="4711",
        orchestration_order_number="520001",
        orchestration_order_id=300000123456789,
        customer_id=None,
        status_prior_value="OPEN",
        status_new_value="CLOSED",
    )


def fline_status_update() -> EventHeader:
    return EventHeader(
        "FlineStatusUpdate",
        source_order_system="LEG",
        source_order_id="SO-4711",
        source_order_number="4711",
        status_code_old_value="OPEN",
        status_code_new_value="PARTIALLY_CLOSED",
        lines=(
            EventLine(
                orchestration_order_line_number=1,
                status_code_old_value="AWAIT_SHIPPING",
                status_code_new_value="SHIPPED",
                fulfillment_lines=(
                    EventFulfillLine(
                        source_order_schedule_id=None,
                        orchestration_order_line_id=300000123456801,
                        fulfillment_order_line_id=300000123456901,
                        status_code_old_value="AWAIT_SHIPPING",
                        status_code_new_value="SHIPPED",
                    ),
                ),
            ),
        ),
    )


def fline_closed() -> EventHeader:
    return EventHeader(
        "FlineClosed",
        source_order_number="520001",
        orchestration_order_id=300000123456789,
        lines=(
            EventLine(
                orchestration_order_line_id=300000123456801,
                open_flag_new_value="N",
                open_flag_old_value="Y",
                fulfillment_lines=(
                    EventFulfillLine(
                        fulfillment_order_line_id=300000123456901,
                        cancel_flag_old_value=None,
                        cancel_flag_new_value="N",
                    ),
                ),
            ),
        ),
    )


def hold() -> EventHeader:
    return EventHeader(
        "HOLD",
        source_order_system="LEG",
        source_order_id="SO-4711",
        source_order_number="4711",
        orchestration_order_number="520001",
        orchestration_order_id=300000123456789,
        hold_code="CREDIT_HOLD",
        hold_comments=None,
        lines=(
            EventLine(
                orchestration_order_line_id=300000123456801,
                orchestration_order_line_number=1,
                hold_code="CREDIT_HOLD",
                hold_comments="Credit limit exceeded",
                source_order_line_id="SO-4711-1",
                source_order_line_number="1",
                fulfillment_lines=(
                    EventFulfillLine(
                        source_order_schedule_id="1",
                        fulfillment_order_line_id=300000123456901,
                        fulfillment_order_line_number=1,
                        hold_code="CREDIT_HOLD",
                        hold_comments="Credit limit exceeded & <pending>",
                        item_id=100000011112222,
                        inventory_organization_id=204,
                    ),
                ),
            ),
        ),
    )


def jeopardy() -> EventHeader:
    return EventHeader(
        "JEOPARDY",
        lines=(
            EventLine(
                event_code="JEOPARDY",
                orchestration_order_line_id=300000123456801,
                orchestration_order_line_number=1,
                source_order_line_id="SO-4711-1",
                source_order_line_number="1",
                source_order_system="LEG",
                source_order_id="SO-4711",
                source_order_schedule_id=None,
                fulfillment_lines=(
                    EventFulfillLine(
                        fulfillment_order_line_id=300000123456901,
                        fulfillment_order_line_number=1,
                        item_id=100000011112222,
                        inventory_organization_id=204,
                        jeopardy_priority="HIGH",
                    ),
                ),
            ),
        ),
    )


def split() -> EventHeader:
    return EventHeader(
        "SPLIT",
        source_order_system="LEG",
        source_order_id="SO-4711",
        source_order_number="4711",
        orchestration_order_number="520001",
        orchestration_order_id=300000123456789,
        customer_id=300000000001001,
        lines=(
            EventLine(
                orchestration_order_line_id=300000123456801,
                orchestration_order_line_number=1,
                source_order_line_id="SO-4711-1",
                source_order_line_number="1",
                pre_split_ordered_quantity=Decimal("10"),
                item_id=100000011112222,
                inventory_organization_id=204,
                fulfillment_lines=(
                    EventFulfillLine(
                        fulfillment_order_line_id=300000123456901,
                        fulfillment_order_line_number=1,
                        shipped_quantity=4,
                        ordered_quantity=4,
                    ),
                    EventFulfillLine(
                        fulfillment_order_line_id=300000123456902,
                        fulfillment_order_line_number=2,
                        shipped_quantity=None,
                        ordered_quantity=6,
                    ),
                ),
            ),
        ),
    )


def order_attribute_update() -> EventHeader:
    """Quantity 5 → 3 and a first scheduled date on one line; another line canceled."""
    return EventHeader(
        "OrderAttributeUpdate",
        source_order_system="LEG",
        source_order_id="SO-4711",
        source_order_number="4711",
        orchestration_order_number="520001",
        orchestration_order_id=300000123456789,
        lines=(
            EventLine(
                orchestration_order_line_id=300000123456801,
                orchestration_order_line_number=1,
                source_order_line_id="SO-4711-1",
                source_order_line_number="1",
                fulfillment_lines=(
                    EventFulfillLine(
                        source_order_schedule_id=None,
                        fulfillment_order_line_id=300000123456901,
                        fulfillment_order_line_number=1,
                        ordered_qty_new=Decimal("3"),
                        ordered_qty_old=Decimal("5"),
                        schedule_ship_date_new=datetime(2026, 12, 24, 9, 30, tzinfo=UTC),
                        schedule_ship_date_old=None,
                    ),
                ),
            ),
            EventLine(
                orchestration_order_line_id=300000123456802,
                orchestration_order_line_number=2,
                source_order_line_id="SO-4711-2",
                source_order_line_number="2",
                fulfillment_lines=(
                    EventFulfillLine(
                        source_order_schedule_id=None,
                        fulfillment_order_line_id=300000123456902,
                        fulfillment_order_line_number=1,
                        cancel_flag_old_value="N",
                        cancel_flag_new_value="Y",
                    ),
                ),
            ),
        ),
    )


PUSHES = {
    "OrderHeaderStatusUpdate": order_header_status_update,
    "FlineStatusUpdate": fline_status_update,
    "FlineClosed": fline_closed,
    "HOLD": hold,
    "JEOPARDY": jeopardy,
    "SPLIT": split,
    "OrderAttributeUpdate": order_attribute_update,
}
