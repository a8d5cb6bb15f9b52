"""How many SQL statements one call costs: pinned, and the same at 1 and at 50 lines.

A write is set-based: each kind of row is read, inserted or updated in one statement
(an executemany counts once), so a call of 50 lines costs what a call of 1 line costs.
The figures are pinned so that a change that adds a statement to the hot path is seen;
a change that removes one lowers the pin.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import event
from zeep import Client

from gateway.server import build_app
from tests.common.orders import order, response, shipped
from tests.common.soap import PASSWORD, call_front
from tests.conftest import make_settings, seeded

ROOT = Path(__file__).resolve().parents[2]
IMPORT = "OrderImportService"
OFRS = "OrderFulfillmentResponseService"
AUTH = "Basic " + base64.b64encode(f"all:{PASSWORD}".encode()).decode()

#: statements of one call, by kind: at 1 line and at 50
PINNED = {
    "createOrders": {"BEGIN": 2, "SELECT": 6, "INSERT": 6, "UPDATE": 1},
    "processFulfillmentResponse": {"BEGIN": 2, "SELECT": 9, "INSERT": 4, "UPDATE": 2},
}

Call = Callable[[str, bytes], tuple[Counter[str], bytes]]


@pytest.fixture
def front(fresh_database_url: str, tmp_path: Path) -> Iterator[Call]:
    """The gateway's WSGI front, called in this thread; each call's statements by kind."""
    with seeded(make_settings(tmp_path / "home", fresh_database_url)) as runtime:
        app = build_app(runtime)
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement.split(None, 1)[0].upper())

        event.listen(runtime.engine, "before_cursor_execute", count)

        def call(service: str, body: bytes) -> tuple[Counter[str], bytes]:
            statements.clear()
            status, out = call_front(app, service, body, AUTH)
            assert status == "200 OK", out[:2000]
            return Counter(statements), out

        yield call


def _body(service: str, operation: str, **kwargs: Any) -> bytes:
    client = Client(str(ROOT / "wsdl" / f"{service}.wsdl"))
    return bytes(etree.tostring(client.create_message(client.service, operation, **kwargs)))


def _create(call: Call, key: str, lines: int) -> tuple[Counter[str], list[int]]:
    items: list[tuple[str, str | int]] = [(f"AS{54800 + i}", 5) for i in range(lines)]
    body = _body("OrderImportService", "createOrders", request={"Order": [order(key, items)]})
    counts, out = call(IMPORT, body)
    flines = [int(e.text or "") for e in etree.fromstring(out).iter("{*}FulfillLineId")]
    assert len(flines) == lines, out[:2000]
    return counts, flines


def _ship(call: Call, rid: str, flines: list[int]) -> Counter[str]:
    lines = [shipped(f, 5) for f in flines]
    body = _body(
        "OrderFulfillmentResponseService",
        "processFulfillmentResponse",
        **response(rid, lines),
    )
    counts, out = call(OFRS, body)
    assert b"SUCCESS</" in out, out[:2000]
    return counts


@pytest.mark.parametrize("lines", [1, 50])
def test_statements_of_a_create_and_a_shipment(front: Call, lines: int) -> None:
    # the first call of each kind reads what the process keeps (compiled routing, triggers)
    _, warm = _create(front, f"WARM{lines}", lines)
    _ship(front, f"RWARM{lines}", warm)
    created, flines = _create(front, f"C{lines}", lines)
    assert dict(created) == PINNED["createOrders"]
    assert dict(_ship(front, f"R{lines}", flines)) == PINNED["processFulfillmentResponse"]
