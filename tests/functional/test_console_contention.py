"""The console under load: when another writer holds the database the caller is told it
was busy, that nothing was applied and that sending it again is safe; a body over the
size limit is refused in the API's JSON shape. Neither is a bare 500."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.persistence import db
from gateway.server import asgi_app
from tests.common.console import signed_in
from tests.conftest import make_settings, seeded, serving


def test_a_change_that_gets_no_write_turn_is_answered_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}")
    with serving(settings) as gw:
        console = signed_in(gw.base, "operator")
        monkeypatch.setattr(db, "_WAIT_SECONDS", 0.3)
        with gw.runtime.sessions() as s, s.begin():
            s.execute(select(1))  # holds the write turn until the block ends
            api = console.send("POST", "/jeopardy/check")
            page = console.submit("/jeopardy/check", {})
        assert api.status_code == 503, api.text
        error = api.json()["error"]
        assert error["code"] == "DATABASE_BUSY"
        assert "nothing was applied" in error["message"]
        assert api.headers.get("Retry-After") == "1"
        assert page.status_code == 503 and "nothing was applied" in page.text


def _post_through_the_front(app: Any, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One POST through the ASGI front gunicorn runs (the size limit lives there)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 40000),
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_a_body_over_the_limit_is_refused_in_the_api_s_own_words(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}")
    with seeded(replace(settings, max_body_bytes=1024)) as runtime:
        app = asgi_app(runtime)
        big = json.dumps({"reason": "x" * 4096}).encode()
        status, headers, out = _post_through_the_front(app, "/manage/api/v1/messages/park", big)
    assert status == 413, out
    assert headers["content-type"].startswith("application/json")
    assert json.loads(out)["error"]["code"] == "REQUEST_TOO_LARGE"
