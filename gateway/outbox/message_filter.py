"""Selecting outbox rows (``omgw messages``, the console): :class:`MessageFilter`.

A filter selects by id, message id, status, kind, connector, order or creation time;
listing (:mod:`gateway.outbox.message_listing`), replay (:mod:`gateway.outbox.replay`)
and setting aside (:mod:`gateway.outbox.set_aside`) share it through
:func:`message_query`. Rows are fulfillment requests, business events (``pushPayload``
to a ``BUSINESS_EVENT`` connector) and e-mails, which have no connector: they go to the
SMTP server, shown as connector ``smtp``. Times are read and shown here as ISO 8601 in
UTC (:func:`parse_when`, :func:`iso`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError, did_you_mean
from gateway.persistence.models import Connector, OrderHeader, OutboxMessage, row_id

__all__ = [
    "KINDS",
    "SMTP",
    "STATUSES",
    "MessageFilter",
    "connector_name",
    "find_message",
    "iso",
    "message_id_forms",
    "message_query",
    "parse_when",
]

STATUSES = ("READY", "DELIVERED", "PARKED", "DISCARDED")
#: ``--kind`` values and the outbox kinds they select
KINDS = {"REQUEST": "FULFILLMENT_REQUEST", "EVENT": "BUSINESS_EVENT", "EMAIL": "EMAIL"}
_SHORT_KINDS = {v: k for k, v in KINDS.items()}
#: what is shown as the connector of an e-mail (the SMTP server)
SMTP = "smtp"


def iso(at: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC (SQLite hands back naive UTC values)."""
    if at is None:
        return None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="seconds")


def parse_when(text: str) -> datetime:
    """``--since``/``--until``: ISO 8601 with a time zone, or a date (its 00:00 UTC)."""
    value = text.strip()
    if len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        except ValueError:
            pass
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or a date and time; write e.g. 2027-06-01 or "
            "2027-06-01T08:00:00+00:00"
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone; add one, e.g. {at.isoformat()}+00:00 (or Z)")
    return at.astimezone(UTC)


def connector_name(row: OutboxMessage) -> str:
    """The connector a row goes through; ``smtp`` for an e-mail."""
    return row.connector.name if row.connector is not None else SMTP


def _utc(at: datetime) -> datetime:
    # SQLite stores the wall time without its offset: compare in UTC on both databases
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def message_id_forms(value: str) -> tuple[str, ...]:
    """A message id as given, and as ``urn:uuid:…`` when given as a bare UUID."""
    value = value.strip()
    return (value,) if value.lower().startswith("urn:") else (value, f"urn:uuid:{value}")


@dataclass(frozen=True)
class MessageFilter:
    """Which outbox rows: every given criterion must hold; ``ids`` and ``message_ids``
    together name rows (a row named by either)."""

    ids: tuple[int, ...] = ()
    message_ids: tuple[str, ...] = ()
    status: str | None = None
    connector: str | None = None
    order_number: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: an outbox kind: FULFILLMENT_REQUEST, BUSINESS_EVENT or EMAIL (see :data:`KINDS`)
    kind: str | None = None

    @property
    def names_rows(self) -> bool:
        return bool(self.ids or self.message_ids)

    @property
    def criteria(self) -> MessageFilter:
        """The filter without the rows it names: what a named row must also match."""
        return replace(self, ids=(), message_ids=())

    @property
    def selects(self) -> bool:
        """Whether it narrows by more than status (replay insists on that)."""
        return bool(
            self.names_rows
            or self.connector
            or self.kind
            or self.order_number
            or self.since is not None
            or self.until is not None
        )

    def describe(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("id", ", ".join(map(str, self.ids))),
                ("message id", ", ".join(self.message_ids)),
                ("status", self.status),
                ("kind", _SHORT_KINDS.get(self.kind or "", self.kind)),
                ("connector", self.connector),
                ("order", self.order_number),
                ("created since", iso(self.since)),
                ("created before", iso(self.until)),
            )
            if value
        ]
        return ", ".join(parts) or "no filter"


def message_query(session: Session, f: MessageFilter) -> Select[OutboxMessage]:
    """The rows ``f`` selects, unordered; listing, replay and setting aside share it.

    Raises :class:`NotFoundError` for a connector or an order that does not exist.
    """
    stmt = select(OutboxMessage)
    if f.names_rows:
        forms = [form for mid in f.message_ids for form in message_id_forms(mid)]
        stmt = stmt.where(or_(OutboxMessage.id.in_(f.ids), OutboxMessage.message_id.in_(forms)))
    if f.status:
        stmt = stmt.where(OutboxMessage.status == f.status.upper())
    if f.kind:
        stmt = stmt.where(OutboxMessage.kind == KINDS.get(f.kind.upper(), f.kind.upper()))
    if f.connector:
        connector_id = session.scalar(select(Connector.id).where(Connector.name == f.connector))
        if connector_id is None:
            like = did_you_mean(f.connector, session.scalars(select(Connector.name)))
            raise NotFoundError("CONNECTOR_UNKNOWN", f"no connector named {f.connector}{like}")
        stmt = stmt.where(OutboxMessage.connector_id == connector_id)
    if f.order_number:
        known = session.scalar(
            select(OrderHeader.id).where(OrderHeader.order_number == f.order_number).limit(1)
        )
        if known is None:
            raise NotFoundError("ORDER_NOT_FOUND", f"no order {f.order_number}")
        stmt = stmt.where(OutboxMessage.order_number == f.order_number)
    if f.since is not None:
        stmt = stmt.where(OutboxMessage.created_at >= _utc(f.since))
    if f.until is not None:
        stmt = stmt.where(OutboxMessage.created_at < _utc(f.until))
    return stmt


def find_message(session: Session, key: str) -> OutboxMessage | None:
    """A row by its id (digits) or its message id (``urn:uuid:…``, or the bare UUID)."""
    key = key.strip()
    if key.isascii() and key.isdigit():
        id_ = row_id(key)
        return None if id_ is None else session.get(OutboxMessage, id_)
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.message_id.in_(message_id_forms(key)))
    )
