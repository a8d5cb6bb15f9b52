"""The registry model: every bad value is reported, with its field, all at once."""

from __future__ import annotations

import pytest

from connectors.connector_errors import SpecInvalid
from connectors.connector_specs import ConnectorSpec, SourceSystemSpec, ValueMaps
from connectors.spec_reader import format_duration, parse_duration
from gateway.orchestration_model import (
    DEFAULT_PROCESS,
    SYSTEM_TASK_TYPES,
    ProcessSpec,
    TaskTypeSpec,
    check_process,
)


def problems(build, data) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as exc:
        build(data)
    return {".".join(map(str, p.path)): p.message for p in exc.value.problems}


def test_source_system_defaults_and_round_trip():
    spec = SourceSystemSpec.from_mapping({"code": "CSS01", "order_capture": True})
    assert spec.name == "CSS01" and spec.system_type == "SPOKE" and spec.time_zone == "UTC"
    assert SourceSystemSpec.from_mapping(spec.to_mapping()) == spec


def test_source_system_reports_every_problem():
    found = problems(
        SourceSystemSpec.from_mapping,
        {"code": "bad code!", "type": "LEGACY", "time_zone": "Mars/Base", "fulfilment": True},
    )
    assert set(found) == {"code", "type", "time_zone", "fulfilment", ""}
    assert "SPOKE, PURCHASED" in found["type"]
    assert "IANA" in found["time_zone"]
    assert found["fulfilment"] == "is not a known setting"  # a typo never passes silently
    assert "order_capture, fulfillment" in found[""]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://wms/x", "http:// or https://"),
        ("http:///path", "no host"),
        ("https://user:pw@wms/x", "must not carry credentials"),
        ("http://wms/x#frag", "fragment"),
        ("http://wms:99999/x", "invalid port"),
        ("wms.example.com/x", "http:// or https://"),
    ],
)
def test_connector_urls_must_be_usable_http_endpoints(url, why):
    found = problems(ConnectorSpec.from_mapping, {"name": "C1", "target_system": "S", "url": url})
    assert why in found["url"]


def test_connector_enums_numbers_and_nested_tables():
    found = problems(
        ConnectorSpec.from_mapping,
        {
            "name": "C1",
            "target_system": "WMS01",
            "url": "https://wms/x",
            "invocation_mode": "FIRE_AND_FORGET",
            "response_processing": "ACCEPT_ALL",
            "timeout": 0,
            "retry": {"max_attempts": 0, "base_delay": 10.0, "max_delay": 1.0, "jitter": 1},
            "tls": {"verify": "yes"},
        },
    )
    assert "ASYNC_SERVICE, SYNC_SERVICE, BUSINESS_EVENT" in found["invocation_mode"]
    assert "REJECT_ALL_ON_FIRST_ERROR" in found["response_processing"]
    assert "between" in found["timeout"]
    assert "between" in found["retry.max_attempts"]
    assert "base_delay" in found["retry.max_delay"]
    assert found["retry.jitter"] == "is not a known setting"
    assert "true or false" in found["tls.verify"]


def test_connector_defaults_follow_oracle_and_round_trip():
    spec = ConnectorSpec.from_mapping({"name": "C1", "target_system": "W", "url": "http://w/x"})
    assert spec.invocation_mode == "ASYNC_SERVICE"
    assert spec.response_processing == "REJECT_ALL_ON_FIRST_ERROR"
    assert spec.credential_map == "oracle.wsm.security" and spec.tls.verify
    assert ConnectorSpec.from_mapping(spec.to_mapping()) == spec


def test_task_types_and_processes_check_their_parts():
    found = problems(
        TaskTypeSpec.from_mapping,
        {
            "code": "Pick",
            "task": [{"name": "A", "services": []}, {"name": "A", "services": ["x", "x"]}],
        },
    )
    assert "non-empty list" in found["task.0.services"]
    assert "twice" in found["task.1.name"] and "twice" in found["task.1.services"]
    found = problems(ProcessSpec.from_mapping, {"name": "P"})
    assert "at least one" in found["step"]
    found = problems(
        ProcessSpec.from_mapping,
        {"name": "P", "step": [{"name": "S", "task_type": "T", "task": "t", "service": "s",
                                 "kind": "MANUAL", "planned_duration": "3 weeks"}]},
    )  # fmt: skip
    assert "INTERNAL, EXTERNAL" in found["step.0.kind"]
    assert "duration" in found["step.0.planned_duration"]


def test_process_references_are_checked_against_task_types():
    types = {t.code: t for t in SYSTEM_TASK_TYPES}
    assert check_process(DEFAULT_PROCESS, types) == []
    bad = ProcessSpec.from_mapping(
        {
            "name": "P",
            "step": [
                {"name": "a", "task_type": "Nope", "task": "x", "service": "y"},
                {"name": "b", "task_type": "Shipment", "task": "Fly", "service": "y"},
                {"name": "c", "task_type": "Shipment", "task": "Ship", "service": "Teleport"},
            ],
        }
    )
    found = {".".join(map(str, p.path)): p.message for p in check_process(bad, types)}
    assert "task type 'Nope' does not exist" in found["step.0.task_type"]
    assert "has no task 'Fly'" in found["step.1.task"]
    assert "has no service 'Teleport'" in found["step.2.service"]


def test_default_process_is_schedule_reserve_ship_invoice():
    assert [s.task_type for s in DEFAULT_PROCESS.steps] == [
        "Schedule",
        "Reservation",
        "Shipment",
        "Invoice",
    ]
    assert [s.kind for s in DEFAULT_PROCESS.steps] == [
        "INTERNAL",
        "INTERNAL",
        "EXTERNAL",
        "EXTERNAL",
    ]


@pytest.mark.parametrize(
    ("text", "minutes"), [("2d", 2880), ("4h", 240), ("1d4h30m", 1710), ("0m", 0)]
)
def test_durations(text, minutes):
    assert parse_duration(text) == minutes
    assert parse_duration(format_duration(minutes)) == minutes


@pytest.mark.parametrize("text", ["", "3 weeks", "4x", "h"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_value_maps_are_strict_per_domain_and_map_both_ways():
    maps = ValueMaps(
        [
            ("ITEM", "WEB-1", "CM5008"),
            ("STATUS", "allocated", "RESERVED"),
            ("STATUS", "reserved", "RESERVED"),
        ]
    )
    assert maps.inbound("ITEM", "WEB-1") == "CM5008"
    assert maps.inbound("ITEM", "WEB-2") is None  # a domain in use is strict
    assert maps.inbound("UOM", "Ea") == "Ea"  # a domain without entries passes through
    assert maps.outbound("ITEM", "CM5008") == "WEB-1"
    assert maps.outbound("STATUS", "RESERVED") == "allocated"  # first in sort order
    assert not ValueMaps()
