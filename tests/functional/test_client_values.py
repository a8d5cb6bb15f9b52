"""A client's mistake is a Client fault, whatever field it is in (README "Client mistakes
are Client faults").

Every scalar field of every request, one at a time, carries each edge value of its type
(``tests.common.edges``): what the schema allows but Python's types may not hold
(``T24:00:00``, years 0000 and 10000, offsets that carry a time past 9999 in UTC, 1000-
digit decimals, …), and a text longer than any column. Each is sent over HTTP to a real
gateway on SQLite and PostgreSQL. The answer is a success or a Client fault, never a
Server one; a refused request changed nothing; an accepted order reads back; and no
text is stored longer than its column or cut short.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import String, func, select

from gateway.persistence.models import (
    Base,
    FulfillLine,
    FulfillmentRequest,
    FulfillmentResponseRecord,
    OrderHeader,
    StagedOrder,
)
from gateway.runtime import Runtime
from gateway.server import build_app
from gateway.services.fulfillment_response import LINE_COLUMNS as RESPONSE_COLUMNS
from gateway.services.order_import import HEADER_COLUMNS, LINE_COLUMNS
from tests.common.edges import (
    EDGES,
    acknowledgement,
    fulfillment_response,
    import_request,
    inquiry,
    paths,
    with_value,
)
from tests.common.edges import (
    Path as FieldPath,
)
from tests.common.soap import Http, basic, call_front, fault_code, post
from tests.conftest import make_settings, seeded

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

ORDER = ("OrderImportService", {"request": "OrderImportRequest"})
RESPONSE = (
    "OrderFulfillmentResponseService",
    {"responseMessageHeader": "ResponseMessageHeader", "fulfillLineList": "FulfillLine"},
)
ACK = (
    "OrderFulfillmentResponseService",
    {"fulfillmentRequestAcknowledgement": "FulfillmentRequestAcknowledgement"},
)
INQUIRY = ("OrderInformationService", {"Order": "OrderRequest"})
TYPED = tuple(t for t in EDGES if t != "string")


def _fields(spec: tuple[str, dict[str, str]], types: tuple[str, ...]) -> list[FieldPath]:
    service, roots = spec
    return [p for p in paths(service, roots) if p.type in types]


#: the fields omgw acts on (its columns): each gets every edge value on its own; the
#: others are kept as sent, through one code path per type (``services.attributes``), and
#: get each edge value all at once (every field of an acknowledgement is acted on)
ACTED_ON = frozenset(
    {f"request/Order/{name}" for name in HEADER_COLUMNS}
    | {f"request/Order/Line/{name}" for name in LINE_COLUMNS}
    | {f"fulfillLineList/{name}" for name in RESPONSE_COLUMNS}
    | {
        "request/BatchName",
        "fulfillLineList/FulfillmentDetail/TrackingNumber",
        "fulfillLineList/FulfillmentDetail/BillingTransactionNumber",
    }
)
_ACTED_ON_WHOLE = ("responseMessageHeader/", "fulfillmentRequestAcknowledgement/")


def _acted_on(field: FieldPath) -> bool:
    where = "/".join(name for _ns, name in field.steps)
    return where in ACTED_ON or where.startswith(_ACTED_ON_WHOLE)


def _cases(
    fields: list[FieldPath], edges: Mapping[str, tuple[str, ...]] = EDGES, *, group_kept: bool
) -> Iterator[tuple[str, FieldPath | list[FieldPath], str]]:
    """(what, where, value): each edge value in each field on its own, or, with
    ``group_kept``, in the fields omgw acts on one at a time and in the kept ones all at
    once."""
    kept: dict[str, list[FieldPath]] = {}
    for field in fields:
        if group_kept and not _acted_on(field):
            kept.setdefault(field.type, []).append(field)
            continue
        for value in edges[field.type]:
            yield str(field), field, value
    for type_, group in kept.items():
        for value in edges[type_]:
            yield f"each of {len(group)} kept {type_} fields", group, value


def _verdict(resp: Http) -> str:
    """``OK``, or the fault's code; a Server fault (or none) is named as the failure."""
    if resp.status == 200:
        return "OK"
    root = etree.fromstring(resp.body)
    kind = (root.findtext(".//faultcode") or "").split(":")[-1]
    code = fault_code(resp.body)
    if kind != "Client" or code is None or code == "OMGW-INTERNAL_ERROR":
        return f"SERVER FAULT {kind} {code}"
    return code


def _shown(value: str) -> str:
    return value if len(value) <= 30 else value[:30] + "..."


def _fline_of(resp: Http) -> int:
    assert resp.status == 200, resp.body[:500]
    return int(etree.fromstring(resp.body).findtext(".//{*}FulfillLineId"))


def _order_exists(runtime: Runtime, key: str) -> bool:
    with runtime.sessions() as s:
        return bool(
            s.scalar(select(func.count()).where(OrderHeader.source_order_id == key))
            or s.scalar(select(func.count()).where(StagedOrder.source_order_id == key))
        )


def _fline_state(runtime: Runtime, fline_id: int) -> tuple[Any, ...]:
    with runtime.sessions() as s:
        f = s.get(FulfillLine, fline_id)
        assert f is not None
        req = s.get(FulfillmentRequest, f.request_id) if f.request_id else None
        responses = s.scalar(
            select(func.count())
            .select_from(FulfillmentResponseRecord)
            .where(FulfillmentResponseRecord.response_identifier.like(f"R{fline_id}-%"))
        )
        return (
            f.status,
            f.shipped_quantity,
            f.attributes_json,
            req.status if req else None,
            responses,
        )


def test_typed_edge_values_in_orders(gateway):
    """createOrders with each edge value in each typed field; each order it accepts is
    read back with GetOrderDetails."""
    wrong: list[str] = []
    for field, where, value in _cases(_fields(ORDER, TYPED), group_kept=True):
        key = uuid.uuid4().hex[:16]
        body = with_value(import_request(key), where, value)
        verdict = _verdict(post(gateway.url("OrderImportService"), body, basic("all")))
        if verdict.startswith("SERVER"):
            wrong.append(f"{field} = {_shown(value)}: {verdict}")
        elif verdict != "OK" and _order_exists(gateway.runtime, key):
            wrong.append(f"{field} = {_shown(value)}: refused ({verdict}) but stored")
        elif verdict == "OK":
            back = _verdict(
                post(gateway.url("OrderInformationService"), inquiry(key), basic("all"))
            )
            if back != "OK":
                wrong.append(f"{field} = {_shown(value)}: accepted, GetOrderDetails {back}")
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong)


def _response_cases(
    gateway: Any,
    spec: tuple[str, dict[str, str]],
    types: tuple[str, ...],
    edges: Mapping[str, tuple[str, ...]] = EDGES,
    *,
    group_kept: bool = True,
) -> list[str]:
    """Each edge value in each field of a response (or acknowledgement) to a fresh order."""
    ack = spec is ACK
    wrong: list[str] = []
    for field, where, value in _cases(_fields(spec, types), edges, group_kept=group_kept):
        key = uuid.uuid4().hex[:16]
        created = post(gateway.url("OrderImportService"), import_request(key), basic("all"))
        fline = _fline_of(created)
        before = _fline_state(gateway.runtime, fline)
        if ack:
            with gateway.runtime.sessions() as s:
                request_id = s.get(FulfillLine, fline).request_id
            template = acknowledgement(request_id)
        else:
            template = fulfillment_response(f"R{fline}-{key}", fline)
        body = with_value(template, where, value)
        resp = post(gateway.url("OrderFulfillmentResponseService"), body, basic("all"))
        verdict = _verdict(resp)
        if verdict.startswith("SERVER"):
            wrong.append(f"{field} = {_shown(value)}: {verdict}")
        elif verdict != "OK" and _fline_state(gateway.runtime, fline) != before:
            wrong.append(f"{field} = {_shown(value)}: refused ({verdict}) but applied")
        elif verdict == "OK":
            back = _verdict(
                post(gateway.url("OrderInformationService"), inquiry(key), basic("all"))
            )
            if back != "OK":
                wrong.append(f"{field} = {_shown(value)}: accepted, GetOrderDetails {back}")
    return wrong


def test_typed_edge_values_in_fulfillment_responses(gateway):
    wrong = _response_cases(gateway, RESPONSE, TYPED)
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong)


def test_typed_edge_values_in_acknowledgements(gateway):
    wrong = _response_cases(gateway, ACK, TYPED)
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong)


def _stored_with(runtime: Runtime, marker: str) -> list[str]:
    """Every length-limited text column holding a value that starts with ``marker``:
    the values sent are longer than any such column, so each is one stored overlong
    (SQLite keeps what it is given) or cut short."""
    found: list[str] = []
    with runtime.sessions() as s:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not (isinstance(column.type, String) and column.type.length):
                    continue
                n = s.scalar(
                    select(func.count()).select_from(table).where(column.like(f"{marker}%"))
                )
                if n:
                    found.append(f"{table.name}.{column.name} ({column.type.length}): {n} rows")
    return found


def test_every_request_text_fits_its_column(gateway):
    """A text longer than any column in every string field (and unit attribute) of
    every request: a Client fault or an answer, and nothing stored overlong or cut."""
    marker = "LONG" + uuid.uuid4().hex[:8].upper()
    (value,) = EDGES["string"]
    value = marker + value[len(marker) :]
    assert len(value) == len(EDGES["string"][0])
    wrong: list[str] = []

    def check(what: str, resp: Http) -> str:
        verdict = _verdict(resp)
        if verdict.startswith("SERVER"):
            wrong.append(f"{what}: {verdict}")
        return verdict

    for operation in ("createOrders", "stageOrders"):
        for field in _fields(ORDER, ("string",)):
            key = uuid.uuid4().hex[:16]
            body = with_value(import_request(key, operation), field, value)
            verdict = check(
                f"{operation} {field}", post(gateway.url("OrderImportService"), body, basic("all"))
            )
            if verdict != "OK" and _order_exists(gateway.runtime, key):
                wrong.append(f"{operation} {field}: refused ({verdict}) but stored")
            if verdict == "OK" and operation == "createOrders":
                check(
                    f"GetOrderDetails after {field}",
                    post(gateway.url("OrderInformationService"), inquiry(key), basic("all")),
                )
    long_text = {"string": (value,)}
    for spec in (RESPONSE, ACK):
        wrong.extend(_response_cases(gateway, spec, ("string",), long_text, group_kept=False))
    for field in _fields(INQUIRY, ("string",)):
        body = with_value(inquiry("NO-SUCH"), field, value)
        check(
            f"GetOrderDetails {field}",
            post(gateway.url("OrderInformationService"), body, basic("all")),
        )
    wrong.extend(_stored_with(gateway.runtime, marker))
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong)


def test_the_fault_names_the_element_sent(gateway):
    """The path in the message tells which of several lines holds the value."""
    key = uuid.uuid4().hex[:16]
    body = import_request(key).replace(
        b"</o:Line>",
        b"</o:Line><o:Line><o:SourceTransactionLineIdentifier>L2</o:SourceTransactionLineIdentifier>"
        b"<o:ProductNumber>AS54889</o:ProductNumber>"
        b'<o:OrderedQuantity unitCode="Ea">1</o:OrderedQuantity>'
        b"<o:RequestedShipDate>2026-03-01T24:00:00</o:RequestedShipDate></o:Line>",
    )
    resp = post(gateway.url("OrderImportService"), body, basic("all"))
    assert _verdict(resp) == "OMGW-INVALID_VALUE"
    message = etree.fromstring(resp.body).findtext(".//faultstring")
    assert message.startswith(
        "createOrders/request/Order/Line[2]/RequestedShipDate is '2026-03-01T24:00:00'"
    ), message
    assert "00:00:00 of the next day" in message
    assert not _order_exists(gateway.runtime, key)


@pytest.mark.parametrize("operation", ["createOrders", "stageOrders"])
def test_batch_name_longer_than_its_column(gateway, operation):
    """BatchName is kept with each order (150 characters): one longer is refused before
    anything is written, on both databases; one that fits is kept whole."""
    key = uuid.uuid4().hex[:16]
    resp = post(
        gateway.url("OrderImportService"), import_request(key, operation, "B" * 151), basic("all")
    )
    assert resp.status == 500
    assert fault_code(resp.body) == "OMGW-INVALID_VALUE"
    message = etree.fromstring(resp.body).findtext(".//faultstring")
    assert "BatchName" in message and "150" in message
    assert not _order_exists(gateway.runtime, key)
    fits = "B" * 149 + "\u00e9"
    resp = post(
        gateway.url("OrderImportService"), import_request(key, operation, fits), basic("all")
    )
    assert resp.status == 200, resp.body[:500]
    with gateway.runtime.sessions() as s:
        table = OrderHeader if operation == "createOrders" else StagedOrder
        stored = s.scalar(select(table.batch_name).where(table.source_order_id == key))
    assert stored == fits


def _call(app: Any, service: str, body: bytes) -> Http:
    status, out = call_front(app, service, body, basic("all")["Authorization"])
    return Http(int(status.split()[0]), out)


def test_spyne_mapping_refuses_the_same_values(tmp_path: Path):
    """Served through spyne's own object mapping (the benchmark's comparison), a value
    Python cannot hold is the same Client fault as on the compiled path."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'spyne.db'}")
    with seeded(settings) as runtime:
        app = build_app(runtime, spyne_mapping=True)
        (shipped,) = [
            p
            for p in _fields(ORDER, ("dateTime",))
            if str(p) == "request/Order/Line/RequestedShipDate"
        ]
        for value in ("2026-01-01T24:00:00", "10000-01-01T00:00:00", "0001-01-01T00:00:00+14:00"):
            key = uuid.uuid4().hex[:16]
            resp = _call(app, "OrderImportService", with_value(import_request(key), shipped, value))
            assert _verdict(resp) == "OMGW-INVALID_VALUE", resp.body[:600]
            assert b"RequestedShipDate" in resp.body
            assert not _order_exists(runtime, key)
