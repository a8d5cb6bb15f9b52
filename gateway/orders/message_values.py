"""Plain value objects that cross from the SOAP edge into the domain, and back.

The spyne services convert wire objects into these; the domain never sees spyne, so a
faster lxml front end can feed the same code (DESIGN §10). They round-trip through
JSON because staged orders and responses are stored and processed later.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.errors import LineError

__all__ = [
    "Acknowledgement",
    "FulfillLineResponse",
    "FulfillmentResponse",
    "HoldInput",
    "LineInput",
    "LineOutcome",
    "OrderInput",
    "ResponseResult",
]


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decode(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data or f.name in ("holds", "lines"):  # nested: by the caller
            continue
        v = data[f.name]
        t = str(f.type)
        if v is not None and "Decimal" in t:
            v = Decimal(v)
        elif v is not None and "datetime" in t:
            v = datetime.fromisoformat(v)
        out[f.name] = v
    return out


@dataclass(frozen=True)
class HoldInput:
    """A hold to apply with the order or line it arrives on."""

    hold_code: str | None
    comments: str | None = None


def _holds(data: list[dict[str, Any]] | None) -> tuple[HoldInput, ...]:
    return tuple(HoldInput(**h) for h in data or ())


@dataclass(frozen=True)
class LineInput:
    source_line_id: str | None
    source_line_number: str | None
    product_number: str | None
    quantity: Decimal | None
    uom_code: str | None = None
    product_description: str | None = None
    ship_set_name: str | None = None
    requested_fulfillment_org: str | None = None
    requested_ship_date: datetime | None = None
    holds: tuple[HoldInput, ...] = ()
    #: every other attribute the line was sent with, kept as sent (JSON-ready)
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class OrderInput:
    source_system: str | None
    source_order_id: str | None
    source_order_number: str | None
    revision: str | None
    lines: tuple[LineInput, ...]
    buying_party_name: str | None = None
    buying_party_number: str | None = None
    transaction_type_code: str | None = None
    currency_code: str | None = None
    customer_po_number: str | None = None
    business_unit_name: str | None = None
    transaction_on: datetime | None = None
    requested_ship_date: datetime | None = None
    holds: tuple[HoldInput, ...] = ()
    #: every other attribute the order was sent with, kept as sent (JSON-ready)
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_encode)

    @classmethod
    def from_json(cls, text: str) -> OrderInput:
        data = json.loads(text)
        lines = tuple(
            LineInput(**_decode(LineInput, d), holds=_holds(d.get("holds"))) for d in data["lines"]
        )
        return cls(lines=lines, **_decode(cls, data), holds=_holds(data.get("holds")))


@dataclass(frozen=True)
class FulfillLineResponse:
    fulfill_line_id: int | None
    status_code: str | None = None
    shipped_quantity: Decimal | None = None
    quantity_uom: str | None = None
    actual_ship_date: datetime | None = None
    tracking_number: str | None = None
    billing_number: str | None = None
    #: everything else the line was sent with, kept as sent (JSON-ready)
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)


def _flat(obj: Any) -> dict[str, Any]:
    """A flat dataclass's fields as a dict (nested values as they are)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@dataclass(frozen=True)
class FulfillmentResponse:
    fulfillment_system: str | None
    response_identifier: str | None
    task_type: str | None
    lines: tuple[FulfillLineResponse, ...]
    #: whether its sender may answer lines whose request went to no fulfillment system
    #: (routing had nowhere to send it): only a caller bound to every system may
    may_answer_unassigned: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_encode)

    @classmethod
    def from_json(cls, text: str) -> FulfillmentResponse:
        data = json.loads(text)
        lines = tuple(
            FulfillLineResponse(**_decode(FulfillLineResponse, d)) for d in data.pop("lines")
        )
        return cls(lines=lines, **_decode(cls, data))


@dataclass(frozen=True)
class Acknowledgement:
    fulfillment_system: str | None
    request_id: int | None
    status_code: str | None
    error_name: str | None = None
    error_text: str | None = None
    #: as for :class:`FulfillmentResponse`
    may_answer_unassigned: bool = True


@dataclass(frozen=True)
class LineOutcome:
    """What happened to one fulfillment line (``ResponseProcessingFulfillLine``)."""

    fulfill_line_id: int | None
    status: str  # SUCCESS | ERROR
    fulfill_line_number: int | None = None
    order_number: str | None = None
    line_number: int | None = None
    task_instance_status: str | None = None
    split_reference_id: int | None = None
    errors: tuple[LineError, ...] = ()


@dataclass(frozen=True)
class ResponseResult:
    """The ``ResponseProcessingHeader`` returned for a fulfillment response."""

    response_identifier: str
    overall_status: str  # SUCCESS | WARNING | STAGED
    lines: tuple[LineOutcome, ...] = ()
    errors: tuple[LineError, ...] = ()
    replayed: bool = field(default=False, compare=False)

    def to_json(self) -> str:
        # by hand: dataclasses.asdict deep-copies every value (~2 ms at 50 lines)
        return json.dumps(
            {
                "response_identifier": self.response_identifier,
                "overall_status": self.overall_status,
                "lines": [_flat(o) | {"errors": [_flat(e) for e in o.errors]} for o in self.lines],
                "errors": [_flat(e) for e in self.errors],
            }
        )

    @classmethod
    def from_json(cls, text: str, *, replayed: bool = False) -> ResponseResult:
        data = json.loads(text)
        lines = tuple(
            LineOutcome(**{**d, "errors": tuple(LineError(**e) for e in d["errors"])})
            for d in data["lines"]
        )
        errors = tuple(LineError(**e) for e in data["errors"])
        return cls(data["response_identifier"], data["overall_status"], lines, errors, replayed)
