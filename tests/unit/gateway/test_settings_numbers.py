"""Every numeric or on/off setting refuses a value it cannot read, naming the variable."""

from __future__ import annotations

import re

import pytest

from gateway.config import Settings
from gateway.errors import ValidationError

#: every setting whose value is a number or a flag (1/0), as the settings write themselves
NUMERIC = sorted(
    name
    for name, value in Settings.from_env({"OMGW_HOME": "/nonexistent"}).to_env().items()
    if re.fullmatch(r"-?\d+(\.\d+)?", value)
)


def test_the_numeric_settings_are_found() -> None:
    assert {"OMGW_WORKER_CONCURRENCY", "OMGW_LEASE_SECONDS", "OMGW_SMTP_PORT"} <= set(NUMERIC)


@pytest.mark.parametrize("name", NUMERIC)
def test_a_word_where_a_number_belongs_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValidationError, match=f"{name} 'several' must be "):
        Settings.from_env({"OMGW_HOME": "/nonexistent", name: "several"})


def test_numbers_are_read_and_floors_still_apply() -> None:
    env = {"OMGW_HOME": "/nonexistent", "OMGW_WORKER_CONCURRENCY": " 7 ",
           "OMGW_LEASE_SECONDS": "1.5", "OMGW_BREAKER_FAILURES": "0"}  # fmt: skip
    settings = Settings.from_env(env)
    assert settings.worker_concurrency == 7
    assert settings.lease_seconds == 5.0  # raised to the least lease
    assert settings.breaker_failures == 1
    flags = {"OMGW_HOME": "/nonexistent", "OMGW_LOG_PAYLOADS": "Off", "OMGW_SMTP_STARTTLS": "yes"}
    settings = Settings.from_env(flags)
    assert (settings.log_payloads, settings.smtp_starttls) == (False, True)
