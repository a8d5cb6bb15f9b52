"""The outbox worker: claims rows with a lease, sends them, and records what happened.

:class:`OutboxWorker` puts four roles together, a module each:

- :mod:`gateway.outbox.claims`: which rows are due, leased to one worker at a time, in
  order per connector and order, behind each connector's circuit breaker;
- :mod:`gateway.outbox.delivery`: one row sent through its connector or the SMTP server,
  with its wallet entries;
- :mod:`gateway.outbox.recording`: the attempt, the verdict, the retry or park and the
  breaker's new state, and a synchronous answer applied, in one transaction per batch
  (:mod:`gateway.outbox.breaker_rows` keeps the breaker's row,
  :mod:`gateway.outbox.outcomes` counts and logs);
- :mod:`gateway.outbox.pipeline`: the loop of :meth:`OutboxWorker.run`, with
  ``concurrency`` sender threads between the claims and the recording.

The worker delivers only; the domain jobs (staged work, the jeopardy check, the monitor)
run in the background loop (:mod:`gateway.background`).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from connectors.dispatch import Sender
from connectors.resilience import BreakerSettings
from connectors.verdicts import DELIVERED, PARK, RETRY
from gateway.observe.beats import BEAT_SECONDS, record_beat
from gateway.outbox.claims import Claims
from gateway.outbox.delivery import Claimed, Delivery
from gateway.outbox.pipeline import Pipeline
from gateway.outbox.recording import Recorder
from gateway.persistence.models import utcnow
from gateway.runtime import Runtime

__all__ = ["OutboxWorker", "Pass", "worker_name"]

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass(frozen=True)
class Pass:
    """What one :meth:`OutboxWorker.run_once` did."""

    delivered: int = 0
    retried: int = 0
    parked: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.retried + self.parked


class OutboxWorker:
    """Delivers outbox rows with at most ``concurrency`` sends in flight.

    :param runtime: the database sessions and settings
    :param name: this worker's name in leases and attempts (default host:pid:thread)
    :param concurrency: sends in flight (default ``OMGW_WORKER_CONCURRENCY``)
    :param lease_seconds: the shortest lease (default ``OMGW_LEASE_SECONDS``)
    :param breaker: the breakers' settings (default ``OMGW_BREAKER_*``)
    :param rng: the randomness of the retry backoff
    :param sender: the connectors' HTTP sender
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        name: str | None = None,
        concurrency: int | None = None,
        lease_seconds: float | None = None,
        breaker: BreakerSettings | None = None,
        rng: random.Random | None = None,
        sender: Sender | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.name = name or worker_name()
        self.concurrency = concurrency or settings.worker_concurrency
        self.lease_seconds = lease_seconds or settings.lease_seconds
        self.breaker = breaker or BreakerSettings(
            settings.breaker_failures, settings.breaker_cool_down
        )
        self.claims = Claims(runtime, self.name, self.lease_seconds, self.breaker)
        self.delivery = Delivery(runtime, sender)
        self.recorder = Recorder(runtime, self.name, self.breaker, rng)

    def claim(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due rows to this worker (one short transaction)."""
        return self.claims.take(limit)

    def deliver(self, item: Claimed) -> str:
        """Send one claimed row and record the outcome; returns the verdict."""
        sent = self.delivery.send(item, self.delivery.lookup([item])[0])
        return self.recorder.record_many([sent])[0][0]

    def run_once(self, limit: int | None = None) -> Pass:
        """Claim what is due (up to ``limit``, default the concurrency), send it with the
        pool, record the outcomes, and return the verdicts; for tests and ``omgw worker
        --once``."""
        items = self.claim(limit or self.concurrency)
        if not items:
            return Pass()
        credentials = self.delivery.lookup(items)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="omgw-send") as pool:
            sent = list(pool.map(self.delivery.send, items, credentials))
        verdicts, _held = self.recorder.record_safely(sent)
        return Pass(verdicts.count(DELIVERED), verdicts.count(RETRY), verdicts.count(PARK))

    def drain(self, deadline_seconds: float = 60.0) -> Pass:
        """Run until nothing is due (or the deadline passes)."""
        total = Pass()
        end = time.monotonic() + deadline_seconds
        while time.monotonic() < end:
            done = self.run_once()
            if not done.total:
                break
            total = Pass(
                total.delivered + done.delivered,
                total.retried + done.retried,
                total.parked + done.parked,
            )
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Keep up to ``concurrency`` sends in flight until ``stop`` is set; then finish
        the sends under way (each bounded by its connector's timeout), record them,
        release the claimed rows not sent yet, and return."""
        loop = Pipeline(self.claims, self.delivery, self.recorder, self.concurrency, poll_seconds)
        beat_due = time.monotonic()
        started = utcnow()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="omgw-send") as pool:
            for _ in range(self.concurrency):
                pool.submit(loop.sender)
            try:
                while not stop.is_set():
                    if time.monotonic() >= beat_due:
                        beat_due = time.monotonic() + BEAT_SECONDS
                        self.beat(started)
                    try:
                        loop.step(stop)
                    except Exception:  # nothing is lost: unrecorded leases run out
                        log.exception("outbox worker pass failed; going on in %s s", poll_seconds)
                        stop.wait(poll_seconds)
            finally:
                loop.finish()
        self.delivery.close()

    def beat(self, started: datetime) -> None:
        """Say this worker is alive (``/readyz``, ``omgw status``); a failure is logged
        and the next beat tries again."""
        try:
            with self.runtime.sessions() as s, s.begin():
                record_beat(s, self.name, utcnow(), started)
        except Exception:
            log.exception("could not record that worker %s is alive", self.name)
