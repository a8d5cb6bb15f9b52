"""``omgw rule`` and routing in setup files: write, list, publish, roll back, explain,
re-route; what each bad input gets (exit 1 and one clear message, nothing changed)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import create_engine, text

from tests.common.cli import SAMPLE
from tests.conftest import Admin

ITEM_RULE = ("--condition", 'Item = "CM5008" and TaskType = "Shipment"')


def with_sample(admin: Admin) -> None:
    """The sample setup (routing version 1) and a second connector to the warehouse."""
    admin.ok("init", "--sample")
    admin.ok("apply", "-f", str(SAMPLE))
    admin.ok("connector", "add", "WMS01_Bulk", "--target-system", "WMS01",
             "--url", "http://127.0.0.1:9/bulk", "--no-credential")  # fmt: skip


def test_rules_are_written_published_explained_and_rolled_back(admin):
    with_sample(admin)  # publishes version 1: RAVI_PICK, BULK_SHIP, Shipment default
    assert [v["version"] for v in admin.json("rule", "versions")] == [1]
    out = admin.ok("rule", "add", "CM", *ITEM_RULE, "--connector", "WMS01_Bulk",
                   "--priority", "30", "--description", "CM5008 to the bulk desk")  # fmt: skip
    assert out.strip() == "+ routing_rule CM"
    listed = admin.json("rule", "list")
    assert [r["id"] for r in listed["rules"]] == ["CM", "RAVI_PICK", "BULK_SHIP"]  # by rank
    assert listed["defaults"] == {"Shipment": "WMS01_Fulfillment", "Return": "WMS01_Fulfillment"}
    # the draft is not live: version 1 still routes CM5008 to the default
    explained = admin.json("rule", "explain", "--set", "Item=CM5008", "--set", "TaskType=Shipment")
    assert explained["version"] == 1
    assert explained["decision"] == {
        "connector": "WMS01_Fulfillment",
        "rule": None,
        "by_default": True,
        "reason": None,
        "where_shipped": False,
    }
    draft = admin.json(
        "rule", "explain", "--draft", "--set", "Item=CM5008", "--set", "TaskType=Shipment"
    )
    assert draft["decision"]["rule"] == "CM"

    assert admin.ok("rule", "publish").strip() == "published routing version 2 (3 rules)"
    assert admin.ok("rule", "publish").strip() == "nothing to publish: the draft is version 2"
    table = admin.ok(
        "rule", "explain", "--set", "Item=CM5008", "--set", "TaskType=Shipment",
        "--set", "OrderedQuantity=500", "--at", "2027-06-01T00:00:00+02:00",
    )  # fmt: skip
    lines = table.splitlines()
    assert lines[0] == "routing version 2 at 2027-06-01T00:00:00+02:00"
    assert lines[2].split() == ["RULE", "PRIORITY", "OUTCOME", "DETAIL"]
    assert lines[3].split()[:3] == ["CM", "30", "winner"]
    assert " ".join(lines[4].split()) == (
        "RAVI_PICK 20 no match TaskType = \"Pick_From_Ravi\" is false (TaskType is 'Shipment')"
    )
    assert " ".join(lines[5].split()) == "BULK_SHIP 10 matches matches, but CM ranks higher"
    assert lines[-1] == "decision: connector WMS01_Bulk (rule CM)"
    before_new_year = admin.json(
        "rule", "explain", "--set", "Item=X", "--set", "TaskType=Shipment",
        "--set", "OrderedQuantity=500", "--at", "2026-12-31T23:59:59Z",
    )  # fmt: skip
    bulk = next(r for r in before_new_year["rules"] if r["rule"] == "BULK_SHIP")
    assert bulk == {
        "rule": "BULK_SHIP",
        "priority": 10,
        "outcome": "not yet active",
        "detail": "active from 2027-01-01T00:00:00+00:00",
    }

    rolled = admin.ok("rule", "rollback", "1")
    assert rolled.splitlines() == [  # the draft becomes version 1's rules again
        "- routing_rule CM",
        "published routing version 3 (the rules of version 1)",
    ]
    versions = admin.json("rule", "versions")
    assert [(v["version"], v["rollback_of"], v["in_use"]) for v in versions] == [
        (1, None, False),
        (2, None, False),
        (3, 1, True),
    ]
    assert [r["id"] for r in admin.json("rule", "list")["rules"]] == ["RAVI_PICK", "BULK_SHIP"]
    assert next(r["id"] for r in admin.json("rule", "list", "--version", "2")["rules"]) == "CM"
    assert admin.json("rule", "show", "CM", "--version", "2")["connector"] == "WMS01_Bulk"
    audit = admin.json("audit", "list")
    assert {"routing_rule", "rule_set_version"} <= {a["entity"] for a in audit}


def test_update_remove_and_defaults(admin):
    with_sample(admin)
    admin.ok("rule", "add", "CM", *ITEM_RULE, "--connector", "WMS01_Fulfillment")
    out = admin.ok("rule", "update", "CM", "--priority", "7", "--inactive",
                   "--until", "2027-01-01T00:00:00Z")  # fmt: skip
    assert out.strip() == (
        "~ routing_rule CM: active True → False; active_until None → "
        "'2027-01-01T00:00:00+00:00'; priority 0 → 7"
    )
    shown = admin.json("rule", "show", "CM")
    assert (shown["priority"], shown["active"], shown["active_until"]) == (
        7, False, "2027-01-01T00:00:00+00:00",
    )  # fmt: skip
    assert (
        admin.ok("rule", "update", "CM", "--until", "")
        .strip()
        .endswith("active_until '2027-01-01T00:00:00+00:00' → None")
    )
    assert admin.ok("rule", "update", "CM", "--priority", "7").strip() == "no changes"
    assert admin.ok("rule", "default", "Invoice", "WMS01_Fulfillment").strip() == (
        "+ routing_default Invoice"
    )
    assert admin.ok("rule", "default", "Invoice", "--clear").strip() == "- routing_default Invoice"
    assert admin.ok("rule", "remove", "CM").strip() == "- routing_rule CM"
    assert [r["id"] for r in admin.json("rule", "list")["rules"]] == ["RAVI_PICK", "BULK_SHIP"]


def test_what_each_bad_input_gets(admin):
    with_sample(admin)
    cases = [
        (("rule", "add", "R1", "--condition", 'Item = "x" and', "--connector",
          "WMS01_Fulfillment"),
         "rule R1, condition: line 1, column 15: expected an attribute name, 'not' or '(', "
         "found the end"),
        (("rule", "add", "R1", "--condition", 'Itme = "x"', "--connector", "WMS01_Fulfillment"),
         "rule R1, condition: line 1, column 1: unknown attribute 'Itme'"),
        (("rule", "add", "R1", "--condition", 'OrderedQuantity > "lots"', "--connector", "X"),
         'OrderedQuantity is a number; "lots" is not one'),
        (("rule", "add", "R1", "--condition", 'OrderedQuantity = "sNaN"', "--connector", "X"),
         'OrderedQuantity is a number; "sNaN" is not one'),
        (("rule", "add", "R1", "--condition", "(" * 40 + 'Item = "x"' + ")" * 40,
          "--connector", "X"),
         "nested more than 32 deep; simplify the condition"),
        (("rule", "add", "R1", *ITEM_RULE, "--connector", "NOPE"),
         "rule R1, connector: connector 'NOPE' does not exist"),
        (("rule", "add", "R1", *ITEM_RULE, "--connector", "WMS01_Fulfillment",
          "--from", "2027-01-01"),
         "2027-01-01T00:00:00 has no time zone; add one, e.g. 2027-01-01T00:00:00+00:00"),
        (("rule", "add", "R1", *ITEM_RULE, "--connector", "WMS01_Fulfillment",
          "--from", "2027-01-02T00:00:00Z", "--until", "2027-01-01T00:00:00Z"),
         "is not after active_from"),
        (("rule", "add", "bad id", *ITEM_RULE, "--connector", "WMS01_Fulfillment"),
         "rule bad id, id: required: 1-50 letters"),
        (("rule", "add", "RAVI_PICK", *ITEM_RULE, "--connector", "WMS01_Fulfillment"),
         "rule RAVI_PICK already exists; use 'update' to change it"),
        (("rule", "update", "NOPE", "--priority", "1"), "the draft has no rule 'NOPE'"),
        (("rule", "remove", "NOPE"), "the draft has no rule 'NOPE'"),
        (("rule", "default", "Nope", "WMS01_Fulfillment"), "task type 'Nope' does not exist"),
        (("rule", "rollback", "9"), "there is no published routing version 9"),
        (("rule", "rollback", "1"), "version 1 is already the one routing uses"),
        (("rule", "explain", "--set", "Itme=X"), "unknown attribute 'Itme'"),
        (("rule", "explain", "--set", "OrderedQuantity=many"), "OrderedQuantity is a number"),
        (("rule", "explain", "--order", "999"), "no order matches OrderNumber=999"),
        (("rule", "reroute", "999"), "no order matches OrderNumber=999"),
    ]  # fmt: skip
    for args, message in cases:
        result = admin(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert admin("rule", "explain").exit_code == 2  # usage: nothing to explain
    assert [r["id"] for r in admin.json("rule", "list")["rules"]] == ["RAVI_PICK", "BULK_SHIP"]


def test_publish_refuses_a_disabled_connector_and_remove_refuses_a_routed_one(admin):
    with_sample(admin)
    admin.ok("connector", "update", "WMS01_Bulk", "--disabled")
    admin.ok("rule", "add", "BULK", *ITEM_RULE, "--connector", "WMS01_Bulk")  # a draft may
    admin.ok("rule", "add", "EV", *ITEM_RULE, "--connector", "LEGACY_Events", "--priority", "2")
    refused = admin("rule", "publish")
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "Error: rules cannot be published:\n"
        "  rule BULK, connector: connector 'WMS01_Bulk' is disabled\n"
        "  rule EV, connector: connector 'LEGACY_Events' reaches LEGACY, which is not enabled "
        "for fulfillment (its responses would be refused)"
    )
    assert [v["version"] for v in admin.json("rule", "versions")] == [1]
    removed = admin("connector", "remove", "WMS01_Fulfillment")
    assert removed.exit_code == 1
    assert (
        "connector WMS01_Fulfillment is named by routing: default for Return of routing "
        "version 1, default for Shipment of routing version 1, draft default for Return, "
        "draft default for Shipment, draft rule BULK_SHIP and 3 more" in removed.output
    )
    gone = admin("task-type", "remove", "Pick_From_Ravi")
    assert gone.exit_code == 1 and "used by process RaviPickAndShip v1" in gone.output
    admin.ok("task-type", "add", "Tmp", "--name", "Temporary", "--task", "Do=Do_It")
    admin.ok("rule", "default", "Tmp", "WMS01_Fulfillment")
    held = admin("task-type", "remove", "Tmp")
    assert held.exit_code == 1
    assert "task type Tmp is used by the draft's default for it" in held.output


def test_a_connector_disabled_later_does_not_block_an_unchanged_publish_or_apply(admin, tmp_path):
    with_sample(admin)
    exported = tmp_path / "export.toml"
    admin.ok("export", "-o", str(exported))
    admin.ok("connector", "update", "WMS01_Fulfillment", "--disabled")
    assert admin.ok("rule", "publish").strip() == "nothing to publish: the draft is version 1"
    assert admin.ok("apply", "-f", str(exported)).splitlines() == [
        "~ connector WMS01_Fulfillment: enabled False → True"
    ]
    admin.ok("connector", "update", "WMS01_Fulfillment", "--disabled")
    assert admin.ok("apply", "-f", str(SAMPLE)).splitlines() == [
        "~ connector WMS01_Fulfillment: enabled False → True"
    ]


def test_rollback_keeps_unpublished_edits_unless_told_to_drop_them(admin):
    with_sample(admin)
    admin.ok("rule", "add", "CM", *ITEM_RULE, "--connector", "WMS01_Bulk")
    admin.ok("rule", "publish")  # version 2
    admin.ok("rule", "update", "CM", "--priority", "9")  # an edit nobody published
    refused = admin("rule", "rollback", "1")
    assert refused.exit_code == 1
    assert "the draft holds edits that were never published" in refused.output
    assert [v["version"] for v in admin.json("rule", "versions")] == [1, 2]
    assert admin.json("rule", "show", "CM")["priority"] == 9
    out = admin.ok("rule", "rollback", "1", "--discard-draft").splitlines()
    assert out == ["- routing_rule CM", "published routing version 3 (the rules of version 1)"]


def test_setup_files_carry_rules_checked_with_line_numbers(admin, tmp_path):
    with_sample(admin)
    assert admin.ok("apply", "-f", str(SAMPLE)).strip() == "no changes"
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[routing]\n"
        'defaults = { Nope = "WMS01_Fulfillment" }\n'
        "colour = 1\n"
        "\n"
        "[[rule]]\n"
        'id = "A"\n'
        "condition = 'Item = \"x\" or'\n"
        'connector = "WMS01_Fulfillment"\n'
        "\n"
        "[[rule]]\n"
        'id = "B"\n'
        "condition = 'Item = \"x\"'\n"
        'connector = "GONE"\n'
        "active_from = 2027-01-01T00:00:00\n"
        "\n"
        "[[rule]]\n"
        'id = "A"\n'
        "condition = 'Item = \"y\"'\n"
        'connector = "WMS01_Fulfillment"\n'
    )
    result = admin("apply", "-f", str(bad))
    assert result.exit_code == 1
    problems = [ln.split(": ", 1)[1] for ln in result.output.splitlines()[1:]]
    assert problems == [
        "line 2: default for Nope: task type 'Nope' does not exist",
        "line 3: colour: unknown key; use defaults, publish",
        "line 7: condition: line 1, column 14: expected an attribute name, 'not' or '(', "
        "found the end",
        "line 14: active_from: 2027-01-01T00:00:00 has no time zone; add one, e.g. "
        "2027-01-01T00:00:00+00:00",
        "line 16: rule A appears twice in the file",
    ]
    assert [v["version"] for v in admin.json("rule", "versions")] == [1]  # nothing applied

    draft_only = tmp_path / "draft.toml"
    draft_only.write_text(
        "[routing]\npublish = false\n\n[[rule]]\n"
        'id = "ONLY"\ncondition = \'Item = "x"\'\nconnector = "WMS01_Fulfillment"\n'
    )
    out = admin.ok("apply", "-f", str(draft_only))
    assert out.splitlines() == [
        "- routing_rule BULK_SHIP",
        "- routing_rule RAVI_PICK",
        "+ routing_rule ONLY",
        "- routing_default Return",
        "- routing_default Shipment",
    ]
    assert [v["version"] for v in admin.json("rule", "versions")] == [1]
    # the export holds the version in use, and says the draft's edits are not in it
    exported = tmp_path / "export.toml"
    admin.ok("export", "-o", str(exported))
    text_ = exported.read_text()
    assert "# Routing: version 1, the one in use. The draft holds unpublished edits" in text_
    assert "publish = true" in text_ and 'id = "ONLY"' not in text_
    assert 'id = "BULK_SHIP"' in text_
    # the sample again: the draft is back, and it equals version 1, so nothing publishes
    again = admin.ok("apply", "-f", str(SAMPLE)).splitlines()
    assert "- routing_rule ONLY" in again and not any("rule_set_version" in a for a in again)


def test_export_round_trips_published_rules(admin, tmp_path):
    with_sample(admin)
    exported = tmp_path / "export.toml"
    admin.ok("export", "-o", str(exported))
    body = exported.read_text()
    assert "[[rule]]" in body and 'id = "BULK_SHIP"' in body and "publish = true" in body
    fresh = Admin({**admin.env, "OMGW_HOME": str(tmp_path / "other"),
                   "OMGW_DATABASE_URL": None}, tmp_path / "other")  # fmt: skip
    fresh.ok("init", "--sample")
    out = fresh.ok("apply", "-f", str(exported))
    assert "+ rule_set_version 1" in out
    assert fresh.json("rule", "list") == admin.json("rule", "list")
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"


def test_explain_and_reroute_an_order_from_the_terminal(admin):
    admin.ok("init", "--sample")
    admin.ok("apply", "-f", str(SAMPLE))
    admin.ok("rule", "default", "Shipment", "--clear")
    admin.ok("rule", "publish")
    # take an order in through the domain (the SOAP path is covered elsewhere)
    number = _take_order(admin, "T-1")
    explained = admin.json("rule", "explain", "--order", number, "--line", "1")
    assert explained["version"] == 2  # the version that routed (here: failed) the line
    assert explained["attributes"]["Item"] == "CM5008"
    assert explained["attributes"]["ProcessName"] == "DOO_OrderFulfillmentGenericProcess"
    assert explained["decision"]["connector"] is None
    assert admin.ok("rule", "reroute", number).splitlines()[-1] == "0 of 1 line(s) routed"
    admin.ok("rule", "add", "CM", *ITEM_RULE, "--connector", "WMS01_Fulfillment")
    admin.ok("rule", "publish")
    rerouted = admin.json("rule", "reroute", number)
    assert [(r["status"], r["version"], r["rule"]) for r in rerouted] == [("AWAIT_SHIP", 3, "CM")]
    after = admin.json("rule", "explain", "--order", number)
    assert (after["version"], after["decision"]["rule"]) == (3, "CM")
    url = admin.env["OMGW_DATABASE_URL"] or f"sqlite:///{admin.home / 'omgw.db'}"
    engine = create_engine(url)
    with engine.connect() as c:
        row = c.execute(text("select rule_set_version, routing_rule_id from fulfill_lines")).one()
    engine.dispose()
    assert tuple(row) == (3, "CM")


def test_explain_says_a_bill_routing_has_nothing_for_goes_where_the_line_shipped(admin):
    admin.ok("init", "--sample")
    admin.ok("apply", "-f", str(SAMPLE))  # routing: a default for Shipment, none for Invoice
    number = _take_order(admin, "T-2")

    loose = admin.json("rule", "explain", "--set", "TaskType=Invoice")
    assert loose["decision"]["where_shipped"] is True and loose["decision"]["connector"] is None
    text = admin.ok("rule", "explain", "--set", "TaskType=Invoice").splitlines()[-1]
    assert text.startswith("decision: where the line's shipment went (its connector)"), text
    assert "no connector:" not in text

    of_line = admin.json("rule", "explain", "--order", number, "--set", "TaskType=Invoice")
    assert of_line["decision"]["where_shipped"] is True
    assert of_line["decision"]["connector"] == "WMS01_Fulfillment"  # its shipment's
    text = admin.ok("rule", "explain", "--order", number, "--set", "TaskType=Invoice")
    assert "decision: where the line's shipment went (connector WMS01_Fulfillment)" in text
    # a task type with no such fallback still has no connector
    admin.ok("rule", "default", "Return", "--clear")
    admin.ok("rule", "publish")
    other = admin.json("rule", "explain", "--set", "TaskType=Return")
    assert other["decision"]["where_shipped"] is False
    assert other["decision"]["connector"] is None


def test_attributes_are_listed_with_types(admin):
    rows = admin.json("rule", "attributes")
    assert {"attribute": "OrderedQuantity", "type": "number", "from": "line"} in rows
    assert {"attribute": "TaskType", "type": "string", "from": "process"} in rows


def test_a_draft_never_published_exports_as_a_draft(admin, tmp_path):
    admin.ok("source-system", "add", "WH", "--fulfillment")
    admin.ok("connector", "add", "WH_C", "--target-system", "WH", "--url", "http://h/x",
             "--no-credential")  # fmt: skip
    admin.ok("rule", "add", "R", *ITEM_RULE, "--connector", "WH_C")
    exported = tmp_path / "export.toml"
    admin.ok("export", "-o", str(exported))
    assert "publish = false" in exported.read_text()
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"
    assert admin.json("rule", "versions") == []


def test_odd_rule_ids_in_a_setup_file_get_a_line_not_a_traceback(admin, tmp_path):
    with_sample(admin)
    odd = tmp_path / "odd.toml"
    odd.write_text(
        '[[rule]]\nid = ["x"]\ncondition = \'Item = "x"\'\nconnector = "WMS01_Fulfillment"\n'
        '\n[[rule]]\nid = { a = 1 }\ncondition = \'Item = "x"\'\nconnector = "WMS01_Fulfillment"\n'
    )
    result = admin("apply", "-f", str(odd))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 2: id: required: 1-50 letters" in result.output
    assert "line 7: id: required: 1-50 letters" in result.output


def _take_order(admin, key: str) -> str:
    """An order of one CM5008 line taken in through the domain, in the admin's home."""
    from gateway.config import Settings
    from gateway.orders.intake import OrderIntake
    from gateway.orders.message_values import LineInput, OrderInput
    from gateway.runtime import Runtime

    settings = Settings.from_env({k: v for k, v in admin.env.items() if v is not None})
    runtime = Runtime(settings)
    try:
        with runtime.sessions() as s, s.begin():
            line = LineInput("1", "1", "CM5008", Decimal(5))
            order = OrderInput("LEGACY", key, f"SO-{key}", "1", (line,))
            return str(OrderIntake(s).create(order).header.order_number)
    finally:
        runtime.close()
