"""The dashboard and the status APIs it draws from, against a real server: calls made
through the SOAP services show in the traffic per minute, connectors in the table, and
the page carries the same status as ``omgw status``."""

from __future__ import annotations

import time
from typing import Any

from tests.common.console import signed_in
from tests.common.edges import import_request
from tests.common.soap import basic, post
from tests.conftest import Gateway


def _totals(activity: dict[str, Any]) -> tuple[int, int]:
    return sum(activity["calls"]), sum(activity["faults"])


def test_calls_and_faults_show_in_the_traffic_per_minute(gateway: Gateway, unique: str) -> None:
    console = signed_in(gateway.base, "viewer")
    before = _totals(console.get("/activity").json())
    url = gateway.url("OrderImportService")
    assert post(url, import_request(unique), basic("importer")).status == 200
    assert post(url, import_request(unique + "x"), basic("importer", "wrong")).status == 500
    assert post(url, b"<not-xml", basic("importer")).status == 500
    time.sleep(2.1)  # the dashboard's reads are shared for two seconds
    activity = console.get("/activity", minutes=5).json()
    assert len(activity["minutes"]) == 5
    calls, faults = _totals(console.get("/activity").json())
    assert calls - before[0] >= 3
    assert faults - before[1] >= 2


def test_the_status_api_says_what_omgw_status_says(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "viewer")
    status = console.get("/status").json()
    connectors = {c["connector"] for c in status["connectors"]}
    assert {"WMS01_Fulfillment", "WMSANY_Fulfillment"} <= connectors
    assert status["exit_code"] in (0, 1, 2)
    assert set(status) >= {"needs_a_person", "orders_by_status", "lines_by_status", "workers"}


def test_the_dashboard_shows_connectors_health_and_findings(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "viewer")
    page = console.page("/")
    assert page.status_code == 200
    assert 'data-connector="WMS01_Fulfillment"' in page.text
    assert 'data-check="database"' in page.text
    assert 'id="chart-calls"' in page.text and 'id="activity-data"' in page.text


def test_a_wrong_minutes_value_is_a_client_error(gateway: Gateway) -> None:
    console = signed_in(gateway.base, "viewer")
    for value in ("0", "abc", "100000"):
        answer = console.get("/activity", minutes=value)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "PARAMETER_INVALID"
