"""Collecting the changes that may raise business events, inside a transaction.

Producers (the status writer, holds, splits, the jeopardy check) call the functions
here as they change things; each change is noted in ``session.info`` with a *witness*,
the ORM object the change wrote (a status history row, a hold, the split-off line).
Just before the transaction (or a savepoint) commits, :func:`gateway.events.publisher.publish`
turns the noted changes into outbox rows in that same transaction, so an event commits
with its change or not at all. A change made inside a savepoint that rolled back has a
witness that is no longer in the session, and raises nothing.

The hook is a SQLAlchemy ``before_commit`` listener on every ``Session``: no code path
that changes a status can forget to publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from gateway.persistence.models import FulfillLine, Hold, OrderHeader, StatusHistory

__all__ = [
    "Change",
    "HoldChange",
    "JeopardyChange",
    "SplitChange",
    "StatusChange",
    "hold_changed",
    "install",
    "jeopardy_raised",
    "line_split",
    "status_changed",
    "take",
]

_KEY = "omgw.events"


@dataclass(frozen=True)
class StatusChange:
    history: StatusHistory

    @property
    def witness(self) -> object:
        return self.history


@dataclass(frozen=True)
class HoldChange:
    hold: Hold
    released: bool

    @property
    def witness(self) -> object:
        return self.hold


@dataclass(frozen=True)
class SplitChange:
    """``original`` kept ``shipped`` of ``pre_split`` and ``rest`` took the remainder."""

    original: FulfillLine
    rest: FulfillLine
    pre_split: Decimal

    @property
    def witness(self) -> object:
        return self.rest


@dataclass(frozen=True)
class JeopardyChange:
    header: OrderHeader
    fline: FulfillLine
    priority: str

    @property
    def witness(self) -> object:
        return self.fline


Change = StatusChange | HoldChange | SplitChange | JeopardyChange


@dataclass
class _Pending:
    changes: list[Change] = field(default_factory=list)


def _pending(session: Session) -> _Pending:
    found = session.info.get(_KEY)
    if found is None:
        found = session.info[_KEY] = _Pending()
    assert isinstance(found, _Pending)
    return found


def status_changed(session: Session, history: StatusHistory) -> None:
    _pending(session).changes.append(StatusChange(history))


def hold_changed(session: Session, hold: Hold, released: bool) -> None:
    _pending(session).changes.append(HoldChange(hold, released))


def line_split(session: Session, original: FulfillLine, rest: FulfillLine, pre: Decimal) -> None:
    _pending(session).changes.append(SplitChange(original, rest, pre))


def jeopardy_raised(
    session: Session, header: OrderHeader, fline: FulfillLine, priority: str
) -> None:
    _pending(session).changes.append(JeopardyChange(header, fline, priority))


def _alive(session: Session, witness: object) -> bool:
    state = inspect(witness)
    return state.session_id == session.hash_key and (state.pending or state.persistent)


def take(session: Session) -> list[Change]:
    """The changes noted since the last call whose writes still stand, in order."""
    pending = session.info.get(_KEY)
    if pending is None or not pending.changes:
        return []
    changes, pending.changes = pending.changes, []
    return [c for c in changes if _alive(session, c.witness)]


def _before_commit(session: Session) -> None:
    if session.info.get(_KEY) is None or not session.info[_KEY].changes:
        return
    from gateway.events.publisher import publish  # the publisher imports the order model

    publish(session)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # a whole transaction rolled back: what it noted never happened
    if transaction.parent is None and _KEY in session.info:
        session.info[_KEY].changes.clear()


def install() -> None:
    """Hook every session (idempotent)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


install()
