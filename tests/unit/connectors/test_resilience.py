"""Backoff with full jitter and a cap, the retry budget, and the circuit breaker's
states: closed → open at the threshold → half-open probe → closed or open again."""

from __future__ import annotations

import random

import pytest

from connectors.connector_specs import RetryPolicy
from connectors.resilience import (
    BreakerSettings,
    BreakerState,
    allow,
    backoff_cap,
    next_delay,
    on_failure,
    on_success,
    should_retry,
)

POLICY = RetryPolicy(max_attempts=4, base_delay=2.0, max_delay=10.0)


def test_the_cap_doubles_per_attempt_up_to_max_delay():
    assert [backoff_cap(POLICY, n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_cap(POLICY, 10_000) == 10.0  # no overflow on absurd attempt counts
    with pytest.raises(ValueError, match="attempts count from 1"):
        backoff_cap(POLICY, 0)


def test_delays_are_spread_over_the_whole_window():
    rng = random.Random(4)
    delays = [next_delay(POLICY, 3, rng) for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    # full jitter: both ends of the window are used, not a fixed delay
    assert min(delays) < 0.5 and max(delays) > 7.5
    assert 3.5 < sum(delays) / len(delays) < 4.5


def test_the_retry_budget_counts_attempts_and_then_parks():
    assert [should_retry(POLICY, n) for n in range(1, 6)] == [True, True, True, False, False]
    assert should_retry(RetryPolicy(max_attempts=1), 1) is False  # one try, then park


SETTINGS = BreakerSettings(failure_threshold=3, cool_down=30.0)


def test_the_breaker_opens_at_the_threshold_and_holds_calls():
    state = BreakerState()
    for now in (1.0, 2.0):
        state = on_failure(state, SETTINGS, now)
        assert state.state == "CLOSED" and allow(state, SETTINGS, now)[0]
    state = on_failure(state, SETTINGS, 3.0)
    assert (state.state, state.failures, state.opened_at) == ("OPEN", 3, 3.0)
    assert allow(state, SETTINGS, 32.9) == (False, state)


def test_a_success_while_closed_resets_the_count():
    state = on_failure(on_failure(BreakerState(), SETTINGS, 1.0), SETTINGS, 2.0)
    state = on_success(state)
    state = on_failure(on_failure(state, SETTINGS, 3.0), SETTINGS, 4.0)
    assert state.state == "CLOSED"  # two, not four, consecutive failures


def test_after_the_cool_down_one_probe_goes_and_decides():
    opened = BreakerState("OPEN", 3, 3.0)
    allowed, probing = allow(opened, SETTINGS, 33.0)
    assert allowed and (probing.state, probing.probing_since) == ("HALF_OPEN", 33.0)
    assert allow(probing, SETTINGS, 34.0) == (False, probing)  # one probe at a time
    assert on_success(probing) == BreakerState()
    reopened = on_failure(probing, SETTINGS, 35.0)
    assert (reopened.state, reopened.opened_at) == ("OPEN", 35.0)
    assert allow(reopened, SETTINGS, 64.9)[0] is False
    assert allow(reopened, SETTINGS, 65.0)[0] is True


def test_a_lost_probe_does_not_hold_the_queue_for_ever():
    probing = BreakerState("HALF_OPEN", 3, 3.0, 33.0)
    assert allow(probing, SETTINGS, 62.9)[0] is False
    allowed, again = allow(probing, SETTINGS, 63.0)
    assert allowed and again.probing_since == 63.0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="failure_threshold >= 1"):
        BreakerSettings(failure_threshold=0)
