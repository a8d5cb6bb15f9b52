"""``omgw trigger list|set|remove``, ``omgw jeopardy thresholds [set]`` and the
``[[trigger_point]]`` / ``[[jeopardy_threshold]]`` tables of a setup file, through the
real command line on both databases: round trips, every mistake in one sentence with
exit 1 (usage mistakes exit 2), audit entries, and connectors kept while named."""

from __future__ import annotations

import json

import pytest

from tests.common.cli import line_of
from tests.conftest import Admin


def fails(admin: Admin, code: int, *args: str) -> str:
    result = admin(*args)
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture
def events(admin: Admin) -> Admin:
    """A target system with a BUSINESS_EVENT connector and an ASYNC_SERVICE one."""
    admin.ok("source-system", "add", "EVT", "--fulfillment", "--type", "PURCHASED")
    admin.ok("connector", "add", "EVT_Events", "--target-system", "EVT",
             "--url", "http://127.0.0.1:9/events", "--invocation-mode", "BUSINESS_EVENT")  # fmt: skip
    admin.ok("connector", "add", "EVT_Events2", "--target-system", "EVT",
             "--url", "http://127.0.0.1:9/events2", "--invocation-mode", "BUSINESS_EVENT")  # fmt: skip
    admin.ok("connector", "add", "EVT_Ship", "--target-system", "EVT",
             "--url", "http://127.0.0.1:9/ship", "--invocation-mode", "ASYNC_SERVICE")  # fmt: skip
    return admin


def test_set_list_update_remove_round_trip_with_audit(events):
    admin = events
    assert admin.json("trigger", "list") == []
    out = admin.ok("--actor", "dana", "trigger", "set", "FLINE_STATUS_UPDATE", "shipped",
                   "--connector", "EVT_Events")  # fmt: skip
    assert out.strip() == "+ trigger_point FLINE_STATUS_UPDATE/SHIPPED"
    admin.ok("trigger", "set", "HOLD", "--no-raise", "--email", "--email-to", "ops@example.com",
             "--email-to", "lead@example.com")  # fmt: skip
    listed = admin.json("trigger", "list")
    assert listed == [
        {
            "key": "FLINE_STATUS_UPDATE/SHIPPED",
            "event": "FLINE_STATUS_UPDATE",
            "criterion": "SHIPPED",
            "raise_event": True,
            "send_email": False,
            "email_to": [],
            "connectors": ["EVT_Events"],
        },
        {
            "key": "HOLD",
            "event": "HOLD",
            "criterion": None,
            "raise_event": False,
            "send_email": True,
            "email_to": ["ops@example.com", "lead@example.com"],
            "connectors": [],
        },
    ]
    table = admin.ok("trigger", "list").splitlines()
    assert table[0].split() == ["EVENT", "CRITERION", "RAISE", "E-MAIL", "RECIPIENTS",
                                "CONNECTORS"]  # fmt: skip
    assert table[1].split() == ["FLINE_STATUS_UPDATE", "SHIPPED", "yes", "no", "-", "EVT_Events"]
    assert table[2].split() == ["HOLD", "-", "no", "yes", "ops@example.com,",
                                "lead@example.com", "-"]  # fmt: skip

    # an update changes what is given and keeps the rest: --email alone keeps connectors
    out = admin.ok("trigger", "set", "FLINE_STATUS_UPDATE", "SHIPPED", "--email",
                   "--email-to", "ship@example.com")  # fmt: skip
    assert out.startswith("~ trigger_point FLINE_STATUS_UPDATE/SHIPPED: ")
    assert "send_email False → True" in out
    (point,) = [p for p in admin.json("trigger", "list") if p["event"] == "FLINE_STATUS_UPDATE"]
    assert (point["raise_event"], point["send_email"], point["email_to"], point["connectors"]) == (
        True, True, ["ship@example.com"], ["EVT_Events"]
    )  # fmt: skip
    out = admin.ok("trigger", "set", "FLINE_STATUS_UPDATE", "SHIPPED",
                   "--connector", "EVT_Events2", "--connector", "EVT_Events")  # fmt: skip
    assert "connectors changed" in out
    (point,) = [p for p in admin.json("trigger", "list") if p["event"] == "FLINE_STATUS_UPDATE"]
    assert (point["send_email"], point["email_to"], point["connectors"]) == (
        True, ["ship@example.com"], ["EVT_Events", "EVT_Events2"]
    )  # fmt: skip
    # setting what is stored changes nothing
    assert admin.ok("trigger", "set", "FLINE_STATUS_UPDATE", "SHIPPED",
                    "--raise").strip() == "no changes"  # fmt: skip
    changes = admin.json("trigger", "set", "FLINE_STATUS_UPDATE", "SHIPPED", "--no-connectors")
    assert changes["changes"][0]["after"]["connectors"] == []

    out = admin.ok("trigger", "remove", "fline_status_update", "shipped")
    assert out.strip() == "- trigger_point FLINE_STATUS_UPDATE/SHIPPED"
    removed = admin.json("trigger", "remove", "HOLD")
    assert [(c["action"], c["key"]) for c in removed["changes"]] == [("delete", "HOLD")]
    assert admin.json("trigger", "list") == []
    assert admin.ok("trigger", "list").strip() == "(none)"
    assert "there is no trigger point HOLD" in fails(admin, 1, "trigger", "remove", "HOLD")

    entries = admin.json("audit", "list", "--entity", "trigger_point")
    assert [(e["action"], e["key"]) for e in reversed(entries)] == [
        ("create", "FLINE_STATUS_UPDATE/SHIPPED"),
        ("create", "HOLD"),
        ("update", "FLINE_STATUS_UPDATE/SHIPPED"),
        ("update", "FLINE_STATUS_UPDATE/SHIPPED"),
        ("update", "FLINE_STATUS_UPDATE/SHIPPED"),
        ("delete", "FLINE_STATUS_UPDATE/SHIPPED"),
        ("delete", "HOLD"),
    ]
    assert entries[-1]["actor"] == "dana" and entries[-1]["before"] is None
    assert entries[-1]["after"]["connectors"] == ["EVT_Events"]
    assert entries[0]["after"] is None and entries[0]["before"]["send_email"] is True


def test_trigger_point_mistakes_get_one_sentence_and_write_nothing(events):
    admin = events
    cases = {
        ("FLINE_STATUS_UPDATE", "SHIPPED", "--connector", "EVT_Ship"): (
            "trigger point FLINE_STATUS_UPDATE/SHIPPED: connector EVT_Ship is ASYNC_SERVICE, "
            "not BUSINESS_EVENT; business events go only to connectors that implement "
            'pushPayload (set invocation_mode = "BUSINESS_EVENT")'
        ),
        ("HOLD", "--connector", "NOPE"): "trigger point HOLD: there is no connector 'NOPE'",
        ("FLINE_STATUS_UPDATE", "SHIPPPED"): (
            "trigger point FLINE_STATUS_UPDATE/SHIPPPED: SHIPPPED is not a fulfillment line "
            "status (one of CREATED, ROUTING_ERROR, SCHEDULED, AWAIT_SHIP, BACKORDERED, "
            "AWAIT_RECEIVING, SHIPPED, AWAIT_BILLING, BILLED, CANCEL_PENDING, CHANGE_PENDING, "
            "CLOSED, CANCELED)"
        ),
        ("ORDER_STATUS_UPDATE", "SHIPPED"): "order header status (one of DOO_DRAFT, OPEN,",
        ("JEOPARDY", "URGENT"): (
            "trigger point JEOPARDY/URGENT: criterion: 'URGENT' is not a priority "
            "(LOW, MEDIUM, HIGH)"
        ),
        ("JEOPARDY",): "JEOPARDY trigger points are kept per value: give a jeopardy priority",
        ("HOLD", "ON"): "criterion: HOLD trigger points take no criterion",
        ("SPLIT", "--email"): (
            "trigger point SPLIT: email_to: send_email is on: name at least one recipient"
        ),
        ("SPLIT", "--email", "--email-to", "ops at example.com"): (
            "email_to: 'ops at example.com' is not a plain e-mail address"
        ),
        ("SHIPPED",): "event: 'SHIPPED' is not one of ORDER_STATUS_UPDATE, FLINE_STATUS_UPDATE",
    }
    for args, message in cases.items():
        out = fails(admin, 1, "trigger", "set", *args)
        assert message in out, (args, out)
        assert out.startswith("Error: ") and out.count("\n") == 1, out
    usage = {
        ("HOLD", "--connector", "EVT_Events", "--no-connectors"): "--no-connectors, not both",
        ("HOLD", "--email-to", "a@example.com", "--no-email-to"): "--no-email-to, not both",
        ("HOLD", "--raise", "--frobnicate"): "No such option",
    }
    for args, message in usage.items():
        assert message in fails(admin, 2, "trigger", "set", *args), args
    assert admin.json("trigger", "list") == []
    assert admin.json("audit", "list", "--entity", "trigger_point") == []

    # a stored point with e-mail on: clearing its recipients is refused too
    admin.ok("trigger", "set", "SPLIT", "--email", "--email-to", "ops@example.com")
    out = fails(admin, 1, "trigger", "set", "SPLIT", "--no-email-to")
    assert "send_email is on: name at least one recipient" in out
    assert admin.json("trigger", "list")[0]["email_to"] == ["ops@example.com"]


def test_attribute_trigger_points_are_kept_per_attribute_as_the_payload_spells_it(events):
    admin = events
    out = admin.ok("trigger", "set", "order_attribute_update", "ordered_qty",
                   "--connector", "EVT_Events")  # fmt: skip
    assert out.strip() == "+ trigger_point ORDER_ATTRIBUTE_UPDATE/OrderedQty"
    # no criterion: every attribute
    admin.ok("trigger", "set", "ORDER_ATTRIBUTE_UPDATE", "--connector", "EVT_Events2")
    keys = {p["key"]: p["connectors"] for p in admin.json("trigger", "list")}
    assert keys == {
        "ORDER_ATTRIBUTE_UPDATE": ["EVT_Events2"],
        "ORDER_ATTRIBUTE_UPDATE/OrderedQty": ["EVT_Events"],
    }
    # the same point, named in another case, is changed rather than added
    admin.ok("trigger", "set", "ORDER_ATTRIBUTE_UPDATE", "ORDEREDQTY", "--no-raise")
    assert len(admin.json("trigger", "list")) == 2
    out = fails(admin, 1, "trigger", "set", "ORDER_ATTRIBUTE_UPDATE", "Colour")
    assert (
        "trigger point ORDER_ATTRIBUTE_UPDATE/Colour: criterion: 'Colour' is not an attribute "
        "omgw reports (OrderedQty, RequestShipDate, ScheduleShipDate, ShipToSiteUseId, "
        "CancelFlag; none for every attribute)"
    ) in out
    admin.ok("trigger", "remove", "ORDER_ATTRIBUTE_UPDATE", "orderedqty")
    assert [p["key"] for p in admin.json("trigger", "list")] == ["ORDER_ATTRIBUTE_UPDATE"]


def test_a_connector_named_by_a_trigger_point_is_kept_and_stays_an_event_connector(events):
    admin = events
    admin.ok("trigger", "set", "FLINE_CLOSED", "--connector", "EVT_Events")
    out = fails(admin, 1, "connector", "remove", "EVT_Events")
    assert "connector EVT_Events receives trigger point(s) FLINE_CLOSED" in out
    out = fails(admin, 1, "connector", "update", "EVT_Events", "--invocation-mode", "SYNC_SERVICE")
    assert "connector EVT_Events receives trigger point(s) FLINE_CLOSED; it must stay " \
           "BUSINESS_EVENT until they no longer name it" in out  # fmt: skip
    assert admin.json("connector", "show", "EVT_Events")["invocation_mode"] == "BUSINESS_EVENT"
    # other settings may change; once no point names it, it may go
    admin.ok("connector", "update", "EVT_Events", "--timeout", "5")
    admin.ok("trigger", "set", "FLINE_CLOSED", "--no-connectors")
    admin.ok("connector", "update", "EVT_Events", "--invocation-mode", "SYNC_SERVICE")
    admin.ok("connector", "remove", "EVT_Events")


def test_jeopardy_thresholds_set_list_and_overlaps_refused(events):
    admin = events
    assert admin.json("jeopardy", "thresholds") == []
    out = admin.ok("jeopardy", "thresholds", "set", "0m-1h=LOW", "1h-1d=medium", "1d-=HIGH")
    assert out.strip() == "+ jeopardy_thresholds all"
    admin.ok("jeopardy", "thresholds", "set", "--task-type", "Shipment", "0m-4h=LOW", "4h-=HIGH")
    listed = admin.json("jeopardy", "thresholds")
    assert [(t["task_type"], t["from"], t["to"], t["priority"]) for t in listed] == [
        (None, "0m", "1h", "LOW"),
        (None, "1h", "1d", "MEDIUM"),
        (None, "1d", None, "HIGH"),
        ("Shipment", "0m", "4h", "LOW"),
        ("Shipment", "4h", None, "HIGH"),
    ]
    assert (listed[1]["from_minutes"], listed[1]["to_minutes"]) == (60, 1440)
    assert admin.json("jeopardy", "thresholds", "list") == listed
    table = admin.ok("jeopardy", "thresholds").splitlines()
    assert table[0].split() == ["TASK", "TYPE", "FROM", "TO", "PRIORITY"]
    assert table[3].split() == ["(any)", "1d", "open", "HIGH"]

    # replacing one task type's ranges keeps the others'
    out = admin.ok("jeopardy", "thresholds", "set", "0m-2h=MEDIUM", "2h-=HIGH")
    assert out.startswith("~ jeopardy_thresholds all")
    assert [(t["task_type"], t["from"], t["priority"]) for t in admin.json("jeopardy", "thresholds")] == [
        (None, "0m", "MEDIUM"), (None, "2h", "HIGH"), ("Shipment", "0m", "LOW"),
        ("Shipment", "4h", "HIGH"),
    ]  # fmt: skip
    same = admin.ok("jeopardy", "thresholds", "set", "0m-2h=MEDIUM", "2h-=HIGH")
    assert same.strip() == "no changes"

    before = admin.json("jeopardy", "thresholds")
    out = fails(admin, 1, "jeopardy", "thresholds", "set", "--task-type", "Shipment",
                "0m-2h=LOW", "1h-1d=MEDIUM")  # fmt: skip
    assert "ranges overlap: Shipment 0m–2h LOW and Shipment 1h–1d MEDIUM; a delay must give " \
           "one priority" in out  # fmt: skip
    out = fails(admin, 1, "jeopardy", "thresholds", "set", "0m-=LOW", "1d-=HIGH")
    assert "ranges overlap: any task 0m–∞ LOW and any task 1d–∞ HIGH" in out
    out = fails(admin, 1, "jeopardy", "thresholds", "set", "0x-1h=LOW", "2h-1h=HIGH", "1h=LOW",
                "1h-2h=URGENT")  # fmt: skip
    assert "0x-1h=LOW: from: '0x' is not a duration such as 2d, 4h, 30m or 1d4h" in out
    assert "2h-1h=HIGH: to: must be later than from" in out
    assert "'1h=LOW' is not a range; write e.g. 0m-1h=LOW or 1d-=HIGH" in out
    assert "1h-2h=URGENT: priority: 'URGENT' is not one of LOW, MEDIUM, HIGH" in out
    out = fails(admin, 1, "jeopardy", "thresholds", "set", "--task-type", "Teleport", "0m-=LOW")
    assert "jeopardy threshold: there is no task type 'Teleport'" in out
    assert "give at least one RANGE" in fails(admin, 2, "jeopardy", "thresholds", "set")
    assert admin.json("jeopardy", "thresholds") == before

    admin.ok("jeopardy", "thresholds", "set", "--task-type", "Shipment", "--clear")
    assert [t["task_type"] for t in admin.json("jeopardy", "thresholds")] == [None, None]
    entries = admin.json("audit", "list", "--entity", "jeopardy_thresholds")
    assert [e["action"] for e in reversed(entries)] == ["create", "update", "update", "update"]
    assert entries[0]["after"] == {
        "threshold": [{"from": "0m", "to": "2h", "priority": "MEDIUM"},
                      {"from": "2h", "priority": "HIGH"}]
    }  # fmt: skip


SETUP = """\
[[source_system]]
code = "EVS"
type = "PURCHASED"
fulfillment = true

[[connector]]
name = "EVS_Events"
target_system = "EVS"
url = "http://127.0.0.1:9/events"
invocation_mode = "BUSINESS_EVENT"

[[trigger_point]]
event = "FLINE_STATUS_UPDATE"
criterion = "SHIPPED"
connectors = ["EVS_Events"]

[[trigger_point]]
event = "HOLD"
raise_event = false
send_email = true
email_to = ["ops@example.com"]

[[trigger_point]]
event = "JEOPARDY"
criterion = "HIGH"
connectors = ["EVS_Events"]
send_email = true
email_to = ["lead@example.com"]

[[jeopardy_threshold]]
from = "0m"
to = "1h"
priority = "LOW"

[[jeopardy_threshold]]
from = "1h"
priority = "HIGH"

[[jeopardy_threshold]]
task_type = "Shipment"
from = "2h"
priority = "MEDIUM"
"""


def test_a_setup_file_with_trigger_points_and_thresholds(admin, tmp_path):
    path = tmp_path / "events.toml"
    path.write_text(SETUP)
    plan = admin.ok("apply", "--dry-run", "-f", str(path))
    assert plan.splitlines() == [
        "+ source_system EVS",
        "+ connector EVS_Events",
        "+ trigger_point FLINE_STATUS_UPDATE/SHIPPED",
        "+ trigger_point HOLD",
        "+ trigger_point JEOPARDY/HIGH",
        "+ jeopardy_thresholds all",
        "dry run: 6 change(s) planned, nothing written",
    ]
    assert admin.json("trigger", "list") == [] and admin.json("jeopardy", "thresholds") == []
    assert admin.json("connector", "list") == []

    assert admin.ok("apply", "-f", str(path)).splitlines() == plan.splitlines()[:-1]
    assert admin.ok("apply", "-f", str(path)).strip() == "no changes"
    points = {p["key"]: p for p in admin.json("trigger", "list")}
    assert set(points) == {"FLINE_STATUS_UPDATE/SHIPPED", "HOLD", "JEOPARDY/HIGH"}
    assert points["HOLD"]["raise_event"] is False
    assert points["JEOPARDY/HIGH"]["email_to"] == ["lead@example.com"]
    assert len(admin.json("jeopardy", "thresholds")) == 3

    # points the file does not name are left alone; thresholds are replaced whole
    admin.ok("trigger", "set", "SPLIT", "--connector", "EVS_Events")
    admin.ok("jeopardy", "thresholds", "set", "--task-type", "Invoice", "0m-=HIGH")
    out = admin.ok("apply", "-f", str(path))
    assert out.startswith("~ jeopardy_thresholds all") and "trigger_point" not in out
    assert "SPLIT" in [p["key"] for p in admin.json("trigger", "list")]
    assert "Invoice" not in [t["task_type"] for t in admin.json("jeopardy", "thresholds")]

    exported = tmp_path / "exported.toml"
    admin.ok("export", "-o", str(exported))
    text = exported.read_text()
    assert text.count("[[trigger_point]]") == 4 and text.count("[[jeopardy_threshold]]") == 3
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"

    # the export sets up a fresh database the same way
    other = Admin({**admin.env, "OMGW_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
                   "OMGW_HOME": str(tmp_path / "other")}, tmp_path / "other")  # fmt: skip
    other.ok("init")
    other.ok("apply", "-f", str(exported))
    assert other.json("trigger", "list") == admin.json("trigger", "list")
    assert other.json("jeopardy", "thresholds") == admin.json("jeopardy", "thresholds")
    assert other.ok("apply", "-f", str(exported)).strip() == "no changes"


BAD = """\
[[connector]]
name = "EVS_Sync"
target_system = "EVS"
url = "http://127.0.0.1:9/sync"
invocation_mode = "SYNC_SERVICE"

[[trigger_point]]
event = "FLINE_STATUS_UPDATE"
criterion = "SHIPPPED"

[[trigger_point]]
event = "HOLD"
connectors = ["EVS_Sync", "NOPE"]

[[trigger_point]]
event = "SPLIT"
send_email = true

[[trigger_point]]
event = "HOLD"

[[jeopardy_threshold]]
from = "0m"
to = "2h"
priority = "LOW"

[[jeopardy_threshold]]
from = "1h"
priority = "HIGH"

[[jeopardy_threshold]]
task_type = "Teleport"
from = "1h"
priority = "URGENT"
"""


def test_a_bad_trigger_point_in_a_file_is_reported_at_its_line_and_nothing_is_written(
    admin, tmp_path
):
    admin.ok("source-system", "add", "EVS", "--fulfillment", "--type", "PURCHASED")
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1, result.output
    out = result.stderr
    assert "was not applied (8 problems); nothing changed" in out and "Traceback" not in out
    header = [n for n, ln in enumerate(BAD.splitlines(), start=1) if ln.startswith("[[")]
    expected = [
        (line_of(BAD, "SHIPPPED"), "criterion: SHIPPPED is not a fulfillment line status "
         "(one of CREATED, "),
        (line_of(BAD, '["EVS_Sync"'), "connectors: connector EVS_Sync is SYNC_SERVICE, not "
         "BUSINESS_EVENT; business events go only to connectors that implement pushPayload"),
        (line_of(BAD, '["EVS_Sync"'), "connectors: connector 'NOPE' does not exist"),
        (header[3], "email_to: send_email is on: name at least one recipient"),
        (header[4], "trigger point HOLD appears twice in the file"),
        (header[6], "ranges overlap: any task 0m–2h LOW and any task 1h–∞ HIGH; a delay must "
         "give one priority"),
        (line_of(BAD, "Teleport"), "task_type: task type 'Teleport' does not exist"),
        (line_of(BAD, "URGENT"), "priority: 'URGENT' is not one of LOW, MEDIUM, HIGH"),
    ]  # fmt: skip
    for number, message in expected:
        assert f"line {number}: {message}" in out, (number, message, out)
    assert admin.json("connector", "list") == []  # the good connector was not applied either
    assert admin.json("trigger", "list") == [] and admin.json("jeopardy", "thresholds") == []

    # a connector of the database in another mode is named the same way
    admin.ok("connector", "add", "EVS_Ship", "--target-system", "EVS",
             "--url", "http://127.0.0.1:9/ship")  # fmt: skip
    path.write_text('[[trigger_point]]\nevent = "SPLIT"\nconnectors = ["EVS_Ship"]\n')
    out = fails(admin, 1, "apply", "-f", str(path))
    assert "line 3: connectors: connector EVS_Ship is ASYNC_SERVICE, not BUSINESS_EVENT" in out
    # … and a file may turn it into an event connector and name it at once
    path.write_text(
        '[[connector]]\nname = "EVS_Ship"\ntarget_system = "EVS"\n'
        'url = "http://127.0.0.1:9/ship"\ninvocation_mode = "BUSINESS_EVENT"\n\n'
        '[[trigger_point]]\nevent = "SPLIT"\nconnectors = ["EVS_Ship"]\n'
    )
    assert admin.ok("apply", "-f", str(path)).splitlines() == [
        "~ connector EVS_Ship: invocation_mode 'ASYNC_SERVICE' → 'BUSINESS_EVENT'",
        "+ trigger_point SPLIT",
    ]
    assert json.loads(admin.ok("trigger", "list", "--json"))[0]["connectors"] == ["EVS_Ship"]
