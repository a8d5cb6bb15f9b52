"""The pipeline of :meth:`gateway.outbox.worker.OutboxWorker.run`: claimed rows wait for
``concurrency`` sender threads, and what they send is recorded in batches.

The loop's own thread is the only one that touches the database: it claims rows in
chunks of up to 64, keeping about a quarter second of sends waiting (at most 256 rows),
reads each claim's wallet entries once, and records finished sends in batches (up to
128, none waiting over 50 ms; a failure at once). The sender threads take the waiting
rows and send them. A failed send pauses its connector in this worker until it is
recorded; if the breaker opens, the connector's waiting rows go back. A claimed row that
waited for a sender longer than :data:`QUEUE_SLACK_SECONDS` (its lease is then that much
shorter than a claim gives) goes back unsent; a row that goes back gets its attempt back.
On stop, the waiting rows go back and the sends under way are finished and recorded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque

from connectors.verdicts import RETRY
from gateway.outbox.claims import Claims
from gateway.outbox.delivery import Claimed, Delivery, Lookup, Sent
from gateway.outbox.recording import Recorder

__all__ = ["QUEUE_SLACK_SECONDS", "Pipeline"]

log = logging.getLogger(__name__)
#: how long a claimed row may wait for a sender before it is released unsent (its lease
#: then still covers a send as long as the one a claim gives, less this)
QUEUE_SLACK_SECONDS = 1.0
#: how long the claimed rows waiting for a sender should last (at most _MAX_WAITING),
#: claimed at most _CLAIM_CHUNK at a time (a claim of many 30 kB rows takes a while:
#: the senders must not run dry meanwhile)
_QUEUE_SECONDS = 0.25
_MAX_WAITING = 256
_CLAIM_CHUNK = 64
#: finished sends are recorded in batches of up to this many, none waiting longer than
#: this (a failure is recorded at once)
_RECORD_BATCH = 128
_RECORD_SECONDS = 0.05


class Pipeline:
    """The state of :meth:`gateway.outbox.worker.OutboxWorker.run`.

    The loop's thread is the only one that uses the database: it claims rows into
    ``waiting``, records finished sends in batches and gives back rows not sent. The
    ``concurrency`` sender threads take rows from ``waiting`` and send them. A send
    that fails (a ``RETRY`` verdict) pauses its connector here until the failure is
    recorded; if the breaker it feeds opens, the connector's waiting rows go back (the
    queue is held), so a failing endpoint gets no more sends than with one-by-one
    recording."""

    def __init__(
        self,
        claims: Claims,
        delivery: Delivery,
        recorder: Recorder,
        concurrency: int,
        poll_seconds: float,
    ) -> None:
        self.claims = claims
        self.delivery = delivery
        self.recorder = recorder
        self.concurrency = concurrency
        self.poll = poll_seconds
        self.lock = threading.Condition()
        # under the lock: rows to send, connectors held by their breaker, failures
        # sent but not recorded yet (per connector), and whether to stop taking rows
        self.waiting: deque[tuple[Claimed, Lookup, float]] = deque()
        self.held: set[int] = set()
        self.failing: dict[int, int] = {}
        self.stopping = False
        # the loop's own: what the senders hand back, rows claimed and not yet back
        self.back: queue.SimpleQueue[Sent | Claimed | None] = queue.SimpleQueue()
        self.pending = 0
        self.unrecorded: list[Sent] = []
        self.oldest = 0.0  # when the oldest unrecorded send finished
        self.send_seconds: float | None = None  # moving average of one send
        self.next_claim = 0.0  # when to look again after a claim that found less than asked
        self.claim_interval = min(poll_seconds, 0.05)

    # -- the senders' side ------------------------------------------------------------

    def _paused(self, connector_id: int | None) -> bool:
        return connector_id is not None and (
            connector_id in self.held or self.failing.get(connector_id, 0) > 0
        )

    def _take(self) -> tuple[Claimed, Lookup, float] | None:
        """The first waiting row whose connector is not paused (under the lock)."""
        if not self.held and not self.failing:
            return self.waiting.popleft() if self.waiting else None
        for n, entry in enumerate(self.waiting):
            if not self._paused(entry[0].connector_id):
                del self.waiting[n]
                return entry
        return None

    def sender(self) -> None:
        """A sender thread: send waiting rows until the loop stops."""
        while True:
            with self.lock:
                entry = self._take()
                while entry is None:
                    if self.stopping:
                        return
                    self.lock.wait()
                    entry = self._take()
            item, credential, claimed_at = entry
            if time.monotonic() - claimed_at > QUEUE_SLACK_SECONDS:
                self.back.put(item)  # its lease is shorter than a claim gives: back
                continue
            try:
                sent: Sent | None = self.delivery.send(item, credential)
            except BaseException:
                log.exception("outbox %s: the send failed unexpectedly", item.id)
                sent = None  # not recorded: its lease runs out, and it is sent again
            if sent is not None and sent.result.outcome == RETRY and item.connector_id:
                with self.lock:
                    self.failing[item.connector_id] = self.failing.get(item.connector_id, 0) + 1
            self.back.put(sent)

    # -- the loop's side --------------------------------------------------------------

    def _batch(self) -> int:
        """How many claimed rows to keep waiting: what the senders should finish in
        ``_QUEUE_SECONDS``."""
        low = 2 * self.concurrency
        if not self.send_seconds:
            return low
        ahead = int(_QUEUE_SECONDS * self.concurrency / self.send_seconds)
        return max(low, min(_MAX_WAITING, ahead))

    def _collect(self, timeout: float | None) -> None:
        """Take what the senders handed back (waiting up to ``timeout`` for the first)."""
        got: list[Sent | Claimed | None] = []
        try:
            if timeout is not None:
                got.append(self.back.get(timeout=timeout))
            while True:
                got.append(self.back.get_nowait())
        except queue.Empty:
            pass
        self.pending -= len(got)
        late = [g for g in got if isinstance(g, Claimed)]
        self.claims.release(late)
        for sent in got:
            if isinstance(sent, Sent):
                if not self.unrecorded:
                    self.oldest = time.monotonic()
                self.unrecorded.append(sent)
                seconds = max(sent.seconds, 0.0001)
                avg = self.send_seconds
                self.send_seconds = seconds if avg is None else 0.8 * avg + 0.2 * seconds

    def _record(self, force: bool = False) -> None:
        """Record the finished sends: at once after a failure, when a batch is full or
        its oldest waited ``_RECORD_SECONDS``, or when nothing else is under way."""
        batch = self.unrecorded
        if not batch:
            return
        failures = [s.item.connector_id for s in batch if s.result.outcome == RETRY]
        if not (
            force
            or failures
            or len(batch) >= _RECORD_BATCH
            or len(batch) >= self.pending + len(batch)
            or time.monotonic() - self.oldest >= _RECORD_SECONDS
        ):
            return
        self.unrecorded = []
        _verdicts, held = self.recorder.record_safely(batch)
        with self.lock:
            for cid in failures:
                if cid is not None:
                    self.failing[cid] -= 1
                    if not self.failing[cid]:
                        del self.failing[cid]
            self.held |= held
            gone = [e[0] for e in self.waiting if e[0].connector_id in held]
            if gone:  # the breaker holds the connector's queue: here too
                self.waiting = deque(e for e in self.waiting if e[0].connector_id not in held)
            self.lock.notify_all()
        self.pending -= len(gone)
        self.claims.release(gone)

    def _claim(self) -> int:
        now = time.monotonic()
        with self.lock:
            waiting = len(self.waiting)
        batch = self._batch()
        # claim again while half a batch still waits: the senders never run dry
        if waiting > max(self.concurrency, batch // 2) or now < self.next_claim:
            return 0
        want = min(_CLAIM_CHUNK, batch - waiting)
        try:
            items = self.claims.take(want)
        except Exception:
            log.exception("outbox claim failed; retrying in %s s", self.poll)
            self.next_claim = now + self.poll
            return 0
        self.next_claim = 0.0 if len(items) >= want else now + self.claim_interval
        if not items:
            return 0
        try:
            credentials = self.delivery.lookup(items)
        except Exception:
            log.exception("reading the wallet failed; the claimed rows go back")
            self.claims.release(items)
            self.next_claim = now + self.poll
            return 0
        with self.lock:
            # the claim let them through: their breakers allow calls (or one probe)
            self.held -= {i.connector_id for i in items if i.connector_id is not None}
            self.waiting.extend((i, c, now) for i, c in zip(items, credentials, strict=True))
            self.lock.notify_all()
        self.pending += len(items)
        return len(items)

    def step(self, stop: threading.Event) -> None:
        """One pass: take what came back, record it (in batches), claim more when few
        rows are waiting, then wait for a send to finish (or ``poll`` seconds)."""
        self._collect(None)
        self._record()
        claimed = self._claim()
        if claimed:
            return
        if not self.pending:
            self._record(force=True)
            stop.wait(self.poll)
            return
        timeout = self.poll
        if self.unrecorded:
            timeout = max(0.0, min(timeout, self.oldest + _RECORD_SECONDS - time.monotonic()))
        self._collect(timeout)

    def finish(self) -> None:
        """On stop: give back the rows not sent, let the sends under way finish, record."""
        with self.lock:
            self.stopping = True
            unsent = [e[0] for e in self.waiting]
            self.waiting.clear()
            self.lock.notify_all()
        self.pending -= len(unsent)
        self.claims.release(unsent)
        while self.pending > 0:
            self._collect(self.poll)
        self._record(force=True)
