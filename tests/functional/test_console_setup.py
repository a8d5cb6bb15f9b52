"""The console's setup area over HTTP on 127.0.0.1: connectors with their health, the
wallet (passwords write-only), trigger points, users (the last ADMIN kept), and the
audit log; each change refused to a lower role and without the CSRF token, made as
the console user and audited. Routing has tests of its own (test_console_routing.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.persistence.models import AuditEntry, ConsoleSession, User, WalletEntry
from tests.common.console import Console, signed_in
from tests.conftest import Gateway, make_settings, serving

SECRET = "Wallet-Secret-7f3a9c"
USER_SECRET = "User-Secret-51d2e8"


@pytest.fixture
def own(fresh_database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of its own: these tests change the setup others read."""
    with serving(make_settings(tmp_path / "home", fresh_database_url)) as running:
        yield running


def _audit(gw: Gateway) -> list[AuditEntry]:
    with gw.runtime.read_sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _refused_below_admin_and_without_csrf(
    gw: Gateway, method: str, path: str, body: object = None
) -> None:
    operator = signed_in(gw.base, "operator")
    lower = operator.send(method, path, body)
    assert lower.status_code == 403 and lower.json()["error"]["code"] == "AUTH_FORBIDDEN"
    admin = signed_in(gw.base, "admin")
    forged = admin.send(method, path, body, csrf=False)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "CSRF_FAILED"


def test_connectors_are_listed_with_their_health_and_source_systems(gateway: Gateway) -> None:
    viewer = signed_in(gateway.base, "viewer")
    answer = viewer.get("/connectors")
    assert answer.status_code == 200
    connectors = {c["name"]: c for c in answer.json()["connectors"]}
    wms = connectors["WMS01_Fulfillment"]
    assert wms["target_system"] == "WMS01" and wms["enabled"] is True
    assert set(wms["health"]) >= {"breaker", "ready", "parked"}
    assert wms["health"]["breaker"] in ("CLOSED", "OPEN", "HALF_OPEN")
    systems = {s["code"]: s for s in viewer.get("/source-systems").json()["source_systems"]}
    assert systems["WMS01"]["connectors"] == ["WMS01_Fulfillment"]
    assert systems["LEGACY"]["order_capture"] is True
    page = viewer.page("/connectors")
    assert page.status_code == 200 and 'data-connector="WMS01_Fulfillment"' in page.text
    assert 'id="connector-form"' not in page.text  # a viewer gets no editor


def test_an_admin_adds_changes_disables_and_removes_a_connector(own: Gateway) -> None:
    admin = signed_in(own.base, "admin")
    body = {"name": "C1", "target_system": "WMS01", "url": "http://127.0.0.1:9/c1"}
    _refused_below_admin_and_without_csrf(own, "POST", "/connectors", body)
    made = admin.send("POST", "/connectors", body)
    assert made.status_code == 200, made.text
    assert made.json()["changes"][0]["action"] == "create"
    again = admin.send("POST", "/connectors", body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_EXISTS"
    changed = admin.send("PATCH", "/connectors/C1", {"timeout": 5, "retry": {"max_attempts": 2}})
    assert changed.status_code == 200, changed.text
    got = admin.get("/connectors/C1").json()
    assert got["timeout"] == 5 and got["retry"]["max_attempts"] == 2
    assert got["retry"]["base_delay"] == 2.0  # the fields not given are kept
    bad = admin.send("PATCH", "/connectors/C1", {"url": "ftp://x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_VALUE"
    _refused_below_admin_and_without_csrf(own, "POST", "/connectors/C1/disable")
    assert admin.send("POST", "/connectors/C1/disable").status_code == 200
    assert admin.get("/connectors/C1").json()["enabled"] is False
    assert admin.send("POST", "/connectors/C1/enable").status_code == 200
    assert admin.get("/connectors/C1").json()["enabled"] is True
    _refused_below_admin_and_without_csrf(own, "DELETE", "/connectors/C1")
    assert admin.send("DELETE", "/connectors/C1").status_code == 200
    assert admin.get("/connectors/C1").status_code == 404
    actions = [(e.actor, e.action, e.entity, e.entity_key) for e in _audit(own)[-5:]]
    assert actions == [
        ("admin", "create", "connector", "C1"),
        ("admin", "update", "connector", "C1"),
        ("admin", "update", "connector", "C1"),
        ("admin", "update", "connector", "C1"),
        ("admin", "delete", "connector", "C1"),
    ]


def test_the_connector_page_form_registers_one_and_shows_its_description_escaped(
    own: Gateway,
) -> None:
    admin = signed_in(own.base, "admin")
    form = {
        "name": "C2",
        "target_system": "WMS01",
        "url": "http://127.0.0.1:9/c2",
        "description": '<script>alert("x")</script>',
        "auth": "USERNAME_TOKEN",
        "invocation_mode": "ASYNC_SERVICE",
        "response_processing": "REJECT_ALL_ON_FIRST_ERROR",
        "timeout": "30",
        "enabled": "on",
        "tls_verify": "on",
    }
    refused = admin.submit("/connectors", form, csrf=False)
    assert refused.status_code == 403
    done = admin.submit("/connectors", form)
    assert done.status_code == 303, done.text
    assert done.headers["Location"].startswith("/manage/connectors?notice=")
    page = admin.page("/connectors")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    edit = admin.page("/connectors", edit="C2")
    assert 'action="/manage/connectors/C2"' in edit.text
    changed = admin.submit("/connectors/C2", {**form, "description": "plain", "enabled": ""})
    assert changed.status_code == 303
    got = admin.get("/connectors/C2").json()
    assert got["description"] == "plain" and got["enabled"] is False


def test_a_wallet_secret_is_written_and_never_shown_logged_or_audited(
    own: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = signed_in(own.base, "admin")
    body = {"key": "wms01", "username": "svc-wms", "password": SECRET}
    _refused_below_admin_and_without_csrf(own, "POST", "/wallet", body)
    made = admin.send("POST", "/wallet", body)
    assert made.status_code == 200, made.text
    answers = [made.text]
    listed = admin.get("/wallet")
    answers.append(listed.text)
    (entry,) = listed.json()["entries"]
    assert entry["username"] == "svc-wms" and entry["credential_map"] == "oracle.wsm.security"
    assert "password" not in entry
    rotated = admin.send(
        "POST", "/wallet/oracle.wsm.security/wms01/rotate", {"password": SECRET + "-2"}
    )
    assert rotated.status_code == 200, rotated.text
    answers.append(rotated.text)
    # refusals do not echo what was sent
    for refused in (
        admin.send("POST", "/wallet", {"key": "k\x00", "username": "u", "password": SECRET}),
        admin.send("POST", "/wallet/oracle.wsm.security/nope/rotate", {"password": SECRET}),
        admin.send("POST", "/wallet", {**body, "client_certificate": SECRET, "client_key": SECRET}),
    ):
        assert refused.status_code in (400, 404), refused.text
        answers.append(refused.text)
    # the page form: the password field is write-only too
    submitted = admin.submit(
        "/wallet", {"credential_map": "m2", "key": "k2", "username": "u2", "password": SECRET}
    )
    assert submitted.status_code == 303
    answers.append(submitted.headers["Location"])
    page = admin.page("/wallet")
    answers.append(page.text)
    assert 'id="wallet"' in page.text and "svc-wms" in page.text
    viewer = signed_in(own.base, "viewer")
    assert viewer.get("/wallet").status_code == 200
    for text in answers:
        assert SECRET not in text
    audit = admin.get("/audit", entity="wallet").json()["entries"]
    assert [e["action"] for e in audit] == ["create", "update", "create"]
    assert all(e["actor"] == "admin" for e in audit)
    answers.append(admin.page("/audit").text)
    for row in _audit(own):
        assert SECRET not in (row.before_json or "") + (row.after_json or "")
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert all(SECRET not in text for text in answers)
    # the entry still opens with the rotated password and the same user name
    from gateway.registry.wallet_store import Wallet

    with own.runtime.read_sessions() as s:
        credential = Wallet(s, own.runtime.secret_box).credential("oracle.wsm.security", "wms01")
        assert (credential.username, credential.password) == ("svc-wms", SECRET + "-2")
        assert s.scalar(select(WalletEntry.key).where(WalletEntry.key == "k2")) == "k2"


def test_trigger_points_are_listed_set_and_removed(own: Gateway) -> None:
    admin = signed_in(own.base, "admin")
    body = {"event": "hold", "send_email": True, "email_to": ["ops@example.com"]}
    _refused_below_admin_and_without_csrf(own, "PUT", "/trigger-points", body)
    done = admin.send("PUT", "/trigger-points", body)
    assert done.status_code == 200, done.text
    (point,) = signed_in(own.base, "viewer").get("/trigger-points").json()["trigger_points"]
    assert point["event"] == "HOLD" and point["email_to"] == ["ops@example.com"]
    assert point["raise_event"] is True
    # the options not given keep their stored values
    admin.send("PUT", "/trigger-points", {"event": "HOLD", "raise_event": False})
    (point,) = admin.get("/trigger-points").json()["trigger_points"]
    assert point["raise_event"] is False and point["email_to"] == ["ops@example.com"]
    wrong = admin.send(
        "PUT", "/trigger-points", {"event": "HOLD", "connectors": ["WMS01_Fulfillment"]}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "CONNECTOR_NOT_EVENT"
    page = admin.page("/triggers")
    assert 'data-trigger="HOLD"' in page.text
    removed = admin.submit("/triggers/remove", {"event": "HOLD", "criterion": ""})
    assert removed.status_code == 303
    assert admin.get("/trigger-points").json()["trigger_points"] == []
    keys = [(e.actor, e.entity, e.action) for e in _audit(own) if e.entity == "trigger_point"]
    assert keys == [("admin", "trigger_point", a) for a in ("create", "update", "delete")]


def _user_hash(gw: Gateway, name: str) -> str:
    with gw.runtime.read_sessions() as s:
        return s.scalar(select(User.password_hash).where(User.username == name)) or ""


def test_users_are_listed_without_passwords_and_only_to_admins(own: Gateway) -> None:
    admin = signed_in(own.base, "admin")
    answer = admin.get("/users")
    assert answer.status_code == 200
    users = {u["username"]: u for u in answer.json()["users"]}
    assert users["warehouse"]["systems"] == ["WMS01", "WMSANY", "WMSGRP"]
    assert users["admin"]["console_role"] == "ADMIN"
    assert _user_hash(own, "admin") not in answer.text and "scrypt" not in answer.text
    page = admin.page("/users")
    assert 'id="users"' in page.text and "scrypt" not in page.text
    operator = signed_in(own.base, "operator")
    assert operator.get("/users").status_code == 403
    assert operator.page("/users").status_code == 403


def test_an_admin_adds_a_user_changes_it_and_its_sessions_end(
    own: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = signed_in(own.base, "admin")
    body = {"username": "ann", "password": USER_SECRET, "roles": ["VIEWER"], "systems": ["WMS01"]}
    _refused_below_admin_and_without_csrf(own, "POST", "/users", body)
    made = admin.send("POST", "/users", body)
    assert made.status_code == 200, made.text
    short = admin.send("POST", "/users", {**body, "username": "bob", "password": "short"})
    assert short.status_code == 400 and "short" not in short.text
    ann = signed_in(own.base, "ann", USER_SECRET)
    assert ann.get("/status").status_code == 200
    # roles change: her session ends
    _refused_below_admin_and_without_csrf(own, "PUT", "/users/ann/roles", {"roles": ["OPERATOR"]})
    assert admin.send("PUT", "/users/ann/roles", {"roles": ["OPERATOR"]}).status_code == 200
    assert ann.get("/status").status_code == 401
    ann = signed_in(own.base, "ann", USER_SECRET)
    # password change: her session ends, the new password signs in
    new = {"password": USER_SECRET + "-2"}
    assert admin.send("POST", "/users/ann/password", new).status_code == 200
    assert ann.get("/status").status_code == 401
    assert Console(own.base).sign_in("ann", USER_SECRET).status_code == 401
    ann = signed_in(own.base, "ann", USER_SECRET + "-2")
    # bindings
    assert admin.send("POST", "/users/ann/bind", {"systems": ["WMSANY"]}).status_code == 200
    assert admin.send("POST", "/users/ann/unbind", {"systems": ["WMS01"]}).status_code == 200
    unknown = admin.send("POST", "/users/ann/bind", {"systems": ["NOPE"]})
    assert unknown.status_code == 404
    (got,) = [u for u in admin.get("/users").json()["users"] if u["username"] == "ann"]
    assert got["systems"] == ["WMSANY"] and got["roles"] == ["OPERATOR"]
    # removal: her session ends
    _refused_below_admin_and_without_csrf(own, "DELETE", "/users/ann")
    assert admin.send("DELETE", "/users/ann").status_code == 200
    assert ann.get("/status").status_code == 401
    with own.runtime.read_sessions() as s:
        assert s.scalar(select(ConsoleSession).where(ConsoleSession.username == "ann")) is None
    rows = [e for e in _audit(own) if e.entity == "user" and e.entity_key == "ann"]
    assert [(e.actor, e.action) for e in rows] == [("admin", "create")] + [
        ("admin", "update")
    ] * 4 + [("admin", "delete")]
    for row in rows:
        text = (row.before_json or "") + (row.after_json or "")
        assert USER_SECRET not in text and "scrypt" not in text
    assert all(USER_SECRET not in r.getMessage() for r in caplog.records)


def test_the_users_page_forms_add_and_remove_a_user(own: Gateway) -> None:
    admin = signed_in(own.base, "admin")
    form = {"username": "carl", "password": USER_SECRET, "roles": ["VIEWER", "ORDER_IMPORT"]}
    done = admin.submit("/users", form)
    assert done.status_code == 303 and USER_SECRET not in done.headers["Location"]
    page = admin.page("/users")
    assert 'data-user="carl"' in page.text and USER_SECRET not in page.text
    (carl,) = [u for u in admin.get("/users").json()["users"] if u["username"] == "carl"]
    assert carl["roles"] == ["ORDER_IMPORT", "VIEWER"]
    assert admin.submit("/users/carl/remove", {}).status_code == 303
    assert 'data-user="carl"' not in admin.page("/users").text


def test_the_last_admin_can_be_neither_removed_nor_demoted(own: Gateway) -> None:
    admin = signed_in(own.base, "admin")
    # "all" holds every role, ADMIN among them: make admin the only one
    assert admin.send("PUT", "/users/all/roles", {"roles": ["ORDER_IMPORT"]}).status_code == 200
    demoted = admin.send("PUT", "/users/admin/roles", {"roles": ["VIEWER"]})
    assert demoted.status_code == 409 and demoted.json()["error"]["code"] == "LAST_ADMIN"
    removed = admin.send("DELETE", "/users/admin")
    assert removed.status_code == 409 and removed.json()["error"]["code"] == "LAST_ADMIN"
    page = admin.submit("/users/admin/remove", {})
    assert page.status_code == 409 and "LAST_ADMIN" in page.text
    assert admin.get("/users").status_code == 200  # still an admin, still signed in
    # with a second admin, the first may go
    assert admin.send("PUT", "/users/all/roles", {"roles": ["ADMIN"]}).status_code == 200
    assert admin.send("PUT", "/users/admin/roles", {"roles": ["VIEWER"]}).status_code == 200
    assert admin.get("/users").status_code == 401  # the session ended with the role


def test_the_audit_log_is_filtered_by_entity_actor_and_since(own: Gateway) -> None:
    admin = signed_in(own.base, "admin")
    admin.send("POST", "/connectors/WMS01_Fulfillment/disable")
    viewer = signed_in(own.base, "viewer")
    entries = viewer.get("/audit", entity="connector", actor="admin").json()["entries"]
    assert [(e["key"], e["action"]) for e in entries] == [("WMS01_Fulfillment", "update")]
    assert entries[0]["before"]["enabled"] is True and entries[0]["after"]["enabled"] is False
    assert viewer.get("/audit", actor="nobody").json()["entries"] == []
    assert viewer.get("/audit", since="2999-01-01").json()["entries"] == []
    assert len(viewer.get("/audit", since="2000-01-01").json()["entries"]) >= 1
    bad = viewer.get("/audit", since="yesterday")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "PARAMETER_INVALID"
    page = viewer.page("/audit", entity="connector")
    assert page.status_code == 200 and 'id="audit"' in page.text
    assert "WMS01_Fulfillment" in page.text
    json.dumps(entries)
