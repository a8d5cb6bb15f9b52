"""The console when another writer holds the database: the caller is told it was busy,
that nothing was applied and that sending it again is safe, not a bare 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.persistence import db
from tests.common.console import signed_in
from tests.conftest import make_settings, serving


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
