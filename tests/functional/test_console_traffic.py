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
import requests
from sqlalchemy import select

from connectors.connector_specs import ConnectorSpec
from connectors.secret_box import Credential
from gateway.persistence.models import AuditEntry, StagedOrder
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from tests.common.console import Console, signed_in
from tests.common.shop import CONNECTOR, Shop, client_fault, line, outbox_rows, shop_at
from tests.common.shop import parked as park_order
from tests.common.soap import PASSWORD, client

SVG = "{http://www.w3.org/2000/svg}"
SECRET = "Wms-Pa55word-4471"  # the connector's wallet password
CLIENT_FAULT = client_fault(f"user wms: wrong password {SECRET}")


@pytest.fixture
def shop(fresh_database_url: str, tmp_path: Path) -> Iterator[Shop]:
    with shop_at(fresh_database_url, tmp_path / "home") as running:
        yield running


def parked(shop: Shop, key: str, lines: list[dict[str, Any]] | None = None) -> tuple[str, int]:
    return park_order(shop, key, lines, CLIENT_FAULT)


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
        ("/messages/inbound", {"order": number}),
    ):
        page = viewer.page(path, **params)
        assert page.status_code == 200
        assert "<script>alert" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in viewer.page(f"/orders/{number}").text
    found = viewer.page("/orders", source_number=hostile).text
    assert f'data-order="{number}"' in found and "&lt;script&gt;" in found
    timeline(viewer.page(f"/orders/{number}").text)  # still well-formed XML


# -- messages ---------------------------------------------------------------------------------


def _credential(shop: Shop) -> None:
    with shop.gw.runtime.sessions() as s, s.begin():
        Wallet(s, lambda: shop.gw.runtime.secret_box, "tests").set(
            "oracle.wsm.security", "WMS01_KEY", Credential("wms", SECRET)
        )
        Registry(s, "tests").put_connector(
            ConnectorSpec(CONNECTOR, "WMS01", shop.rx.url, credential_key="WMS01_KEY")
        )


def test_messages_are_listed_filtered_and_shown_redacted(shop, unique):
    _credential(shop)
    number, oid = parked(shop, unique)
    wsse = client(shop.gw.base, "OrderImportService", wsse=True)
    from tests.common.orders import order

    wsse.service.createOrders(request={"Order": [order(f"{unique}W")]})
    refused = requests.post(
        f"{shop.gw.base}/fscmService/OrderImportService",
        data=b"<x/>",
        auth=("all", "wrong-" + PASSWORD),
        headers={"Content-Type": "text/xml"},
        timeout=10,
    )
    assert refused.status_code == 500
    viewer = signed_in(shop.gw.base, "viewer")

    (row,) = viewer.get("/messages", order=number).json()
    assert (row["id"], row["status"], row["connector"]) == (oid, "PARKED", CONNECTOR)
    assert [r["id"] for r in viewer.get("/messages", status="PARKED", kind="REQUEST").json()] == [
        oid
    ]
    assert viewer.get("/messages", status="DELIVERED", order=number).json() == []
    assert viewer.get("/messages", until="2000-01-01").json() == []
    mid = row["message_id"]
    assert [r["id"] for r in viewer.get("/messages", message_id=mid).json()] == [oid]
    assert viewer.get("/messages", connector="NOPE").json()["error"]["code"] == "CONNECTOR_UNKNOWN"
    assert viewer.get("/messages", kind="PIGEON").status_code == 400

    shown = viewer.get(f"/messages/{oid}").json()
    assert shown["message_id"] == mid and shown["payload"].startswith("<")
    assert shown["last_error"] == "SOAP fault Client: user wms: wrong password ********"
    assert viewer.get(f"/messages/{mid}").json()["id"] == oid  # by MessageID too
    assert viewer.get("/messages/999999").json()["error"]["code"] == "MESSAGE_NOT_FOUND"
    page = viewer.page(f"/messages/{oid}").text
    assert SECRET not in page and "wrong password ********" in page and 'id="payload"' in page
    assert 'id="replay"' not in page  # a viewer has no replay button

    calls = viewer.get("/messages/inbound", operation="createOrders", user="all").json()
    signed = next(c for c in calls if c["order_numbers"] and c["order_numbers"] != [number])
    inbound = viewer.get(f"/messages/inbound/{signed['id']}").json()
    assert "Password" in inbound["payload"] and PASSWORD not in inbound["payload"]
    assert PASSWORD not in viewer.page(f"/messages/inbound/{signed['id']}").text
    faults = viewer.get("/messages/inbound", faults="true").json()
    assert faults and all(f["outcome"] == "FAULT" for f in faults)
    assert "AUTH_FAILED" in {f["fault_code"] for f in faults}
    listing = viewer.page("/messages/inbound", faults="1").text
    assert 'id="messages"' in listing and "AUTH_FAILED" in listing
    assert viewer.get("/messages/inbound/999999").status_code == 404
    outbound = viewer.page("/messages", order=number).text
    assert f'data-id="{oid}"' in outbound and SECRET not in outbound


@pytest.mark.both_databases
def test_a_parked_request_is_replayed_through_the_api_with_its_guards(shop, unique):
    number, oid = parked(shop, unique)
    operator = signed_in(shop.gw.base, "operator")
    viewer = signed_in(shop.gw.base, "viewer")

    refused = viewer.send("POST", "/messages/replay", {"id": [oid]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AUTH_FORBIDDEN"
    no_token = operator.send("POST", "/messages/replay", {"id": [oid]}, csrf=False)
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "CSRF_FAILED"
    nothing = operator.send("POST", "/messages/replay", {})
    assert nothing.status_code == 400 and nothing.json()["error"]["code"] == "MISSING_KEY"

    dry = operator.send("POST", "/messages/replay", {"order": number, "dry_run": True})
    assert dry.status_code == 200 and (dry.json()["dry_run"], dry.json()["replayed"]) == (True, 1)
    assert outbox_rows(shop, number)[0].status == "PARKED" and audit(shop, "outbox") == []

    done = operator.send("POST", "/messages/replay", {"order": number})
    assert done.status_code == 200, done.text
    assert (done.json()["replayed"], done.json()["messages"][0]["id"]) == (1, oid)
    (row,) = outbox_rows(shop, number)
    assert (row.status, row.attempts, row.replays) == ("READY", 0, 1)
    assert audit(shop, "outbox") == [("operator", "replay", row.message_id)]

    shop.deliver()  # the receiver takes it this time
    assert outbox_rows(shop, number)[0].status == "DELIVERED"
    # delivered: another Shipment request may ship twice, so only force sends it
    again = operator.send("POST", "/messages/replay", {"id": [oid]})
    assert again.status_code == 409
    report = again.json()
    assert (report["replayed"], report["refused"]) == (0, 1)
    assert report["error"]["code"] == "REPLAY_INCOMPLETE"
    assert "may create a second shipment" in report["error"]["message"]
    assert '"force": true' in report["error"]["message"]
    assert outbox_rows(shop, number)[0].status == "DELIVERED"

    scripted = requests.post(
        shop.gw.base + "/manage/api/v1/messages/replay",
        json={"id": [oid], "force": True},
        auth=("operator", PASSWORD),  # a script: HTTP Basic, no CSRF token
        timeout=30,
    )
    assert scripted.status_code == 200 and scripted.json()["force"] is True
    assert outbox_rows(shop, number)[0].status == "READY"
    history = operator.get(f"/messages/{oid}").json()["history"]
    assert [(h["actor"], h["action"], h["after"]["forced"]) for h in history] == [
        ("operator", "replay", False), ("operator", "replay", True)
    ]  # fmt: skip


def test_replay_through_the_confirmation_page(shop, unique):
    number, oid = parked(shop, unique)
    operator = signed_in(shop.gw.base, "operator")
    page = operator.page(f"/messages/{oid}").text
    assert 'id="replay"' in page and 'action="/manage/messages/replay"' in page

    confirm = operator.page("/messages/replay", id=str(oid))
    assert confirm.status_code == 200 and 'id="confirm-replay"' in confirm.text
    assert 'data-verdict="REPLAYED"' in confirm.text and 'id="force"' not in confirm.text
    assert outbox_rows(shop, number)[0].status == "PARKED"  # showing it changed nothing
    # the confirmation is a form: a GET never replays, a POST without the token is refused
    assert operator.submit("/messages/replay", {"id": oid}, csrf=False).status_code == 403
    done = operator.submit("/messages/replay", {"id": oid})
    assert done.status_code == 303
    assert done.headers["Location"].startswith(f"/manage/messages/{oid}?notice=")
    after = operator.http.get(shop.gw.base + done.headers["Location"], timeout=10).text
    assert "1 message(s) replayed" in after and 'data-action="replay"' in after

    shop.deliver()
    confirm = operator.page("/messages/replay", id=str(oid)).text
    assert 'data-verdict="REFUSED"' in confirm and 'id="force"' in confirm
    assert "may create a second shipment or invoice" in confirm
    refused = operator.submit("/messages/replay", {"id": oid})
    shown = operator.http.get(shop.gw.base + refused.headers["Location"], timeout=10).text
    assert "nothing was replayed" in shown and "refused without force" in shown
    assert outbox_rows(shop, number)[0].status == "DELIVERED"
    forced = operator.submit("/messages/replay", {"id": oid, "force": "1"})
    assert forced.status_code == 303 and outbox_rows(shop, number)[0].status == "READY"
    assert "(forced)" in operator.page(f"/messages/{oid}").text

    # from a filtered list: the button carries the filter, the confirmation the rows
    listing = operator.page("/messages", order=number, status="READY").text
    assert 'id="replay"' in listing
    plan = operator.page("/messages/replay", order=number, status="READY",
                         back=f"/messages?order={number}").text  # fmt: skip
    assert 'data-verdict="SKIPPED"' in plan and "already queued" in plan
    assert 'id="confirm-replay"' not in plan  # nothing to replay: nothing to confirm


@pytest.mark.both_databases
def test_messages_are_parked_and_discarded_through_the_api_and_the_pages(shop, unique):
    number = str(shop.send(unique, [line("L1", 2)]).OrderNumber)
    (row,) = outbox_rows(shop, number)
    oid, mid = row.id, row.message_id
    assert row.status == "READY"
    operator = signed_in(shop.gw.base, "operator")
    viewer = signed_in(shop.gw.base, "viewer")

    body = {"id": [oid], "reason": "WMS01 asked for a pause"}
    assert viewer.send("POST", "/messages/park", body).status_code == 403
    assert operator.send("POST", "/messages/park", body, csrf=False).status_code == 403
    unsaid = operator.send("POST", "/messages/park", {"id": [oid]})
    assert unsaid.status_code == 400 and unsaid.json()["error"]["code"] == "MISSING_KEY"
    dry = operator.send("POST", "/messages/park", {**body, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["parked"] == 1
    assert outbox_rows(shop, number)[0].status == "READY"
    parked_now = operator.send("POST", "/messages/park", body)
    assert parked_now.status_code == 200 and parked_now.json()["parked"] == 1
    assert outbox_rows(shop, number)[0].status == "PARKED"
    assert ("operator", "park", mid) in audit(shop, "outbox")

    # a fulfillment request is discarded only with force: its lines would wait on nothing
    refused = operator.send("POST", "/messages/discard", {"id": [oid], "reason": "gone"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "DISCARD_INCOMPLETE"
    assert outbox_rows(shop, number)[0].status == "PARKED"

    page = operator.page(f"/messages/{oid}").text
    assert 'id="discard"' in page and 'id="park"' not in page  # parked: nothing to park
    confirm = operator.page("/messages/discard", id=str(oid)).text
    assert 'id="confirm-discard"' in confirm and 'id="force"' in confirm
    assert 'data-verdict="REFUSED"' in confirm and 'id="reason"' in confirm
    kept = operator.submit("/messages/discard", {"id": oid, "reason": "gone"})
    assert "nothing was discarded" in requests.utils.unquote(kept.headers["Location"])
    done = operator.submit("/messages/discard", {"id": oid, "reason": "gone", "force": "1"})
    assert done.status_code == 303 and done.headers["Location"].startswith(
        f"/manage/messages/{oid}"
    )
    assert "1 message(s) discarded" in requests.utils.unquote(done.headers["Location"])
    assert outbox_rows(shop, number)[0].status == "DISCARDED"
    history = operator.get(f"/messages/{oid}").json()["history"]
    assert [(h["actor"], h["action"]) for h in history] == [("operator", "park"),
                                                            ("operator", "discard")]  # fmt: skip

    # from a list: park READY ones of an order, confirmed on the page
    other = str(shop.send(f"{unique}B", [line("L1", 1)]).OrderNumber)
    listing = operator.page("/messages", order=other).text
    assert 'id="park"' in listing and 'id="discard"' in listing
    plan = operator.page("/messages/park", order=other, back=f"/messages?order={other}").text
    assert 'id="confirm-park"' in plan and 'data-verdict="PARKED"' in plan
    (other_row,) = outbox_rows(shop, other)
    moved = operator.submit("/messages/park", {"id": other_row.id, "reason": "pause"})
    assert moved.status_code == 303 and outbox_rows(shop, other)[0].status == "PARKED"


def test_staged_work_in_error_is_retried_and_discarded(shop):
    with shop.gw.runtime.sessions() as s, s.begin():
        rows = [
            StagedOrder(source_system="LEGACY", source_order_id=f"STG{i}", revision="1",
                        payload_json="{}", status="ERROR", error_code="SCHEMA_INVALID",
                        error_message="<b>bad</b> payload")
            for i in range(2)
        ]  # fmt: skip
        s.add_all(rows)
        s.flush()
        first, second = rows[0].id, rows[1].id
    viewer = signed_in(shop.gw.base, "viewer")
    operator = signed_in(shop.gw.base, "operator")
    listed = viewer.get("/staged").json()
    assert {(r["kind"], r["id"]) for r in listed} >= {("order", first), ("order", second)}
    page = viewer.page("/staged").text
    assert f'data-staged="order-{first}"' in page and "&lt;b&gt;bad" in page
    assert "Retry</button>" not in page  # a viewer sees no buttons
    assert viewer.send("POST", f"/staged/order/{first}/retry").status_code == 403

    retried = operator.send("POST", f"/staged/order/{first}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "STAGED"
    twice = operator.send("POST", f"/staged/order/{first}/retry")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "STAGED_NOT_IN_ERROR"
    assert operator.send("POST", f"/staged/order/{second}/discard", {}).status_code == 400
    assert operator.send("POST", "/staged/pigeon/1/retry").status_code == 400
    done = operator.submit(f"/staged/order/{second}/discard", {"reason": "sent anew"})
    assert done.status_code == 303 and "is discarded" in requests.utils.unquote(
        done.headers["Location"]
    )
    assert audit(shop, "staged order") == [
        ("operator", "retry", str(first)), ("operator", "discard", str(second))
    ]  # fmt: skip


def test_the_traffic_pages_need_a_session_and_answer_json_errors(shop):
    for path in ("/orders", "/messages", "/messages/inbound", "/staged"):
        answer = requests.get(f"{shop.gw.base}/manage{path}", allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and "/manage/login" in answer.headers["Location"]
    none = requests.get(f"{shop.gw.base}/manage/api/v1/orders", timeout=10)
    assert none.status_code == 401
    page = Console(shop.gw.base)
    page.sign_in("viewer")
    missing = page.page("/orders/NO-SUCH")
    assert missing.status_code == 404 and "ORDER_NOT_FOUND" in missing.text
