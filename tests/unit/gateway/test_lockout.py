"""The lockout rules as pure functions of a tally and the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.security.lockout import (
    LockoutPolicy,
    Tally,
    address_subject,
    after_failure,
    locked_until,
    user_subject,
)

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=5))


def failures(count: int, every: timedelta = timedelta(seconds=1)) -> Tally | None:
    tally = None
    for n in range(count):
        tally = after_failure(tally, T0 + n * every, 3, POLICY)
    return tally


def test_the_limit_locks_for_the_lockout_time_and_starts_a_fresh_count():
    assert failures(2) == Tally(2, T0)
    third = T0 + timedelta(seconds=2)
    assert failures(3) == Tally(0, third, third + timedelta(minutes=5))
    assert locked_until(failures(3), third + timedelta(minutes=4)) == third + timedelta(minutes=5)
    assert locked_until(failures(3), third + timedelta(minutes=5)) is None


def test_failures_older_than_the_window_are_forgotten():
    assert failures(3, every=timedelta(minutes=8)) == Tally(1, T0 + timedelta(minutes=16))


def test_a_failure_while_locked_changes_nothing():
    locked = failures(3)
    assert after_failure(locked, T0 + timedelta(minutes=1), 3, POLICY) == locked


def test_a_limit_of_zero_never_locks():
    tally = None
    for n in range(100):
        tally = after_failure(tally, T0 + timedelta(seconds=n), 0, POLICY)
    assert tally == Tally(100, T0) and locked_until(tally, T0) is None


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_an_ipv6_host_is_counted_by_its_64_network(address, counted_as):
    assert address_subject(address).name == counted_as


def test_keys_are_fixed_length_hashes_that_tell_users_and_addresses_apart():
    assert user_subject("127.0.0.1").key != address_subject("127.0.0.1").key
    assert len(user_subject("x" * 5000).key) == 64


def test_the_settings_round_trip_through_the_environment():
    settings = Settings(
        home=Path("/tmp/omgw"),
        database_url="sqlite:///x.db",
        clock_skew_seconds=30,
        auth_max_failures=4,
        auth_address_max_failures=0,
        auth_failure_window_seconds=120,
        auth_lockout_seconds=60,
    )
    assert Settings.from_env(settings.to_env()) == settings
