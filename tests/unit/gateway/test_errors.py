"""The NOT_FOUND messages' suggestion: the closest known name, case aside, or nothing."""

from __future__ import annotations

from gateway.errors import did_you_mean


def test_a_near_miss_is_suggested_with_its_own_spelling():
    known = ["WMS01_Fulfillment", "LEGACY_Events", "CRM_Events"]
    assert did_you_mean("WMS01_Fulfilment", known) == "; did you mean 'WMS01_Fulfillment'?"
    assert did_you_mean("legacy_events", known) == "; did you mean 'LEGACY_Events'?"


def test_nothing_close_suggests_nothing():
    assert did_you_mean("Teleport", ["Shipment", "Invoice"]) == ""
    assert did_you_mean("X", []) == ""
