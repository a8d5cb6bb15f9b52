"""The console's door: off until an admin exists, sign-in under the services' lockout,
a session cookie that is HttpOnly and SameSite, CSRF on every change, roles, idle and
revoked sessions, safe redirects, and the answers' security headers. Each test talks
HTTP to a real server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text, update

from gateway.persistence.models import ConsoleSession, User, utcnow
from tests.common.console import Console, signed_in
from tests.common.soap import PASSWORD
from tests.conftest import Gateway, make_settings, seeded, served, serving


def _user(gateway: Gateway, name: str, roles: str) -> None:
    """A user of this test's own (the shared gateway's users are left as they are)."""
    from gateway.security.passwords import hash_password

    with gateway.runtime.sessions() as s, s.begin():
        s.add(User(username=name, password_hash=hash_password(PASSWORD), roles=roles))


def test_the_console_is_off_until_a_user_holds_admin(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}")
    with seeded(settings) as runtime:
        with runtime.sessions() as s, s.begin():
            s.execute(update(User).values(roles="ORDER_IMPORT"))
        with served(runtime) as base:
            page = requests.get(f"{base}/manage/", timeout=10)
            api = requests.get(f"{base}/manage/api/v1/status", timeout=10)
            assert page.status_code == 404 and "omgw user add NAME --role ADMIN" in page.text
            assert api.status_code == 404
            assert api.json()["error"]["code"] == "CONSOLE_OFF"
            with runtime.sessions() as s, s.begin():
                s.execute(update(User).where(User.username == "all").values(roles="ADMIN"))
            # the check is cached for a few seconds; a new front reads it at once
        with served(runtime) as base:
            assert requests.get(f"{base}/manage/login", timeout=10).status_code == 200


def test_the_console_can_be_turned_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}", console=False)
    with serving(settings) as gw:
        answer = requests.get(f"{gw.base}/manage/login", timeout=10)
        assert answer.status_code == 404
        # the services are not touched by it
        assert requests.get(f"{gw.base}/healthz", timeout=10).text == "ok\n"


def test_the_console_can_have_a_port_of_its_own(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}", console_port=1)
    with serving(settings) as gw:
        answer = requests.get(f"{gw.base}/manage/login", timeout=10)
        assert answer.status_code == 404 and "served on port 1" in answer.text
        wsdl = requests.get(f"{gw.url('OrderImportService')}?WSDL", timeout=10)
        assert wsdl.status_code == 200


def test_a_page_without_a_session_goes_to_the_sign_in_form(gateway: Gateway) -> None:
    answer = requests.get(f"{gateway.base}/manage/?q=1", allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/manage/login?next=/manage/%3Fq%3D1"


def test_signing_in_sets_a_cookie_scripts_and_other_sites_cannot_use(
    gateway: Gateway,
) -> None:
    console = Console(gateway.base)
    answer = console.sign_in("admin")
    assert answer.status_code == 303 and answer.headers["Location"] == "/manage/"
    cookie = next(c for c in answer.headers["Set-Cookie"].split(", omgw") if "omgw_session" in c)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/manage" in cookie
    dashboard = console.page("/")
    assert dashboard.status_code == 200
    assert '<span id="me">admin</span>' in dashboard.text
    # the token itself is never stored: only its hash
    token = console.http.cookies["omgw_session"]
    with gateway.runtime.read_sessions() as s:
        stored = [r.token_hash for r in s.query(ConsoleSession)]
    assert token not in stored and len(stored) >= 1


def test_a_wrong_password_is_refused_and_counted_toward_the_lockout(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}", auth_max_failures=3
    )
    with serving(settings) as gw:
        console = Console(gw.base)
        for _ in range(3):
            refused = console.sign_in("admin", "wrong")
            assert refused.status_code == 401
            assert "unknown user or wrong password" in refused.text
        # locked now: even the right password is refused, as a service call would be
        locked = console.sign_in("admin")
        assert locked.status_code == 401 and "locked" in locked.text
        soap_basic = requests.get(
            f"{gw.base}/manage/api/v1/status", auth=("admin", PASSWORD), timeout=10
        )
        assert soap_basic.status_code == 401


def test_a_user_of_the_services_only_gets_no_session(gateway: Gateway) -> None:
    answer = Console(gateway.base).sign_in("importer")
    assert answer.status_code == 403
    assert "holds no console role" in answer.text


def test_the_sign_in_form_refuses_a_post_from_elsewhere(gateway: Gateway) -> None:
    answer = requests.post(
        f"{gateway.base}/manage/login",
        data={"login_token": "forged", "username": "admin", "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 403 and "omgw_session" not in answer.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/manage/", "/elsewhere", "/manage\\x"]
)
def test_signing_in_never_sends_the_browser_to_another_site(gateway: Gateway, target: str) -> None:
    console = Console(gateway.base)
    form = console.http.get(console.url("/login"), params={"next": target}, timeout=10)
    assert form.status_code == 200
    token = form.text.split('name="login_token" value="')[1].split('"')[0]
    answer = console.http.post(
        console.url("/login"),
        data={"login_token": token, "username": "admin", "password": PASSWORD, "next": target},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/manage/"


def test_a_change_needs_the_session_csrf_token(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "viewer")
    refused = console.submit("/logout", {}, csrf=False)
    assert refused.status_code == 403 and "CSRF_FAILED" in refused.text
    assert console.page("/").status_code == 200  # still signed in
    forged = console.http.post(
        console.url("/logout"),
        data={"csrf": console.csrf},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403
    done = console.submit("/logout", {})
    assert done.status_code == 303 and done.headers["Location"] == "/manage/login"
    assert console.page("/").status_code == 303  # the session is over


def test_the_api_takes_http_basic_without_a_csrf_token(gateway: Gateway) -> None:
    answer = requests.get(
        f"{gateway.base}/manage/api/v1/health", auth=("viewer", PASSWORD), timeout=10
    )
    assert answer.status_code == 200 and answer.json()["checks"]["database"]["ok"] is True
    none = requests.get(f"{gateway.base}/manage/api/v1/health", timeout=10)
    assert none.status_code == 401 and none.json()["error"]["code"] == "AUTH_REQUIRED"
    services_only = requests.get(
        f"{gateway.base}/manage/api/v1/health", auth=("importer", PASSWORD), timeout=10
    )
    assert services_only.status_code == 403
    assert services_only.json()["error"]["code"] == "AUTH_FORBIDDEN"


def test_an_idle_session_ends(gateway: Gateway) -> None:
    _user(gateway, "idler", "VIEWER")
    console = signed_in(gateway.base, "idler")
    assert console.get("/status").status_code == 200
    idle = timedelta(seconds=gateway.runtime.settings.console_idle_seconds + 1)
    with gateway.runtime.sessions() as s, s.begin():
        s.execute(
            update(ConsoleSession)
            .where(ConsoleSession.username == "idler")
            .values(last_seen_at=utcnow() - idle)
        )
    assert console.get("/status").status_code == 401
    assert console.page("/").status_code == 303


def test_taking_away_the_console_role_ends_the_session(gateway: Gateway) -> None:
    _user(gateway, "leaver", "OPERATOR")
    console = signed_in(gateway.base, "leaver")
    assert console.get("/status").status_code == 200
    with gateway.runtime.sessions() as s, s.begin():
        s.execute(update(User).where(User.username == "leaver").values(roles="ORDER_IMPORT"))
    assert console.get("/status").status_code == 401


def test_answers_carry_headers_that_keep_pages_safe(gateway: Gateway) -> None:
    answer = requests.get(f"{gateway.base}/manage/login", timeout=10)
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_console_serves_its_own_files_and_nothing_else(gateway: Gateway) -> None:
    css = requests.get(f"{gateway.base}/manage/static/console.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    for name in ("../web_sessions.py", "..%2Fweb_sessions.py", ".hidden", "nothing.js"):
        assert requests.get(f"{gateway.base}/manage/static/{name}", timeout=10).status_code == 404


def test_the_openapi_description_names_every_api_route(gateway: Gateway) -> None:
    from openapi_spec_validator import validate

    from gateway.manage.web_routes import ROUTES

    doc = requests.get(f"{gateway.base}/manage/api/v1/openapi.json", timeout=10).json()
    validate(doc)
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served_routes = {
        (r.method, r.path.replace("<int:", "{").replace("<", "{").replace(">", "}"))
        for r in ROUTES
        if r.api
    }
    assert described == served_routes
    assert ("GET", "/api/v1/status") in described
    json.dumps(doc)


def test_a_failure_of_ours_is_a_500_with_a_reference_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}")
    with serving(settings) as gw:
        with gw.runtime.sessions() as s, s.begin():  # the status reads break from here on
            s.execute(text("DROP TABLE worker_beats"))
        console = signed_in(gw.base, "viewer")
        answer = console.get("/status")
        assert answer.status_code == 500
        error = answer.json()["error"]
        assert error["code"] == "INTERNAL_ERROR" and "worker_beats" not in error["message"]
        reference = error["message"].rsplit(" ", 1)[1]
        assert any(reference in r.getMessage() for r in caplog.records)
        page = console.page("/")
        assert page.status_code == 500 and "its log has reference" in page.text
