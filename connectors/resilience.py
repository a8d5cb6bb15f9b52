"""Retry timing and the circuit breaker, as pure functions over small immutable states.

The outbox keeps these states in the database, so every worker on every machine
sees one breaker per connector; nothing here does I/O or reads a clock: callers pass
``now`` (seconds, any monotonic-enough epoch) and a random source.

* **Backoff** is "full jitter" (AWS architecture blog): attempt *n* (1-based) waits a
  uniform time in ``[0, min(max_delay, base_delay · 2ⁿ⁻¹)]``, so many senders retrying
  one endpoint spread out instead of arriving together.
* **Breaker**: ``CLOSED`` lets calls through and counts consecutive failures; at the
  threshold it goes ``OPEN`` and holds the connector's queue (nothing fails, nothing is
  sent) for ``cool_down`` seconds; then one probe is let through (``HALF_OPEN``). A
  probe that succeeds closes it, one that fails opens it again for another cool-down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Protocol

from connectors.connector_specs import RetryPolicy

__all__ = [
    "BreakerSettings",
    "BreakerState",
    "allow",
    "backoff_cap",
    "next_delay",
    "on_failure",
    "on_success",
    "should_retry",
]


class _Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def backoff_cap(policy: RetryPolicy, attempt: int) -> float:
    """The longest wait after failed attempt ``attempt`` (1-based)."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    # 2**63 would overflow a float's precision long before any cap matters; stop at 62
    return float(min(policy.max_delay, policy.base_delay * 2 ** min(attempt - 1, 62)))


def next_delay(policy: RetryPolicy, attempt: int, rng: _Uniform | None = None) -> float:
    """Seconds to wait before the attempt after ``attempt`` (full jitter)."""
    return (rng or random).uniform(0.0, backoff_cap(policy, attempt))


def should_retry(policy: RetryPolicy, attempt: int) -> bool:
    """Whether a retryable failure of attempt ``attempt`` gets another attempt; when not,
    the message goes to the parking lot (never dropped)."""
    return attempt < policy.max_attempts


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 5
    cool_down: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.cool_down < 0:
            raise ValueError("a breaker needs failure_threshold >= 1 and cool_down >= 0")


@dataclass(frozen=True)
class BreakerState:
    state: str = "CLOSED"  # CLOSED | OPEN | HALF_OPEN
    failures: int = 0  # consecutive failures while closed
    opened_at: float | None = None  # when it last opened
    probing_since: float | None = None  # when the half-open probe was let through


def allow(state: BreakerState, settings: BreakerSettings, now: float) -> tuple[bool, BreakerState]:
    """Whether a call may go now, and the state after deciding.

    Half-open admits one probe at a time; if the probe's outcome is never recorded (a
    worker died mid-call), another probe is admitted after a further cool-down, so a
    lost probe cannot hold the queue for ever.
    """
    if state.state == "CLOSED":
        return True, state
    if state.state == "OPEN":
        assert state.opened_at is not None
        if now - state.opened_at >= settings.cool_down:
            return True, replace(state, state="HALF_OPEN", probing_since=now)
        return False, state
    assert state.probing_since is not None
    if now - state.probing_since >= settings.cool_down:
        return True, replace(state, probing_since=now)
    return False, state


def on_success(state: BreakerState) -> BreakerState:
    """A call succeeded: the breaker closes and forgets the failures."""
    return BreakerState()


def on_failure(state: BreakerState, settings: BreakerSettings, now: float) -> BreakerState:
    """A retryable call failed (transport, timeout, 5xx): count it, open at the
    threshold; a failed half-open probe opens the breaker again at once."""
    if state.state == "HALF_OPEN":
        return BreakerState("OPEN", state.failures + 1, now, None)
    failures = state.failures + 1
    if state.state == "CLOSED" and failures >= settings.failure_threshold:
        return BreakerState("OPEN", failures, now, None)
    return replace(state, failures=failures)
