"""How the simulated fulfillment system behaves: :class:`SimulatorOptions`.

The options are checked as they are made, at start and at every ``POST /simulator/control``
(:data:`CONTROLLABLE` says which may change while the simulator runs), so a value out of
range is refused with a message naming it rather than met later by a request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from simulators import change_answers, harness
from simulators.callbacks import redact

__all__ = ["CONTROLLABLE", "SimulatorOptions"]

#: the options ``POST /simulator/control`` may change while the simulator runs
CONTROLLABLE = frozenset(
    {
        "delay",
        "fail_first",
        "fault_first",
        "failure_rate",
        "fault_rate",
        "partial_rate",
        "backorder_rate",
        "slow",
        "duplicate_callbacks",
        "change_answer",
    }
)
_RATES = ("failure_rate", "fault_rate", "partial_rate", "backorder_rate")
_SECONDS = ("delay", "slow")


@dataclass(frozen=True)
class SimulatorOptions:
    """How the simulated fulfillment system behaves.

    :param system: its fulfillment system code (``FulfillmentSystem`` in callbacks)
    :param delay: seconds between accepting an asynchronous request and calling back; the
        delay in force when a request is accepted is the one it waits, so a change applies
        to the requests accepted after it
    :param failure_rate: share of requests answered HTTP 503, recording nothing (an outage)
    :param fault_rate: share of requests answered with a SOAP ``Client`` fault, recording nothing
    :param partial_rate: share of shipped lines shipped half (rounded down, at least 1)
    :param backorder_rate: share of shipment lines answered ``BACKORDERED``
    :param slow: seconds to wait before answering any SOAP request (to provoke timeouts)
    :param duplicate_callbacks: send every callback twice (to test the gateway's dedupe)
    :param username: the user callers must authenticate as; ``None`` checks nothing
    :param password: that user's password (WS-Security UsernameToken or HTTP Basic)
    :param gateway_url: the gateway's base URL, for requests without ``wsa:ReplyTo``
    :param gateway_user: the user to call the gateway back as (HTTP Basic)
    :param gateway_password: that user's password
    :param fail_first: the first this many requests are answered HTTP 503 (an outage at
        start-up: the gateway retries them)
    :param fault_first: the next this many requests are answered with a SOAP ``Client``
        fault (the gateway parks them, for an operator to replay)
    :param change_answer: how Update and Cancel requests are answered: ``auto`` by whether
        the lines have shipped, ``accept`` always, ``reject`` always ``CHANGE_REJECTED``,
        ``shipped`` always ``ALREADY_SHIPPED`` (shipping the lines that had not yet shipped)
    :param seed: seeds every random draw, so a run can be repeated exactly
    :param callback_timeout: seconds each callback may take
    :param callback_retries: retries of a callback that failed in transport or with a 5xx
    :param callback_backoff: seconds before the first retry; doubled each time, capped at 5 s
    """

    system: str = "WMS01"
    delay: float = 0.2
    failure_rate: float = 0.0
    fault_rate: float = 0.0
    partial_rate: float = 0.0
    backorder_rate: float = 0.0
    slow: float = 0.0
    duplicate_callbacks: bool = False
    change_answer: str = "auto"
    fail_first: int = 0
    fault_first: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    gateway_url: str = "http://127.0.0.1:8080"
    gateway_user: str | None = None
    gateway_password: str | None = field(default=None, repr=False)
    seed: int = 0
    callback_timeout: float = 10.0
    callback_retries: int = 5
    callback_backoff: float = 0.5

    def __post_init__(self) -> None:
        if not self.system or not self.system.strip() or len(self.system) > 30:
            raise ValueError("system: a fulfillment system code of 1 to 30 characters")
        for name in _RATES:
            harness.check_rate(name, getattr(self, name))
        for name in _SECONDS:
            harness.check_seconds(name, getattr(self, name))
        for name in ("fail_first", "fault_first"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: a whole number of requests, 0 or more")
        if not isinstance(self.duplicate_callbacks, bool):
            raise ValueError("duplicate_callbacks: true or false")
        if self.change_answer not in change_answers.CHANGE_ANSWERS:
            raise ValueError(f"change_answer: one of {', '.join(change_answers.CHANGE_ANSWERS)}")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if self.callback_timeout <= 0 or self.callback_retries < 0 or self.callback_backoff < 0:
            raise ValueError("callback_timeout must be positive; retries and backoff not negative")
        scheme = urlsplit(self.gateway_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"gateway_url: an http(s) URL, not {self.gateway_url!r}")

    def public(self) -> dict[str, Any]:
        """The options as JSON-ready data, without any password."""
        data = dataclasses.asdict(self)
        del data["password"], data["gateway_password"]
        data["gateway_url"] = redact(self.gateway_url)
        data["authentication"] = self.username is not None
        return data
