"""Looking into the outbox and putting messages back in the queue (``omgw messages``).

* :class:`MessageFilter` selects outbox rows (by id, message id, status, kind, connector,
  order or creation time); listing, replay and :mod:`gateway.outbox.set_aside` (park
  and discard) share it. Rows are fulfillment requests, business events
  (``pushPayload`` to a ``BUSINESS_EVENT`` connector) and e-mails, which
  have no connector: they go to the SMTP server (shown as connector ``smtp``).
* :class:`Replayer` puts selected rows back in the queue: ``READY``, due now, a fresh
  retry budget (``attempts = 0``), no lease, ``replays + 1``, one audit entry per row.
  The stored envelope and its ``MessageID`` are never changed, so the receiver sees the
  same message again and can drop a copy it already has. Rows are locked while judged
  (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), so two
  admins replaying at once cannot both count the same row.
* A row that may already have done its work is refused without ``force``: one that was
  ``DELIVERED``, and an ``uncertain`` one (an attempt may have reached the receiver) of a
  Shipment or Invoice request, which could create a second shipment or invoice. Business
  events and e-mails are notifications: they are replayed without ``force``, whatever
  their status. ``READY`` rows are already queued, ``DISCARDED`` ones and requests of a
  superseded order revision are never sent again.
* :class:`Scrubber`: whatever is shown of a row (its last error, its attempts' errors,
  its envelope) has passwords and nonces blanked, and the connector's own wallet secrets
  masked wherever they appear (a receiver may echo them back in a fault).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Generic, Self, TypeVar

from lxml import etree
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from connectors.secret_box import SecretBox, WalletError
from gateway.errors import GatewayError, NotFoundError, ValidationError, did_you_mean
from gateway.persistence import audit_trail
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import (
    Connector,
    ConnectorHealth,
    DeliveryAttempt,
    FulfillmentRequest,
    OrderHeader,
    OutboxMessage,
    row_id,
    utcnow,
)
from gateway.registry.wallet_store import Wallet
from gateway.security.tokens import redact

__all__ = [
    "KINDS",
    "MASK",
    "REFUSED",
    "REPLAYED",
    "SKIPPED",
    "STATUSES",
    "Keys",
    "MessageFilter",
    "ReplayItem",
    "ReplayResult",
    "Replayer",
    "Scrubber",
    "Verdicts",
    "connector_name",
    "find_message",
    "iso",
    "list_messages",
    "message_detail",
    "message_query",
    "parse_when",
    "scrubber_for",
    "superseded_requests",
]

STATUSES = ("READY", "DELIVERED", "PARKED", "DISCARDED")
#: ``--kind`` values and the outbox kinds they select
KINDS = {"REQUEST": "FULFILLMENT_REQUEST", "EVENT": "BUSINESS_EVENT", "EMAIL": "EMAIL"}
_SHORT_KINDS = {v: k for k, v in KINDS.items()}
#: notifications: sending one again does no harm beyond a repeated notice
_NOTIFICATIONS = {
    "BUSINESS_EVENT": "the receiver gets the event again",
    "EMAIL": "the recipients get the e-mail again",
}
#: what is shown as the connector and target system of an e-mail (the SMTP server)
SMTP, EMAIL_TARGET = "smtp", "(e-mail)"
REPLAYED, REFUSED, SKIPPED = "REPLAYED", "REFUSED", "SKIPPED"
MASK = "********"

#: task types whose request, if processed twice, makes a second shipment or invoice
_ONCE_ONLY = {"Shipment": "shipment", "Invoice": "invoice"}

Keys = SecretBox | Callable[[], SecretBox]

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_blank_text=True,
)  # fmt: skip


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


def _recipients(row: OutboxMessage) -> list[str]:
    return [a for a in (row.recipients or "").split(",") if a]


def _utc(at: datetime) -> datetime:
    # SQLite stores the wall time without its offset: compare in UTC on both databases
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _message_id_forms(value: str) -> tuple[str, ...]:
    """A message id as given, and as ``urn:uuid:…`` when given as a bare UUID."""
    value = value.strip()
    return (value,) if value.lower().startswith("urn:") else (value, f"urn:uuid:{value}")


# -- secrets --------------------------------------------------------------------------------

_XML_SECRET = re.compile(
    r"(<(?:[\w.-]+:)?(Password|Nonce|BinarySecurityToken)\b[^>]*>)(.*?)(</(?:[\w.-]+:)?\2\s*>)",
    re.IGNORECASE | re.DOTALL,
)
_AUTH_HEADER = re.compile(r"\b(Basic|Bearer|Digest)(\s+)[A-Za-z0-9+/=._~-]{6,}", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token)"
    r"([\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"'<>]+)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE)


class Scrubber:
    """Masks secrets in text shown to an admin: the given literal values (a connector's
    wallet password and key, and their HTTP Basic form) wherever they appear, and any
    WS-Security password or nonce, Authorization value, ``password=…`` pair or URL
    password, whoever's they are."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        value = _XML_SECRET.sub(lambda m: f"{m[1]}{MASK}{m[4]}", value)
        value = _AUTH_HEADER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", value)
        value = _KEY_VALUE.sub(lambda m: f"{m[1]}{m[2]}{MASK}", value)
        return _URL_USERINFO.sub(lambda m: f"{m[1]}{MASK}@", value)

    def envelope(self, payload: bytes) -> str:
        """The stored envelope, indented, with every password and nonce blanked."""
        try:
            root = etree.fromstring(payload, _PARSER)
        except etree.XMLSyntaxError:
            return "(the stored payload is not well-formed XML; it is not shown)"
        redact(root)
        text = etree.tostring(root, pretty_print=True, encoding="unicode")
        return self.text(text) or ""


def scrubber_for(
    session: Session, connector_ids: Iterable[int | None], keys: Keys | None
) -> Scrubber:
    """A :class:`Scrubber` that knows the wallet secrets of these connectors.

    Without the master key (``keys`` is None or cannot be loaded) only the patterns
    apply; that cannot reveal a secret the envelope holds, since envelopes are stored
    without credentials and any WS-Security element is blanked anyway.
    """
    ids = {i for i in connector_ids if i is not None}  # e-mails have none
    if keys is None or not ids:
        return Scrubber()
    secrets: list[str] = []
    wallet = Wallet(session, keys)
    connectors = session.scalars(select(Connector).where(Connector.id.in_(ids)))
    for connector in connectors:
        for key in (connector.credential_key, connector.tls_client_certificate):
            if not key:
                continue
            try:
                credential = wallet.credential(connector.credential_map, key)
            except (WalletError, GatewayError, OSError, ValueError):
                continue
            secrets += [credential.password, credential.client_key or ""]
            basic = f"{credential.username}:{credential.password}".encode()
            secrets.append(base64.b64encode(basic).decode())
    return Scrubber(secrets)


# -- selecting ------------------------------------------------------------------------------


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
        forms = [form for mid in f.message_ids for form in _message_id_forms(mid)]
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


def _summary(row: OutboxMessage, scrub: Scrubber) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "created": iso(row.created_at),
        "kind": row.kind,
        "connector": connector_name(row),
        "order_number": row.order_number,
        "task_type": row.task_type,
        "event_code": row.event_code,
        "operation": row.operation,
        "status": row.status,
        "attempts": row.attempts,
        "uncertain": row.uncertain,
        "replays": row.replays,
        "last_error": scrub.text(row.last_error),
    }


def list_messages(
    session: Session, f: MessageFilter, *, limit: int = 50, keys: Keys | None = None
) -> list[dict[str, Any]]:
    """The matching rows, newest first."""
    rows = list(
        session.scalars(
            message_query(session, f)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )
    scrub = scrubber_for(session, {r.connector_id for r in rows}, keys)
    return [_summary(r, scrub) for r in rows]


def find_message(session: Session, key: str) -> OutboxMessage | None:
    """A row by its id (digits) or its message id (``urn:uuid:…``, or the bare UUID)."""
    key = key.strip()
    if key.isascii() and key.isdigit():
        id_ = row_id(key)
        return None if id_ is None else session.get(OutboxMessage, id_)
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.message_id.in_(_message_id_forms(key)))
    )


def message_detail(
    session: Session, key: str, *, payload: bool = False, keys: Keys | None = None
) -> dict[str, Any] | None:
    """One row, its delivery attempts in order and, with ``payload``, its envelope;
    ``None`` when nothing has that id or message id."""
    row = find_message(session, key)
    if row is None:
        return None
    scrub = scrubber_for(session, [row.connector_id], keys)
    attempts = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.outbox_id == row.id)
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
    )
    record = _summary(row, scrub)
    record.update(
        target_system=EMAIL_TARGET if row.connector is None else row.connector.target_system.code,
        invocation_mode=row.invocation_mode,
        soap_action=row.soap_action,
        request_id=row.request_id,
        header_id=row.header_id,
        next_attempt_at=iso(row.next_attempt_at) if row.status == "READY" else None,
        lease_owner=row.lease_owner,
        lease_until=iso(row.lease_until),
        last_http_status=row.last_http_status,
        delivered_at=iso(row.delivered_at),
        parked_at=iso(row.parked_at),
        delivery_attempts=[
            {
                "attempt": a.attempt,
                "started": iso(a.started_at),
                "worker": a.worker,
                "duration_ms": a.duration_ms,
                "outcome": a.outcome,
                "http_status": a.http_status,
                "error": scrub.text(a.error),
            }
            for a in attempts
        ],
    )
    if row.kind == "EMAIL":
        record["recipients"] = _recipients(row)
    if payload:
        record["payload"] = (
            _mail_text(row.payload, scrub) if row.kind == "EMAIL" else scrub.envelope(row.payload)
        )
    return record


def _mail_text(payload: bytes, scrub: Scrubber) -> str:
    """An e-mail row's stored subject and text, as a person reads them."""
    try:
        stored = json.loads(payload)
        text = f"Subject: {stored['subject']}\n\n{stored['body']}"
    except (ValueError, TypeError, KeyError):
        return "(the stored e-mail is not readable; it is not shown)"
    return scrub.text(text) or ""


# -- replaying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayItem:
    """What replay did (or, in a dry run, would do) with one row, and why."""

    verdict: str  # REPLAYED | REFUSED | SKIPPED
    id: int | None
    message_id: str | None
    connector: str | None = None
    order_number: str | None = None
    task_type: str | None = None
    was: str | None = None
    reason: str | None = None
    kind: str | None = None
    event_code: str | None = None

    @classmethod
    def of(
        cls, row: OutboxMessage, verdict: str, reason: str | None, was: str, **more: Any
    ) -> Self:
        """The verdict on ``row``, which was in status ``was`` when judged (``more``: the
        fields a subclass adds)."""
        return cls(
            verdict,
            row.id,
            row.message_id,
            connector_name(row),
            row.order_number,
            row.task_type,
            was,
            reason,
            row.kind,
            row.event_code,
            **more,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Item = TypeVar("Item", bound=ReplayItem)


class Verdicts(Generic[Item]):
    """Every row a replay, park or discard selected, with its verdict: what
    :class:`ReplayResult` and :class:`~gateway.outbox.set_aside.SetAsideResult` share."""

    items: tuple[Item, ...]

    def having(self, verdict: str) -> list[Item]:
        return [i for i in self.items if i.verdict == verdict]

    @property
    def refused(self) -> list[Item]:
        return self.having(REFUSED)

    @property
    def skipped(self) -> list[Item]:
        return self.having(SKIPPED)

    @property
    def ok(self) -> bool:
        """Everything selected was (or, in a dry run, would be) replayed, parked or
        discarded: nothing was refused or skipped."""
        return not self.refused and not self.skipped

    def _report(
        self, head: dict[str, Any], done: str, code: str, problem: str | None
    ) -> dict[str, Any]:
        """``head``, then the count of rows given verdict ``done`` (under its name in lower
        case), of those refused and skipped, each row's verdict, and ``problem`` as an
        error with ``code`` when there is one."""
        out: dict[str, Any] = {
            **head,
            done.lower(): len(self.having(done)),
            "refused": len(self.refused),
            "skipped": len(self.skipped),
            "messages": [i.to_json() for i in self.items],
        }
        if problem is not None:
            out["error"] = {"code": code, "message": problem}
        return out

    @staticmethod
    def _names(items: Sequence[ReplayItem]) -> str:
        """Rows as a problem names them: ``7 (urn:uuid:…)``, or what was asked for when
        no row has it."""
        return ", ".join(
            f"{i.id} ({i.message_id})" if i.id is not None else str(i.message_id) for i in items
        )


@dataclass(frozen=True)
class ReplayResult(Verdicts[ReplayItem]):
    items: tuple[ReplayItem, ...]
    dry_run: bool = False
    force: bool = False

    @property
    def replayed(self) -> list[ReplayItem]:
        return self.having(REPLAYED)

    def problem(self, force: str = "--force") -> str | None:
        """What was not replayed, in a sentence or two; None when everything was.
        ``force`` names the switch that sends refused rows anyway, as the caller knows it."""
        parts = []
        if self.refused:
            # DELIVERED, or uncertain: either may have acted on it already
            twice = any(i.task_type in _ONCE_ONLY for i in self.refused)
            effect = (
                "may create a second shipment or invoice"
                if twice
                else "may make the receiver act twice"
            )
            parts.append(
                f"refused without {force}: {self._names(self.refused)}: sending them again "
                f"{effect}; check with the receiver, then use {force} to send them anyway"
            )
        if self.skipped:
            parts.append(f"not replayable: {self._names(self.skipped)}: see the reasons above")
        return ". ".join(parts) or None

    def to_json(self, force: str = "--force") -> dict[str, Any]:
        """The report: counts, each row's verdict, and the problem (code
        ``REPLAY_INCOMPLETE``) when anything selected was not replayed."""
        head = {"dry_run": self.dry_run, "force": self.force}
        return self._report(head, REPLAYED, "REPLAY_INCOMPLETE", self.problem(force))


def superseded_requests(session: Session, request_ids: set[int]) -> set[int]:
    """Those of ``request_ids`` whose order was revised since (``SUPERSEDED``): the worker
    discards their rows instead of sending them."""
    if not request_ids:
        return set()
    return set(
        session.scalars(
            select(FulfillmentRequest.id).where(
                FulfillmentRequest.id.in_(request_ids),
                FulfillmentRequest.status == "SUPERSEDED",
            )
        )
    )


class Replayer:
    """Puts outbox rows back in the queue, in the caller's transaction."""

    def __init__(self, session: Session, actor: str = "system") -> None:
        self._s = session
        self._actor = actor

    def replay(
        self,
        f: MessageFilter,
        *,
        force: bool = False,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> ReplayResult:
        if not f.selects:
            raise ValidationError(
                "MISSING_KEY",
                "say which messages to replay: --id, --message-id, --connector, --order, "
                "--since or --until (or --kind)",
            )
        now = now or utcnow()
        stmt = message_query(self._s, f).order_by(OutboxMessage.id)
        if not dry_run:
            stmt = stmt.with_for_update(of=OutboxMessage)
        rows = list(self._s.scalars(stmt))
        superseded = superseded_requests(
            self._s, {r.request_id for r in rows if r.request_id is not None}
        )
        items = self._not_selected(f, rows)
        for row in rows:
            was = row.status
            verdict, reason, forced = self._judge(row, force, superseded)
            if verdict == REPLAYED:
                wait = self._held(row)
                reason = "; ".join(r for r in (reason, wait) if r) or None
                if not dry_run:
                    self._requeue(row, now, forced)
            items.append(ReplayItem.of(row, verdict, reason, was))
        return ReplayResult(tuple(items), dry_run, force)

    def _held(self, row: OutboxMessage) -> str | None:
        """Why a replayed row will not go out at once, if it will not."""
        if row.connector is None:
            return None  # an e-mail: only the SMTP server's settings hold it
        name = row.connector.name
        if not row.connector.enabled:
            return f"connector {name} is disabled: it waits until the connector is enabled"
        health = self._s.get(ConnectorHealth, row.connector_id)
        if health is not None and health.state != "CLOSED":
            return (
                f"connector {name}'s circuit breaker is {health.state}: it waits for the "
                "breaker to let calls through"
            )
        return None

    def _not_selected(self, f: MessageFilter, rows: Sequence[OutboxMessage]) -> list[ReplayItem]:
        """Rows named by id or message id that the selection does not hold, and why."""
        found_ids = {r.id for r in rows}
        found_mids = {r.message_id for r in rows}
        out: list[ReplayItem] = []
        others = f.criteria.describe()
        for id_ in f.ids:
            if id_ in found_ids:
                continue
            row = self._s.get(OutboxMessage, id_)
            out.append(self._missing(row, str(id_), others))
        for mid in f.message_ids:
            if found_mids.intersection(_message_id_forms(mid)):
                continue
            out.append(self._missing(find_message(self._s, mid), mid, others))
        return out

    @staticmethod
    def _missing(row: OutboxMessage | None, key: str, others: str) -> ReplayItem:
        if row is None:
            return ReplayItem(SKIPPED, None, key, reason=f"no outbox message {key}")
        return ReplayItem.of(row, SKIPPED, f"not selected: it does not match {others}", row.status)

    @staticmethod
    def _judge(
        row: OutboxMessage, force: bool, superseded: set[int]
    ) -> tuple[str, str | None, bool]:
        """(verdict, reason, whether only ``force`` lets it through)."""
        if row.status == "READY":
            sending = f"; {row.lease_owner} is sending it now" if row.lease_owner else ""
            return SKIPPED, f"already queued (READY){sending}; the worker sends it when due", False
        if row.status == "DISCARDED":
            why = f" ({row.last_error})" if row.last_error else ""
            return SKIPPED, f"DISCARDED{why}: it is never sent again", False
        if row.request_id in superseded:
            return (
                SKIPPED,
                f"its order was revised since: fulfillment request {row.request_id} is "
                "SUPERSEDED, so the worker would discard it",
                False,
            )
        notice = _NOTIFICATIONS.get(row.kind)
        if notice is not None:  # a notification: no --force needed
            if row.status == "DELIVERED":
                return REPLAYED, f"it was DELIVERED: {notice}", False
            return REPLAYED, None, False
        what = _ONCE_ONLY.get(row.task_type or "")
        danger: str | None = None
        if row.status == "DELIVERED":
            effect = f"may create a second {what}" if what else "may make it act twice"
            danger = f"it was DELIVERED: the receiver has it already, and sending it again {effect}"
        elif row.uncertain and what:
            danger = (
                "an earlier attempt may have reached the receiver (uncertain), and sending "
                f"it again may create a second {what}"
            )
        if danger is None:
            return REPLAYED, None, False
        if not force:
            return REFUSED, f"{danger}; --force sends it anyway", False
        return REPLAYED, f"forced: {danger}", True

    def _requeue(self, row: OutboxMessage, now: datetime, forced: bool) -> None:
        before = {
            "status": row.status,
            "attempts": row.attempts,
            "replays": row.replays,
            "uncertain": row.uncertain,
        }
        row.status = "READY"
        row.next_attempt_at = now
        row.attempts = 0
        row.lease_owner = None
        row.lease_until = None
        row.replays += 1
        after = {
            "status": row.status,
            "attempts": 0,
            "replays": row.replays,
            "forced": forced,
            "id": row.id,
            "connector": connector_name(row),
            "order_number": row.order_number,
        }
        audit_trail.record(
            self._s, self._actor, Change("replay", "outbox", row.message_id, before, after)
        )
