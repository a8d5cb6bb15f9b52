"""Routing in the console over HTTP on 127.0.0.1: the draft edited rule by rule (API and
the page's form), its difference from the version in use, explain, publish and
rollback with its guard, each change refused to a lower role and without the CSRF
token, audited under the console user; and a change made here routes a real order
taken over SOAP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.persistence.models import AuditEntry, FulfillmentRequest, OrderHeader
from tests.common.console import signed_in
from tests.common.orders import order
from tests.common.soap import client
from tests.conftest import Gateway, make_settings, serving


@pytest.fixture
def own(fresh_database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of its own: publishing routing must not reroute other tests' orders."""
    with serving(make_settings(tmp_path / "home", fresh_database_url)) as running:
        yield running


def _explain(console, **params: str) -> dict:
    answer = console.get("/routing/explain", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_rule_edited_in_the_draft_shows_in_the_diff_explains_publishes_and_rolls_back(
    own: Gateway,
) -> None:
    admin = signed_in(own.base, "admin")
    operator = signed_in(own.base, "operator")
    rule = {"id": "CM", "condition": 'Item = "CM5008"', "connector": "WMS01_Fulfillment",
            "priority": 10}  # fmt: skip
    assert operator.send("POST", "/routing/draft/rules", rule).status_code == 403
    assert admin.send("POST", "/routing/draft/rules", rule, csrf=False).status_code == 403
    made = admin.send("POST", "/routing/draft/rules", rule)
    assert made.status_code == 200, made.text
    bad = admin.send("POST", "/routing/draft/rules", {**rule, "id": "X", "condition": "Nope = 1"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "RULES_INVALID"
    diff = operator.get("/routing/diff").json()["diff"]
    assert [(d["kind"], d["key"], d["change"]) for d in diff] == [("rule", "CM", "added")]
    assert admin.send("POST", "/routing/publish", csrf=False).status_code == 403
    assert operator.send("POST", "/routing/publish").status_code == 403
    first = admin.send("POST", "/routing/publish").json()
    assert first["current"] == 1
    assert operator.get("/routing/diff").json()["diff"] == []
    line = {"Item": "CM5008", "TaskType": "Shipment"}
    assert _explain(operator, **line)["decision"]["connector"] == "WMS01_Fulfillment"

    # change the rule's connector in the draft: the diff shows it, routing does not yet
    changed = admin.send("PATCH", "/routing/draft/rules/CM", {"connector": "WMSGRP_Fulfillment"})
    assert changed.status_code == 200, changed.text
    (item,) = operator.get("/routing/diff").json()["diff"]
    assert (item["change"], item["fields"]) == ("changed", ["connector"])
    assert item["before"]["connector"] == "WMS01_Fulfillment"
    assert item["after"]["connector"] == "WMSGRP_Fulfillment"
    assert _explain(operator, **line)["decision"]["connector"] == "WMS01_Fulfillment"
    assert _explain(operator, draft="true", **line)["decision"]["connector"] == (
        "WMSGRP_Fulfillment"
    )
    assert admin.send("POST", "/routing/publish").json()["current"] == 2
    explained = _explain(operator, **line)
    assert explained["decision"] == {
        "connector": "WMSGRP_Fulfillment", "rule": "CM", "by_default": False,
        "reason": explained["decision"]["reason"], "where_shipped": False,
    }  # fmt: skip
    assert explained["version"] == 2 and explained["rules"][0]["outcome"] == "winner"

    # rollback: refused over unpublished draft edits unless they are dropped
    admin.send("DELETE", "/routing/draft/rules/CM")
    guarded = admin.send("POST", "/routing/rollback", {"version": 1})
    assert guarded.status_code == 409
    assert guarded.json()["error"]["code"] == "DRAFT_UNPUBLISHED"
    assert operator.send("POST", "/routing/rollback", {"version": 1}).status_code == 403
    done = admin.send("POST", "/routing/rollback", {"version": 1, "discard_draft": True})
    assert done.status_code == 200, done.text
    assert done.json()["version"] == 3 and done.json()["rollback_of"] == 1
    assert _explain(operator, **line)["decision"]["connector"] == "WMS01_Fulfillment"
    versions = operator.get("/routing/versions").json()["versions"]
    assert [(v["version"], v["in_use"]) for v in versions] == [(1, False), (2, False), (3, True)]
    with own.runtime.read_sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.entity.like("rule%")))
        audited = [(e.actor, e.entity, e.action) for e in rows]
    assert ("admin", "rule_set_version", "create") in audited
    assert all(actor == "admin" for actor, _e, _a in audited)


def test_the_routing_page_edits_publishes_explains_and_rolls_back_by_its_forms(
    own: Gateway,
) -> None:
    admin = signed_in(own.base, "admin")
    form = {"mode": "create", "id": "P1", "condition": 'Item = "AS1"',
            "connector": "WMSANY_Fulfillment", "priority": "5", "active": "on"}  # fmt: skip
    assert admin.submit("/routing/rules", form, csrf=False).status_code == 403
    assert admin.submit("/routing/rules", form).status_code == 303
    page = admin.page("/routing")
    for marker in ('id="rules"', 'id="rule-form"', 'id="publish"', 'id="explain"',
                   'data-rule="P1"', 'data-diff="rule:P1"'):  # fmt: skip
        assert marker in page.text, marker
    assert admin.submit("/routing/publish", {}).status_code == 303
    edit = admin.page("/routing", edit="P1")
    assert 'name="mode" value="update"' in edit.text
    updated = admin.submit(
        "/routing/rules", {**form, "mode": "update", "connector": "WMS01_Fulfillment"}
    )
    assert updated.status_code == 303
    assert admin.submit("/routing/publish", {}).status_code == 303
    explained = admin.page("/routing", explain="1", Item="AS1", TaskType="Shipment")
    assert 'id="explain-result"' in explained.text
    assert 'data-connector="WMS01_Fulfillment"' in explained.text
    assert 'id="rollback"' in explained.text
    rolled = admin.submit("/routing/rollback", {"version": "1"})
    assert rolled.status_code == 303, rolled.text
    explained = admin.page("/routing", explain="1", Item="AS1", TaskType="Shipment")
    assert 'data-connector="WMSANY_Fulfillment"' in explained.text
    wrong = admin.page("/routing", explain="1", OrderedQuantity="many")
    assert wrong.status_code == 200 and "INVALID_VALUE" in wrong.text
    viewer = signed_in(own.base, "viewer")
    seen = viewer.page("/routing")
    assert 'id="rules"' in seen.text and 'id="rule-form"' not in seen.text
    assert 'id="publish"' not in seen.text


def test_a_routing_change_made_in_the_console_routes_a_real_order(
    own: Gateway, unique: str
) -> None:
    admin = signed_in(own.base, "admin")
    rule = {"id": "ALL", "condition": 'TaskType = "Shipment"', "connector": "WMS01_Fulfillment"}
    assert admin.send("POST", "/routing/draft/rules", rule).status_code == 200
    assert admin.send("POST", "/routing/publish").status_code == 200
    imports = client(own.base, "OrderImportService")

    def system_of(key: str) -> set[str | None]:
        result = imports.service.createOrders(request={"Order": [order(key, [("CM5008", 1)])]})
        number = str(result[0].OrderNumber)
        with own.runtime.read_sessions() as s:
            header = s.scalar(select(OrderHeader).where(OrderHeader.order_number == number))
            assert header is not None
            return {
                s.get(FulfillmentRequest, f.request_id).fulfillment_system  # type: ignore[union-attr]
                for line in header.lines
                for f in line.fulfill_lines
                if f.request_id
            }

    assert system_of(f"{unique}A") == {"WMS01"}
    changed = admin.send("PATCH", "/routing/draft/rules/ALL", {"connector": "WMSGRP_Fulfillment"})
    assert changed.status_code == 200
    assert system_of(f"{unique}B") == {"WMS01"}  # the draft routes nothing
    assert admin.send("POST", "/routing/publish").status_code == 200
    assert system_of(f"{unique}C") == {"WMSGRP"}
