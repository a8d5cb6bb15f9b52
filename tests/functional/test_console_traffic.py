"""The console's orders and messages, API and pages, against a real server on 127.0.0.1
whose requests go to a receiver standing in for WMS01 (tests/common/shop.py): orders taken
over SOAP, found by their source number, drawn as a timeline; messages parked by the
receiver's fault, replayed through the API and through the confirmation page; holds and
staged work; roles, CSRF, escaping and redaction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from gateway.persistence.models import AuditEntry, OutboxMessage
from tests.common.console import signed_in
from tests.common.shop import CONNECTOR, Shop, line, shop_at

SVG = "{http://www.w3.org/2000/svg}"
SECRET = "Wms-Pa55word-4471"  # the connector's wallet password
CLIENT_FAULT = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
    b"<faultstring>user wms: wrong password " + SECRET.encode() + b"</faultstring>"
    b"</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


@pytest.fixture
def shop(fresh_database_url: str, tmp_path: Path) -> Iterator[Shop]:
    with shop_at(fresh_database_url, tmp_path / "home") as running:
        yield running


def outbox_rows(shop: Shop, number: str) -> list[OutboxMessage]:
    with shop.gw.runtime.read_sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.order_number == number)
                .order_by(OutboxMessage.id)
            )
        )


def parked(shop: Shop, key: str, lines: list[dict[str, Any]] | None = None) -> tuple[str, int]:
    """An order whose request the warehouse refused with a Client fault: parked."""
    number = str(shop.send(key, lines or [line("L1", 2)]).OrderNumber)
    shop.rx.script = [("500 Internal Server Error", CLIENT_FAULT)]
    shop.deliver()
    (row,) = outbox_rows(shop, number)
    assert row.status == "PARKED"
    return number, row.id


def timeline(page: str) -> ElementTree.Element:
    found = re.search(r'<svg id="timeline".*?</svg>', page, flags=re.S)
    assert found, "no timeline on the page"
    return ElementTree.fromstring(found.group(0))


def audit(shop: Shop, entity: str) -> list[tuple[str, str, str]]:
    with shop.gw.runtime.read_sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.entity == entity))
        return [(e.actor, e.action, e.entity_key) for e in rows]


# -- orders -----------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_an_order_is_found_by_its_source_number_and_drawn_as_a_timeline(shop, unique):
    number = str(
        shop.send(unique, [line("L1", 2), line("L2", 1, "AS1")], CustomerPONumber=f"PO-{unique}")
        .OrderNumber
    )  # fmt: skip
    other = str(shop.send(f"{unique}X", [line("L1", 1)]).OrderNumber)
    for request in shop.deliver():
        shop.ack(request.request_id)
    viewer = signed_in(shop.gw.base, "viewer")

    def found(**params: str) -> list[str]:
        answer = viewer.get("/orders", **params)
        assert answer.status_code == 200, answer.text
        return [r["order_number"] for r in answer.json()]

    assert found(source_number=f"SO-{unique}") == [number]
    assert found(source_number=f"SO-{unique}", source_system="LEGACY") == [number]
    assert found(po=f"PO-{unique}") == [number]
    assert found(number=other) == [other]
    assert found(line_status="AWAIT_SHIP", source_number=f"SO-{unique}") == [number]
    assert found(status="OPEN", since="2000-01-01") == [other, number]
    assert found(until="2000-01-01") == []
    assert viewer.get("/orders", status="NOPE").status_code == 400
    bad_time = viewer.get("/orders", since="yesterday").json()["error"]
    assert bad_time["code"] == "PARAMETER_INVALID" and "since" in bad_time["message"]
    unknown = viewer.get("/orders", source_number="x", source_system="NOPE")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "SOURCE_SYSTEM_UNKNOWN"

    page = viewer.page("/orders", source_number=f"SO-{unique}")
    assert page.status_code == 200 and 'id="order-search"' in page.text
    table = page.text.split('<table id="orders">', 1)[1]
    assert f'data-order="{number}"' in table and f'data-order="{other}"' not in table
    for name in ("number", "source_number", "source_system", "po", "status", "line_status",
                 "since", "until"):  # fmt: skip
        assert f'name="{name}"' in page.text

    story = viewer.get(f"/orders/{number}").json()
    assert story["source_order_number"] == f"SO-{unique}" and len(story["lines"]) == 2
    flines = [fl["id"] for ln in story["lines"] for fl in ln["fulfill_lines"]]
    directions = [m["direction"] for m in story["messages"]]
    assert len(flines) == 2 and directions[0] == "IN" and "OUT" in directions
    assert viewer.get("/orders/NO-SUCH").json()["error"]["code"] == "ORDER_NOT_FOUND"

    shown = viewer.page(f"/orders/{number}")
    assert shown.status_code == 200
    svg = timeline(shown.text)
    lanes = [g.get("data-lane") for g in svg.iter(f"{SVG}g") if g.get("data-lane")]
    assert lanes == ["order", *[str(i) for i in flines]]  # one lane per fulfillment line
    markers = [g for g in svg.iter(f"{SVG}g") if "marker" in (g.get("class") or "").split()]
    refs = [g.get("data-message") for g in markers if g.get("data-message")]
    expected = [
        f"in:{m['log_id']}" if m["direction"] == "IN" else f"out:{m['outbox_id']}"
        for m in story["messages"]
    ]
    assert sorted(refs) == sorted(expected)  # a marker per message
    assert len(markers) == len(refs) + len(story["status_history"])  # and per status change
    assert all(g.find(f"{SVG}title") is not None for g in markers)
    (request_marker,) = [g for g in markers if (g.get("data-message") or "").startswith("out:")]
    # the request carried both lines: drawn on both lanes, labelled with where it went
    assert len(request_marker.findall(f".//{SVG}polygon")) == 2
    label = (request_marker.findtext(f".//{SVG}text") or "").rstrip("…")
    # labelled with where it went and the operation (cut short where the next one begins)
    assert len(label) > 3 and f"→ {CONNECTOR} processFulfillmentRequest".startswith(label)
    title = request_marker.findtext(f"{SVG}title") or ""
    assert f"processFulfillmentRequest (Shipment) to {CONNECTOR}" in title
    assert float(svg.get("width") or 0) <= 1366


def test_an_operator_holds_and_releases_a_line_from_the_order_page_and_the_api(shop, unique):
    number = str(shop.send(unique, [line("L1", 2), line("L2", 1)]).OrderNumber)
    operator = signed_in(shop.gw.base, "operator")
    viewer = signed_in(shop.gw.base, "viewer")
    body = {"hold": "CREDIT_CHECK", "line": 2, "comments": "call the customer"}
    assert viewer.send("POST", f"/orders/{number}/holds", body).status_code == 403
    applied = operator.send("POST", f"/orders/{number}/holds", body)
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"order": number, "line": 2, "hold": "CREDIT_CHECK",
                              "applied_by": "operator"}  # fmt: skip
    again = operator.send("POST", f"/orders/{number}/holds", body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_EXISTS"
    page = operator.page(f"/orders/{number}").text
    assert 'data-hold="CREDIT_CHECK"' in page and 'id="apply-hold"' in page
    assert 'id="apply-hold"' not in viewer.page(f"/orders/{number}").text

    released = operator.submit(f"/orders/{number}/holds/release", {"hold": "CREDIT_CHECK",
                                                                    "line": "2"})  # fmt: skip
    assert released.status_code == 303
    assert released.headers["Location"].startswith(f"/manage/orders/{number}?notice=")
    notice = operator.http.get(shop.gw.base + released.headers["Location"], timeout=10).text
    assert f"hold CREDIT_CHECK released from order {number} line 2" in notice
    order_hold = operator.submit(f"/orders/{number}/holds", {"hold": "QA", "line": ""})
    assert order_hold.status_code == 303
    holds = operator.get(f"/orders/{number}").json()["holds"]
    assert [(h["hold"], h["line"], h["released_by"]) for h in holds] == [
        ("CREDIT_CHECK", 2, "operator"), ("QA", None, None)
    ]  # fmt: skip
    assert operator.submit(f"/orders/{number}/holds", {"hold": "X"}, csrf=False).status_code == 403


def test_output_is_escaped_wherever_an_order_shows(shop):
    hostile = "<script>alert(1)</script>"
    number = str(
        shop.send("ESC1", [line("L1", 1, ProductDescription=hostile)],
                  SourceTransactionNumber=hostile).OrderNumber
    )  # fmt: skip
    viewer = signed_in(shop.gw.base, "viewer")
    for path, params in (
        ("/orders", {"source_number": hostile}),
        (f"/orders/{number}", {}),
    ):
        page = viewer.page(path, **params)
        assert page.status_code == 200
        assert "<script>alert" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in viewer.page(f"/orders/{number}").text
    found = viewer.page("/orders", source_number=hostile).text
    assert f'data-order="{number}"' in found and "&lt;script&gt;" in found
    timeline(viewer.page(f"/orders/{number}").text)  # still well-formed XML
