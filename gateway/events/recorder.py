"""Collecting the changes that may raise business events, inside a transaction.

Producers (the status writer, holds, splits, the jeopardy check) call the functions
here as they change things; each change is noted in ``session.info``. Just before the
transaction commits, :func:`gateway.events.publisher.publish` (registered with
:func:`publish_with` when the package is imported) turns the noted changes
into outbox rows in that same transaction, so an event commits with its change or not
at all. A savepoint's release writes nothing: its notes wait for the commit of the
whole transaction.

A status change is noted with its history row (:class:`StatusRecord`), which is not an
ORM object: the rows noted since the last commit are written with one multi-row
``INSERT`` just before it. Nothing reads ``status_history`` inside the transaction that
writes it. A split is noted by the ids of its two lines, an attribute change by its
fulfillment line's id, the attribute and its old and new values. When a savepoint rolls back,
what was noted inside it is forgotten, rows and events alike. Hold and jeopardy changes
also keep the ORM object they wrote as *witness*: one that is no longer in the session
(its savepoint rolled back) raises nothing.

The hooks are SQLAlchemy session listeners on every ``Session``: no code path that
changes a status can forget to write its history or to publish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, SessionTransaction

from gateway.persistence.models import (
    FulfillLine,
    Hold,
    OrderHeader,
    StatusHistory,
    table_of,
    utcnow,
)

__all__ = [
    "AttributeChange",
    "Change",
    "HoldChange",
    "JeopardyChange",
    "SplitChange",
    "StatusChange",
    "StatusRecord",
    "attribute_changed",
    "hold_changed",
    "install",
    "jeopardy_raised",
    "line_split",
    "publish_with",
    "status_changed",
    "take",
]

_KEY = "omgw.events"


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A ``status_history`` row to be written at commit."""

    header_id: int
    entity: str  # HEADER | LINE | FULFILL_LINE
    entity_id: int
    old_status: str | None
    new_status: str
    reason: str
    changed_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class StatusChange:
    history: StatusRecord

    @property
    def witness(self) -> object:
        return None  # forgotten with its savepoint instead (see _Pending.marks)


@dataclass(frozen=True)
class HoldChange:
    hold: Hold
    released: bool

    @property
    def witness(self) -> object:
        return self.hold


@dataclass(frozen=True)
class SplitChange:
    """Fulfillment line ``original_id`` kept part of ``pre_split``; ``rest_id`` took the
    remainder."""

    original_id: int
    rest_id: int
    pre_split: Decimal

    @property
    def witness(self) -> object:
        return None  # forgotten with its savepoint instead (see _Pending.marks)


@dataclass(frozen=True)
class JeopardyChange:
    header: OrderHeader
    fline: FulfillLine
    priority: str

    @property
    def witness(self) -> object:
        return self.fline


@dataclass(frozen=True)
class AttributeChange:
    """Fulfillment line ``fline_id`` of order ``header_id`` now has ``new`` where it had
    ``old``; ``attribute`` is a name of :data:`connectors.trigger_points.ORDER_ATTRIBUTES`."""

    header_id: int
    fline_id: int
    attribute: str
    old: object
    new: object

    @property
    def witness(self) -> object:
        return None  # forgotten with its savepoint instead (see _Pending.marks)


Change = StatusChange | HoldChange | SplitChange | JeopardyChange | AttributeChange


@dataclass
class _Pending:
    changes: list[Change] = field(default_factory=list)
    #: history rows noted since the last write, in the order of the changes
    unwritten: list[StatusRecord] = field(default_factory=list)
    #: each open savepoint with where its notes start in ``changes`` and ``unwritten``
    marks: list[tuple[SessionTransaction, int, int]] = field(default_factory=list)
    #: the savepoint that ended last, kept until SQLAlchemy says whether it rolled back
    ended: tuple[SessionTransaction, int, int] | None = None

    def rewind(self, mark: tuple[SessionTransaction, int, int]) -> None:
        """Forget what was noted since ``mark`` (its savepoint rolled back)."""
        _, changes, unwritten = mark
        del self.changes[changes:]
        del self.unwritten[unwritten:]


def _pending(session: Session) -> _Pending:
    found = session.info.get(_KEY)
    if found is None:
        found = session.info[_KEY] = _Pending()
    assert isinstance(found, _Pending)
    return found


def status_changed(session: Session, record: StatusRecord) -> None:
    pending = _pending(session)
    pending.changes.append(StatusChange(record))
    pending.unwritten.append(record)


def hold_changed(session: Session, hold: Hold, released: bool) -> None:
    _pending(session).changes.append(HoldChange(hold, released))


def line_split(session: Session, original_id: int, rest_id: int, pre: Decimal) -> None:
    _pending(session).changes.append(SplitChange(original_id, rest_id, pre))


def jeopardy_raised(
    session: Session, header: OrderHeader, fline: FulfillLine, priority: str
) -> None:
    _pending(session).changes.append(JeopardyChange(header, fline, priority))


def attribute_changed(
    session: Session, fline: FulfillLine, attribute: str, old: object, new: object
) -> None:
    """Note that ``fline`` (flushed) changed ``attribute``; nothing when it kept its value."""
    if old != new:
        change = AttributeChange(fline.header_id, fline.id, attribute, old, new)
        _pending(session).changes.append(change)


def _alive(session: Session, witness: object) -> bool:
    if witness is None:
        return True
    state = inspect(witness)
    return state.session_id == session.hash_key and (state.pending or state.persistent)


def take(session: Session) -> list[Change]:
    """The changes noted since the last call whose writes still stand, in order."""
    pending = session.info.get(_KEY)
    if pending is None or not pending.changes:
        return []
    changes, pending.changes = pending.changes, []
    return [c for c in changes if _alive(session, c.witness)]


_HISTORY = insert(table_of(StatusHistory))


def _write_history(session: Session, pending: _Pending) -> None:
    rows, pending.unwritten = pending.unwritten, []
    # On the connection: every row names ids that are flushed already, and the ORM's
    # bulk path would autoflush and inspect each dict first.
    session.connection().execute(
        _HISTORY,
        [
            {
                "header_id": r.header_id,
                "entity": r.entity,
                "entity_id": r.entity_id,
                "old_status": r.old_status,
                "new_status": r.new_status,
                "reason": r.reason,
                "changed_at": r.changed_at,
            }
            for r in rows
        ],
    )


#: what turns the noted changes into outbox rows, just before the commit
#: (:func:`gateway.events.publisher.publish`, registered by the package)
_PUBLISHERS: list[Callable[[Session], object]] = []


def publish_with(publish: Callable[[Session], object]) -> None:
    """Have ``publish`` called with the session before each commit with noted changes."""
    if publish not in _PUBLISHERS:
        _PUBLISHERS.append(publish)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A released savepoint waits for the commit: written inside it, rows noted
        # before it would be undone with any savepoint around it that rolls back.
        return
    pending = session.info.get(_KEY)
    if pending is None:
        return
    if pending.unwritten:
        _write_history(session, pending)
    if pending.changes:
        for publish in _PUBLISHERS:
            publish(session)


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        pending = _pending(session)
        pending.marks.append((transaction, len(pending.changes), len(pending.unwritten)))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if pending is None:
        return
    if transaction.parent is None:
        # the whole transaction ended: what it noted was written, or never happened
        session.info.pop(_KEY)
        return
    if transaction.nested:
        # SQLAlchemy ends a savepoint before it reports the rollback (after_soft_rollback)
        for i in range(len(pending.marks) - 1, -1, -1):
            if pending.marks[i][0] is transaction:
                pending.ended = pending.marks.pop(i)
                break


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if pending is not None and pending.ended is not None and pending.ended[0] is previous:
        pending.rewind(pending.ended)
        pending.ended = None


def install() -> None:
    """Hook every session (idempotent)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_transaction_create", _after_transaction_create)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)


install()
