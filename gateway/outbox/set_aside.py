"""Setting outbox messages aside: parking them, so the worker stops sending them, and
discarding them, so they are never sent or replayed again (``omgw messages park|discard``).

* :meth:`SetAside.park` turns ``READY`` rows ``PARKED``, e.g. while a receiver asks for a
  pause. The admin's reason becomes the row's last error (``parked by alice: …``);
  :class:`~gateway.outbox.replay.Replayer` puts a parked row back in the queue.
* :meth:`SetAside.discard` turns ``PARKED`` rows, and ``READY`` ones named by id or
  message id, ``DISCARDED``: the worker never sends them and replay skips them. A
  fulfillment request is refused without ``force``: its lines would wait on a request
  that is never sent, and the order would have to be handled by hand. Business events
  and e-mails are notifications and need no ``force``; neither does a request of a
  revised order (its request is ``SUPERSEDED``: the worker would discard it anyway).
* A row under a live lease is being sent: it is refused, with the seconds its lease has
  left. The worker records a send only on a row still ``READY`` and leased to it, so a
  row set aside under its feet would lose the outcome (and a synchronous answer would
  not be applied). A row whose lease ran out (its worker died mid-send) may have reached
  the receiver: it is set aside marked ``uncertain``, as the next claim would mark it.
* Rows are locked while judged. PostgreSQL: ``FOR UPDATE SKIP LOCKED``; a row another
  transaction holds (a worker claiming it or recording its send, an admin replaying it)
  is refused as busy rather than waited for, so no worker ever waits on an admin.
  SQLite: every transaction begins ``IMMEDIATE``, so no other writer holds a row.

Both run in the caller's transaction and write one audit entry per row changed; a dry
run locks nothing and changes nothing. The results say what happened to each row
selected (:class:`SetAsideItem`) and serialise with ``to_json()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.errors import ValidationError
from gateway.outbox.message_filter import MessageFilter, connector_name, find_message, message_query
from gateway.outbox.replay import superseded_requests
from gateway.outbox.replay_verdicts import REFUSED, SKIPPED, ReplayItem, Verdicts
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import OutboxMessage, as_utc, utcnow

__all__ = [
    "DISCARD",
    "DISCARDED",
    "PARK",
    "PARKED",
    "REASON_MAX",
    "SetAside",
    "SetAsideItem",
    "SetAsideResult",
]

#: the two operations, as named in results and audit entries
PARK, DISCARD = "park", "discard"
#: a row's verdict when it was set aside, which is also the status it is given; a row
#: that was not gets replay's REFUSED or SKIPPED
PARKED, DISCARDED = "PARKED", "DISCARDED"
#: the longest reason kept (it becomes the row's last error)
REASON_MAX = 500

_DONE = {PARK: PARKED, DISCARD: DISCARDED}
#: the status a selection that names no row looks in unless it says otherwise
_DEFAULT_STATUS = {PARK: "READY", DISCARD: "PARKED"}
_NOTIFICATIONS = ("BUSINESS_EVENT", "EMAIL")
#: a row another transaction holds is free again once that transaction ends (a claim
#: or a recording takes a moment)
_BUSY_RETRY_SECONDS = 1


@dataclass(frozen=True)
class SetAsideItem(ReplayItem):
    """What parking or discarding did (or, in a dry run, would do) with one row, and why:
    a replay's verdict (PARKED | DISCARDED | REFUSED | SKIPPED here), and ``retry_after``,
    set on a row refused because it is being sent: the seconds after which asking again
    finds it free (its send recorded, or at the latest its lease over).
    """

    retry_after: int | None = None


@dataclass(frozen=True)
class SetAsideResult(Verdicts[SetAsideItem]):
    """Every row selected, with its verdict; ``action`` is ``park`` or ``discard``.

    ``to_json()`` gives, e.g.::

        {"action": "park", "dry_run": false, "force": false, "reason": "partner asked",
         "selection": "status READY, connector WMS01_Fulfillment",
         "parked": 1, "refused": 1, "skipped": 0,
         "messages": [{"verdict": "PARKED", "id": 7, "message_id": "urn:uuid:…", …}, …],
         "error": {"code": "PARK_INCOMPLETE", "message": "…"}}

    with the count of changed rows under ``parked`` or ``discarded``, and ``error`` only
    when a row was refused or skipped.
    """

    action: str
    items: tuple[SetAsideItem, ...]
    reason: str
    dry_run: bool = False
    force: bool = False
    #: the selection as judged, the default status included (``status READY, connector X``)
    selection: str = ""

    @property
    def changed(self) -> list[SetAsideItem]:
        """The rows parked or discarded (in a dry run: that would be)."""
        return self.having(_DONE[self.action])

    @property
    def retry_after(self) -> int | None:
        """When every row refused as being sent is free again, in seconds; None if none."""
        waits = [i.retry_after for i in self.refused if i.retry_after is not None]
        return max(waits) if waits else None

    @property
    def problem(self) -> str | None:
        """What was not set aside, in a sentence or two; None when everything was."""
        parts = []
        sending = [i for i in self.refused if i.retry_after is not None]
        requests = [i for i in self.refused if i.retry_after is None]
        if sending:
            parts.append(
                f"busy right now: {self._names(sending)}: try again in {self.retry_after} s"
            )
        if requests:
            parts.append(
                f"refused without force: {self._names(requests)}: fulfillment requests whose "
                "lines would wait on a request that is never sent; force discards them "
                "anyway, and their orders must then be handled by hand"
            )
        if self.skipped:
            done = _DONE[self.action].lower()
            parts.append(f"not {done}: {self._names(self.skipped)}: see the reasons given")
        return ". ".join(parts) or None

    def to_json(self) -> dict[str, Any]:
        head = {
            "action": self.action,
            "dry_run": self.dry_run,
            "force": self.force,
            "reason": self.reason,
            "selection": self.selection,
        }
        code = f"{self.action.upper()}_INCOMPLETE"
        return self._report(head, _DONE[self.action], code, self.problem)


@dataclass(frozen=True)
class _Verdict:
    verdict: str
    reason: str | None = None
    retry_after: int | None = None
    #: the row's last send may have reached the receiver: it is set aside ``uncertain``
    stale_lease: bool = False
    forced: bool = False


class SetAside:
    """Parks and discards outbox rows in the caller's transaction, as ``actor``.

    :param session: a session inside the caller's write transaction (it commits)
    :param actor: who asks, for the rows' last error and the audit log

    Example::

        with runtime.sessions() as s, s.begin():
            result = SetAside(s, "alice").park(
                MessageFilter(connector="WMS01_Fulfillment"), reason="WMS01 asked for a pause"
            )
        print(result.to_json())
    """

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self._actor = actor

    def park(
        self,
        f: MessageFilter,
        *,
        reason: str,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> SetAsideResult:
        """Park the ``READY`` rows ``f`` selects (those in ``READY`` unless ``f`` names
        rows or a status): the worker stops sending them until they are replayed.

        :param f: which rows; it must narrow by more than status
        :param reason: why, kept as each row's last error and in the audit log
        :param dry_run: judge every row and change nothing
        :param now: the time to judge leases by (default: now)
        """
        return self._run(PARK, f, reason, force=False, dry_run=dry_run, now=now)

    def discard(
        self,
        f: MessageFilter,
        *,
        reason: str,
        force: bool = False,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> SetAsideResult:
        """Discard the ``PARKED`` rows ``f`` selects, and ``READY`` ones it names by id or
        message id (those in ``PARKED`` unless ``f`` names rows or a status): never sent
        or replayed again.

        :param f: which rows; it must narrow by more than status
        :param reason: why, kept as each row's last error and in the audit log
        :param force: also discard fulfillment requests, leaving their lines waiting on
            nothing: their orders must then be handled by hand
        :param dry_run: judge every row and change nothing
        :param now: the time to judge leases by (default: now)
        """
        return self._run(DISCARD, f, reason, force=force, dry_run=dry_run, now=now)

    # -- judging ------------------------------------------------------------------------

    def _run(
        self,
        action: str,
        f: MessageFilter,
        reason: str,
        *,
        force: bool,
        dry_run: bool,
        now: datetime | None,
    ) -> SetAsideResult:
        if not f.selects:
            raise ValidationError(
                "MISSING_KEY",
                f"say which messages to {action}: --id, --message-id, --connector, --order, "
                "--since or --until (or --kind)",
            )
        reason = " ".join(reason.split())
        if not reason:
            raise ValidationError("MISSING_KEY", f"say why the messages are {_DONE[action]}")
        if len(reason) > REASON_MAX:
            raise ValidationError(
                "INVALID_VALUE", f"the reason is longer than {REASON_MAX} characters"
            )
        if f.status is None and not f.names_rows:
            f = replace(f, status=_DEFAULT_STATUS[action])
        now = as_utc(now or utcnow())
        assert now is not None
        rows, busy = self._select(f, dry_run)
        superseded = superseded_requests(
            self._s, {r.request_id for r in rows if r.request_id is not None}
        )
        items = self._not_selected(f, rows, busy)
        for row in rows:
            if row.id in busy:
                judged = _Verdict(
                    REFUSED,
                    "another transaction holds it right now (a worker claiming it or "
                    "recording its send, or an admin); try again in a moment",
                    _BUSY_RETRY_SECONDS,
                )
            elif action == PARK:
                judged = _judge_park(row, now, superseded)
            else:
                judged = _judge_discard(row, now, superseded, f.names_rows, force)
            was = row.status
            if judged.verdict == _DONE[action] and not dry_run:
                self._set_aside(action, row, reason, now, judged)
            items.append(_item(row, judged, was))
        return SetAsideResult(action, tuple(items), reason, dry_run, force, f.describe())

    def _select(self, f: MessageFilter, dry_run: bool) -> tuple[list[OutboxMessage], set[int]]:
        """The selected rows, in id order, and those of them another transaction holds
        (PostgreSQL only; a dry run locks nothing and finds none busy)."""
        stmt = message_query(self._s, f).order_by(OutboxMessage.id)
        if dry_run or self._s.get_bind().dialect.name != "postgresql":
            return list(self._s.scalars(stmt)), set()
        # the rows as they are now, not as the caller's session last saw them
        locked = list(
            self._s.scalars(
                stmt.with_for_update(of=OutboxMessage, skip_locked=True).execution_options(
                    populate_existing=True
                )
            )
        )
        every = list(self._s.scalars(stmt.with_only_columns(OutboxMessage.id)))
        busy = set(every) - {r.id for r in locked}
        held = [self._s.get(OutboxMessage, id_) for id_ in sorted(busy)]
        rows = sorted([*locked, *(r for r in held if r is not None)], key=lambda r: r.id)
        return rows, busy

    def _not_selected(
        self, f: MessageFilter, rows: Sequence[OutboxMessage], busy: set[int]
    ) -> list[SetAsideItem]:
        """Rows named by id or message id that the selection does not hold, and why."""
        found = {r.id for r in rows}
        others = f.criteria.describe()
        named: list[tuple[str, OutboxMessage | None]] = [
            (str(id_), self._s.get(OutboxMessage, id_)) for id_ in f.ids
        ]
        named += [(mid, find_message(self._s, mid)) for mid in f.message_ids]
        out: list[SetAsideItem] = []
        for key, row in named:
            if row is None:
                out.append(SetAsideItem(SKIPPED, None, key, reason=f"no outbox message {key}"))
            elif row.id not in found:
                found.add(row.id)  # named twice (by id and message id): reported once
                why = _Verdict(SKIPPED, f"not selected: it does not match {others}")
                out.append(_item(row, why, row.status))
        return out

    # -- changing -----------------------------------------------------------------------

    def _set_aside(
        self, action: str, row: OutboxMessage, reason: str, now: datetime, judged: _Verdict
    ) -> None:
        before = {
            "status": row.status,
            "attempts": row.attempts,
            "uncertain": row.uncertain,
            "lease_owner": row.lease_owner,
        }
        row.status = _DONE[action]
        row.parked_at = now
        row.last_error = f"{_DONE[action].lower()} by {self._actor}: {reason}"
        row.lease_owner = None
        row.lease_until = None
        if judged.stale_lease:
            row.uncertain = True
        after = {
            "status": row.status,
            "reason": reason,
            "uncertain": row.uncertain,
            "forced": judged.forced,
            "id": row.id,
            "connector": connector_name(row),
            "order_number": row.order_number,
        }
        audit_trail.record(
            self._s, self._actor, Change(action, "outbox", row.message_id, before, after)
        )


def _item(row: OutboxMessage, judged: _Verdict, was: str) -> SetAsideItem:
    return SetAsideItem.of(row, judged.verdict, judged.reason, was, retry_after=judged.retry_after)


def _sending(row: OutboxMessage, now: datetime) -> _Verdict | None:
    """A refusal for a row a worker is sending now (its lease is live), else None."""
    until = as_utc(row.lease_until)
    if row.lease_owner is None or until is None or until <= now:
        return None
    left = max(1, math.ceil((until - now).total_seconds()))
    return _Verdict(
        REFUSED, f"being sent by {row.lease_owner} right now; try again in {left} s", left
    )


def _stale(row: OutboxMessage) -> str | None:
    """Why a row no worker holds any more may have reached the receiver: its lease ran
    out during a send (the worker died); None for a row no worker has held since."""
    if row.lease_owner is None:
        return None
    return (
        f"the lease of {row.lease_owner} ran out during a send, which may have reached "
        "the receiver: it is marked uncertain"
    )


def _discarded_note(row: OutboxMessage) -> str:
    why = f" ({row.last_error})" if row.last_error else ""
    return f"DISCARDED{why}: it is never sent again"


def _judge_park(row: OutboxMessage, now: datetime, superseded: set[int]) -> _Verdict:
    if row.status == "PARKED":
        return _Verdict(SKIPPED, "already PARKED: the worker does not send it")
    if row.status == "DELIVERED":
        return _Verdict(SKIPPED, "it was DELIVERED: nothing is left to send")
    if row.status == "DISCARDED":
        return _Verdict(SKIPPED, _discarded_note(row))
    if row.request_id in superseded:
        return _Verdict(
            SKIPPED,
            f"its order was revised since: fulfillment request {row.request_id} is "
            "SUPERSEDED, so the worker discards it instead of sending it",
        )
    if (sending := _sending(row, now)) is not None:
        return sending
    stale = _stale(row)
    return _Verdict(PARKED, stale, stale_lease=stale is not None)


def _judge_discard(
    row: OutboxMessage, now: datetime, superseded: set[int], named: bool, force: bool
) -> _Verdict:
    if row.status == "DISCARDED":
        return _Verdict(SKIPPED, f"already {_discarded_note(row)}")
    if row.status == "DELIVERED":
        return _Verdict(SKIPPED, "it was DELIVERED: the receiver has it; nothing to discard")
    notes: list[str] = []
    stale = False
    if row.status == "READY":
        if not named:
            return _Verdict(
                SKIPPED,
                "READY: it is queued; park it first, or name it by id or message id "
                "to discard it while queued",
            )
        if (sending := _sending(row, now)) is not None:
            return sending
        if (why := _stale(row)) is not None:
            stale = True
            notes.append(why)
    forced = False
    if row.request_id in superseded:
        notes.append(
            f"its order was revised since (fulfillment request {row.request_id} is "
            "SUPERSEDED): the worker would discard it anyway"
        )
    elif row.kind not in _NOTIFICATIONS:
        order = f"order {row.order_number}" if row.order_number else "its order"
        danger = (
            f"a fulfillment request: discarded, its lines wait on a request that is never "
            f"sent, and {order} must be handled by hand"
        )
        if not force:
            return _Verdict(REFUSED, f"{danger}; force discards it anyway")
        notes.append(f"forced: {danger}")
        forced = True
    return _Verdict(DISCARDED, "; ".join(notes) or None, stale_lease=stale, forced=forced)
