"""The monitor: findings become alerts, alerts become e-mails.

Each pass (the background loop, every ``OMGW_MONITOR_INTERVAL_SECONDS``) reads the
snapshot, decides what needs a person (:mod:`gateway.observe.findings`), and compares it
with the alerts already raised (table ``alerts``). :func:`plan` decides, without I/O,
which alerts are new, which still hold and which cleared, and what to mail to
``OMGW_ALERT_EMAIL``, so that the recipients' last e-mail about an alert is always true:

- an alert is mailed when it is raised, and again every ``OMGW_ALERT_REPEAT_SECONDS``
  while it holds;
- its clearing is mailed once it has stayed clear for a whole pass; an alert back before
  that is the same alert, still raised as far as anyone was told, and is not mailed
  again, so one that flaps every pass sends nothing new;
- an alert back after its clearing was mailed is mailed at once.

E-mails go through the outbox like any notification (retried, parked, replayable).
The snapshot is read before the pass takes its turn to write (reading it takes time in
a large database, and on SQLite the turn holds every writer); passes in several
processes then take turns, so one alert is mailed once whoever finds it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.observe import metrics
from gateway.observe.beats import record_job
from gateway.observe.findings import Finding, findings
from gateway.observe.ops_snapshot import ALERT_EVENT, JOB_MONITOR, read_snapshot, thresholds
from gateway.persistence.models import Alert, OutboxMessage, as_utc, utcnow
from gateway.runtime import Runtime

__all__ = ["CLEARED", "RAISED", "AlertPlan", "AlertRow", "Mail", "plan", "run_monitor"]

RAISED, CLEARED = "RAISED", "CLEARED"

log = logging.getLogger(__name__)
#: the advisory lock monitor passes take turns with on PostgreSQL
_MONITOR_LOCK = 0x6F6D6761


@dataclass(frozen=True)
class AlertRow:
    key: str
    severity: str
    summary: str
    runbook: str
    raised_at: datetime
    last_sent_at: datetime | None = None
    cleared_at: datetime | None = None
    emails: int = 0
    #: what the recipients were last mailed: RAISED, CLEARED, or None
    told: str | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None


@dataclass(frozen=True)
class Mail:
    key: str
    subject: str
    body: str


@dataclass(frozen=True)
class AlertPlan:
    """What a pass changes: rows to write, e-mails to queue, what it raised and cleared."""

    rows: list[AlertRow] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)
    raised: list[AlertRow] = field(default_factory=list)
    cleared: list[AlertRow] = field(default_factory=list)


def _raised_mail(row: AlertRow, repeat_seconds: float, reminder: bool) -> Mail:
    again = " (still)" if reminder else ""
    body = (
        f"{row.summary}\n\n"
        f"severity: {row.severity}\n"
        f"since: {row.raised_at.isoformat(timespec='seconds')}\n"
        f"what to do: docs/runbooks/{row.runbook}.md in the omgw repository; "
        "'omgw status' shows the whole picture.\n\n"
        f"This alert ({row.key}) is mailed at most once every {int(repeat_seconds)} s while "
        "it lasts, and once more when it clears.\n"
    )
    return Mail(row.key, f"[omgw] {row.severity.upper()}{again}: {row.summary[:150]}", body)


def _cleared_mail(row: AlertRow, now: datetime) -> Mail:
    body = (
        f"Cleared: {row.summary}\n\n"
        f"raised: {row.raised_at.isoformat(timespec='seconds')}\n"
        f"cleared: {now.isoformat(timespec='seconds')}\n"
    )
    return Mail(row.key, f"[omgw] cleared: {row.summary[:150]}", body)


def plan(
    found: Sequence[Finding],
    rows: Mapping[str, AlertRow],
    now: datetime,
    repeat_seconds: float,
    mail: bool,
) -> AlertPlan:
    """The alerts after a pass that found ``found``, given the ``rows`` before it."""
    out = AlertPlan()
    seen: set[str] = set()
    for f in found:
        seen.add(f.key)
        old = rows.get(f.key)
        back = old is not None and not old.active
        # back before its clearing was mailed: the same alert to whoever was told
        resumed = back and old is not None and old.told == RAISED
        row = AlertRow(
            f.key,
            f.severity,
            f.summary,
            f.runbook,
            raised_at=old.raised_at if old is not None and (resumed or not back) else now,
            last_sent_at=None if old is None else old.last_sent_at,
            emails=0 if old is None else old.emails,
            told=None if old is None else old.told,
        )
        if mail and f.mailable:
            since = None if row.last_sent_at is None else now - row.last_sent_at
            due = since is None or since.total_seconds() >= repeat_seconds
            if row.told != RAISED or due:
                reminder = row.told == RAISED
                out.mails.append(_raised_mail(row, repeat_seconds, reminder=reminder))
                row = replace(row, last_sent_at=now, emails=row.emails + 1, told=RAISED)
        if old is None or back:
            out.raised.append(row)
        out.rows.append(row)
    for key, old in rows.items():
        if key in seen:
            continue
        if old.active:  # clear from this pass on; mailed if it stays clear a pass
            row = replace(old, cleared_at=now)
            out.cleared.append(row)
            out.rows.append(row)
        elif mail and old.told == RAISED:
            out.mails.append(_cleared_mail(old, now))
            out.rows.append(replace(old, emails=old.emails + 1, told=CLEARED))
    return out


def _rows(session: Session) -> dict[str, AlertRow]:
    found: dict[str, AlertRow] = {}
    for a in session.scalars(select(Alert)):
        raised = as_utc(a.raised_at)
        assert raised is not None
        found[a.key] = AlertRow(
            a.key,
            a.severity,
            a.summary,
            a.runbook,
            raised,
            as_utc(a.last_sent_at),
            as_utc(a.cleared_at),
            a.emails,
            a.told,
        )
    return found


def _write(session: Session, rows: Iterable[AlertRow]) -> None:
    for row in rows:
        alert = session.get(Alert, row.key) or Alert(key=row.key)
        alert.severity, alert.summary, alert.runbook = row.severity, row.summary, row.runbook
        alert.raised_at, alert.last_sent_at = row.raised_at, row.last_sent_at
        alert.cleared_at, alert.emails, alert.told = row.cleared_at, row.emails, row.told
        session.add(alert)


def _queue(session: Session, mails: Iterable[Mail], recipients: str) -> None:
    for m in mails:
        session.add(
            OutboxMessage(
                message_id=f"urn:uuid:{uuid.uuid4()}",
                kind="EMAIL",
                connector_id=None,
                event_code=ALERT_EVENT,
                recipients=recipients,
                invocation_mode="EMAIL",
                operation="sendmail",
                soap_action="",
                payload=json.dumps({"subject": m.subject, "body": m.body}).encode(),
            )
        )


def run_monitor(runtime: Runtime) -> AlertPlan:
    """One monitor pass, in one transaction: read, decide, record, queue the e-mails."""
    settings = runtime.settings
    recipients = settings.alert_email
    with runtime.read_sessions() as s:
        found = findings(read_snapshot(s, utcnow(), thresholds(settings)))
    with runtime.sessions() as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MONITOR_LOCK})
        rows = _rows(s)  # on SQLite the first statement takes the turn
        now = utcnow()  # after the turn: a pass that waited writes no older time
        decided = plan(found, rows, now, settings.alert_repeat_seconds, bool(recipients))
        _write(s, decided.rows)
        if recipients:
            _queue(s, decided.mails, recipients)
        record_job(s, JOB_MONITOR, now, f"{len(found)} finding(s), {len(decided.mails)} e-mail(s)")
    for row in decided.raised:
        metrics.ALERTS.labels(row.key.split(":")[0], "raised").inc()
        log.warning(
            "alert raised: %s (runbook docs/runbooks/%s.md)",
            row.summary,
            row.runbook,
            extra={"alert": row.key, "severity": row.severity},
        )
    for row in decided.cleared:
        metrics.ALERTS.labels(row.key.split(":")[0], "cleared").inc()
        log.warning("alert cleared: %s", row.summary, extra={"alert": row.key})
    for m in decided.mails:
        metrics.ALERTS.labels(m.key.split(":")[0], "mailed").inc()
    return decided
