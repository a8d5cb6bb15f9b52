"""Odd input to the console's API, as a fuzzer sends it (schemathesis found these): each
is the caller's mistake, so each is answered 4xx in the JSON error shape, never a 500,
and changes nothing. Read-only probes against the shared gateway."""

from __future__ import annotations

from typing import Any

import pytest

from tests.common.console import signed_in
from tests.conftest import Gateway

#: past SQLite's and PostgreSQL's 64-bit integers; and digits that are not ASCII
HUGE = "9" * 30
NOT_ASCII = "\u00b2"  # "²": str.isdigit() says yes, int() says no


def _refused(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] and error["message"]
    return error


@pytest.mark.parametrize(
    "path",
    [
        f"/messages/inbound/{HUGE}",
        f"/routing/versions/{HUGE}",
        f"/messages/{HUGE}",
        f"/messages/{NOT_ASCII}",
    ],
)
def test_an_id_no_row_can_have_is_not_found(gateway: Gateway, path: str) -> None:
    console = signed_in(gateway.base, "viewer")
    _refused(console.get(path), 404)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/messages/replay", {"id": [HUGE], "dry_run": True}),
        ("/messages/replay", {"id": [int(HUGE)], "dry_run": True}),
        ("/messages/replay", {"id": [NOT_ASCII], "dry_run": True}),
        ("/messages/park", {"id": [NOT_ASCII], "reason": "r", "dry_run": True}),
        ("/orders/1/holds", {"hold": "X", "line": NOT_ASCII}),
        ("/orders/1/holds", {"hold": "X", "line": int(HUGE)}),
    ],
)
def test_an_id_that_is_no_number_a_row_can_have_is_refused(
    gateway: Gateway, path: str, body: dict[str, Any]
) -> None:
    console = signed_in(gateway.base, "operator")
    _refused(console.send("POST", path, body), 400)


def test_a_staged_row_id_past_any_row_is_not_found(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "operator")
    _refused(console.send("POST", f"/staged/order/{HUGE}/retry"), 404)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/messages/replay", {"kind": [None, None], "dry_run": True}),
        ("/messages/replay", {"status": ["PARKED"], "dry_run": True}),
        ("/messages/replay", {"connector": {"a": 1}, "dry_run": True}),
        ("/messages/replay", {"message_id": [{"a": 1}], "dry_run": True}),
        ("/messages/park", {"kind": 5, "reason": "r", "dry_run": True}),
        ("/messages/park", {"order": "NO-SUCH-ORDER", "reason": [None, None]}),
        ("/messages/discard", {"order": "NO-SUCH-ORDER", "reason": {"why": "x"}}),
        # an empty object or list is no "false": it must not turn a dry run into a real one
        ("/messages/replay", {"order": "NO-SUCH-ORDER", "dry_run": {}}),
        ("/messages/park", {"order": "NO-SUCH-ORDER", "reason": "r", "dry_run": []}),
        ("/messages/discard", {"id": [1], "reason": "r", "force": {}, "dry_run": True}),
    ],
)
def test_a_message_change_with_values_of_the_wrong_type_is_refused(
    gateway: Gateway, path: str, body: dict[str, Any]
) -> None:
    console = signed_in(gateway.base, "operator")
    error = _refused(console.send("POST", path, body), 400)
    assert error["code"] == "PARAMETER_INVALID"


def test_a_method_a_route_does_not_take_is_405_naming_those_it_does(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "viewer")
    answer = console.http.request("TRACE", console.url("/api/v1/connectors"), timeout=10)
    error = _refused(answer, 405)
    assert error["code"] == "METHOD_NOT_ALLOWED"
    allowed = {m.strip() for m in answer.headers.get("Allow", "").split(",")}
    assert {"GET", "POST"} <= allowed


def test_a_rollback_to_a_version_past_any_row_is_refused(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "admin")
    answer = console.send("POST", "/routing/rollback", {"version": int(HUGE)})
    assert _refused(answer, 400)["code"] == "INVALID_VALUE"
