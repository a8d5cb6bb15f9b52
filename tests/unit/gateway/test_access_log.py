"""The access line: one line, its fields redacted as its message is."""

from __future__ import annotations

import logging

import pytest

from gateway.observe.logs import ACCESS, CallLine, log_call
from gateway.security import log_redaction


def test_a_callers_message_id_is_one_line_and_redacted_in_its_own_field_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_redaction.install()
    caplog.set_level(logging.INFO, logger=ACCESS.name)
    log_call(
        CallLine(
            address="10.0.0.7",
            user=None,
            service="OrderImportService",
            operation="createOrders",
            status=500,
            fault_code="AUTH_FAILED",
            message_id="uuid:1\npassword=hunter2 Basic dXNlcjpodW50ZXIy",
            orders=[],
            ms=3,
        )
    )
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "\n" not in record.getMessage()
    for text in (record.getMessage(), record.message_id):  # type: ignore[attr-defined]
        assert "hunter2" not in text and "dXNlcjpodW50ZXIy" not in text
    assert record.client == "10.0.0.7" and record.user == "-"  # type: ignore[attr-defined]


def test_no_line_is_built_when_its_level_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=ACCESS.name)
    line = CallLine("1.2.3.4", "u", "S", "op", 200, None, None, ["100001"], 1)
    log_call(line)
    assert caplog.records == []
