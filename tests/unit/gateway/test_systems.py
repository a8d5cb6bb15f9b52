"""The pure decisions behind callers bound to their systems."""

from __future__ import annotations

import pytest

from gateway.errors import AuthError
from gateway.orders.response_checks import not_assigned
from gateway.security.systems import SystemGrant, forbidden, require

WMS = SystemGrant.stored(" WMSA  WMSC ", False)
ALL = SystemGrant.stored("", True)
NONE = SystemGrant.stored("", False)


def test_a_grant_reads_its_stored_form():
    assert WMS.systems == frozenset({"WMSA", "WMSC"}) and not WMS.all_systems
    assert WMS.describe() == "WMSA, WMSC"
    assert ALL.describe() == "every system" and NONE.describe() == "no system"
    assert NONE.empty and not WMS.empty and not ALL.empty


def test_only_named_systems_are_allowed_unless_all_are():
    assert forbidden(WMS, "w", ["WMSA", "WMSC", None], "answer for", "fulfillment system") is None
    assert forbidden(ALL, "w", ["ANY"], "answer for", "fulfillment system") is None
    refusal = forbidden(WMS, "w", ["WMSA", "WMSB"], "answer for", "fulfillment system")
    assert refusal is not None and refusal.code == "AUTH_FORBIDDEN"
    assert refusal.message.startswith("user 'w' may not answer for fulfillment system WMSB")
    assert "omgw user bind w --system WMSB" in refusal.message
    with pytest.raises(AuthError):
        require(WMS, "w", ["wmsa"], "answer for", "fulfillment system")  # codes are exact


def test_a_user_bound_to_nothing_is_refused_whatever_it_names():
    for codes in ([], [None], ["LEGACY"]):
        refusal = forbidden(NONE, "n", codes, "import orders for", "source system")
        assert refusal is not None and "bound to no system" in refusal.message


def test_who_may_answer_a_request():
    assert not_assigned("WMSA", "WMSA", False) is None
    assert not_assigned("WMSB", "WMSA", True) == "was sent to WMSB, not WMSA"
    assert not_assigned(None, "WMSA", True) is None  # bound to every system
    assert "sent to no fulfillment system" in str(not_assigned(None, "WMSA", False))
