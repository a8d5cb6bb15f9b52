"""A notice (what a change did, shown once on the page a form's POST led to) is the
console's own word: a link crafted elsewhere, ``/manage/?notice=...``, shows none."""

from __future__ import annotations

from pathlib import Path

from tests.common.console import signed_in
from tests.conftest import Gateway, make_settings, serving

FAKE = "Your password expired: send it to helpdesk@example.com"


def test_a_notice_in_a_crafted_link_is_not_shown(gateway: Gateway) -> None:
    viewer = signed_in(gateway.base, "viewer")
    for path in ("/", "/orders", "/messages"):
        page = viewer.page(path, notice=FAKE)
        assert page.status_code == 200
        assert "helpdesk@example.com" not in page.text, path


def test_the_notice_of_a_change_is_shown_to_its_session_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'omgw.db'}")
    with serving(settings) as gw:
        operator = signed_in(gw.base, "operator")
        # a crafted notice carried in where a change's redirect goes back to
        done = operator.submit(
            "/messages/park",
            {"id": ["1", "2"], "reason": "r", "back": f"/messages?notice={FAKE}"},
        )
        assert done.status_code == 303
        shown = operator.http.get(gw.base + done.headers["Location"], timeout=10).text
        assert "nothing was parked" in shown
        assert "helpdesk@example.com" not in shown
        # the same link, opened by another session, shows nothing
        other = signed_in(gw.base, "viewer")
        elsewhere = other.http.get(gw.base + done.headers["Location"], timeout=10).text
        assert "nothing was parked" not in elsewhere
