"""What needs a person, and when it is mailed: decided from plain values, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.observe.alerts import CLEARED, RAISED, AlertRow, plan
from gateway.observe.findings import CRITICAL, WARNING, Finding, exit_code, findings
from gateway.observe.ops_snapshot import ConnectorView, OpsSnapshot, Thresholds

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def snapshot(*views: ConnectorView, **kw: object) -> OpsSnapshot:
    snap = OpsSnapshot(NOW, Thresholds(), {v.name: v for v in views})
    snap.workers = {"w1": NOW - timedelta(seconds=5)}
    for k, v in kw.items():
        setattr(snap, k, v)
    return snap


def keys(snap: OpsSnapshot) -> list[str]:
    return [f.key for f in findings(snap)]


def test_a_quiet_installation_needs_no_one():
    snap = snapshot(ConnectorView("WMS", "ASYNC_SERVICE", ready=3))
    assert findings(snap) == [] and exit_code(findings(snap)) == 0


def test_an_open_breaker_is_critical_and_names_its_held_queue_and_runbook():
    view = ConnectorView(
        "WMS", "ASYNC_SERVICE", ready=4, breaker="OPEN",
        breaker_since=NOW - timedelta(minutes=3), last_error="connection refused",
    )  # fmt: skip
    (found,) = findings(snapshot(view))
    assert found.key == "breaker:WMS" and found.severity == CRITICAL
    assert "OPEN for 3 min, 4 message(s) held" in found.summary
    assert "connection refused" in found.summary and found.runbook == "breaker-open"
    assert exit_code([found]) == 2


def test_a_half_open_breaker_is_the_same_alert_as_an_open_one():
    half = ConnectorView("WMS", "ASYNC_SERVICE", breaker="HALF_OPEN", breaker_since=NOW)
    assert keys(snapshot(half)) == ["breaker:WMS"]


def test_a_failing_subscriber_is_one_finding_for_its_breaker_and_its_parks():
    view = ConnectorView("EV", "BUSINESS_EVENT", parked=2, breaker="OPEN", breaker_since=NOW)
    (found,) = findings(snapshot(view))
    assert found.key == "subscriber:EV" and found.runbook == "subscriber-failing"
    assert "2 event(s) parked" in found.summary


def test_each_business_question_has_its_finding_and_runbook():
    view = ConnectorView(
        "WMS", "ASYNC_SERVICE", parked=1, unacknowledged=2,
        oldest_unacknowledged_at=NOW - timedelta(hours=2), no_response=3, late_events=1,
    )  # fmt: skip
    snap = snapshot(
        view,
        routing_errors=1,
        stuck_before_routing=2,
        staged_order_errors=1,
        alert_emails_parked=1,
    )
    found = {f.key: f for f in findings(snap)}
    assert {k: (f.severity, f.runbook) for k, f in found.items()} == {
        "parked:WMS": (CRITICAL, "message-parked"),
        "routing-error": (CRITICAL, "stuck-before-routing"),
        "unacknowledged:WMS": (WARNING, "request-unacknowledged"),
        "no-response:WMS": (WARNING, "no-response"),
        "event-late:WMS": (WARNING, "event-undelivered"),
        "not-routed": (WARNING, "stuck-before-routing"),
        "staged-error": (WARNING, "staged-error"),
        "alert-mail-parked": (WARNING, "message-parked"),
    }
    assert "the oldest for 2 h" in found["unacknowledged:WMS"].summary
    assert not found["alert-mail-parked"].mailable  # it could not be mailed anyway
    assert [f.severity for f in findings(snap)][:2] == [CRITICAL, CRITICAL]  # worst first


def test_warnings_alone_exit_1():
    snap = snapshot(ConnectorView("WMS", "ASYNC_SERVICE", no_response=1))
    assert exit_code(findings(snap)) == 1


def test_no_worker_seen_or_none_lately_is_critical():
    assert keys(snapshot(workers={})) == ["worker-silent"]
    late = snapshot(workers={"w1": NOW - timedelta(seconds=61)})
    assert keys(late) == ["worker-silent"] and "last seen 61 s ago" in findings(late)[0].summary


BREAKER = Finding("breaker:WMS", CRITICAL, "connector WMS: breaker OPEN", "breaker-open")


def rows(*alerts: AlertRow) -> dict[str, AlertRow]:
    return {a.key: a for a in alerts}


def test_a_new_alert_is_raised_and_mailed_once():
    out = plan([BREAKER], {}, NOW, HOUR, mail=True)
    assert [r.key for r in out.raised] == ["breaker:WMS"]
    (mail,) = out.mails
    assert mail.subject.startswith("[omgw] CRITICAL: connector WMS")
    assert "docs/runbooks/breaker-open.md" in mail.body
    (row,) = out.rows
    assert row.last_sent_at == NOW and row.emails == 1 and row.cleared_at is None


def test_an_alert_that_holds_is_mailed_again_only_after_the_repeat_interval():
    sent = AlertRow(
        "breaker:WMS", CRITICAL, "s", "breaker-open", NOW, last_sent_at=NOW, emails=1, told=RAISED
    )
    soon = plan([BREAKER], rows(sent), NOW + timedelta(minutes=59), HOUR, mail=True)
    assert soon.mails == [] and soon.raised == []
    later = plan([BREAKER], rows(sent), NOW + timedelta(minutes=60), HOUR, mail=True)
    (mail,) = later.mails
    assert "(still)" in mail.subject and later.rows[0].emails == 2
    assert later.rows[0].raised_at == NOW  # the same episode


def test_a_clearing_is_mailed_once_it_has_lasted_a_pass():
    sent = AlertRow("breaker:WMS", CRITICAL, "s", "breaker-open", NOW, NOW, told=RAISED)
    first = plan([], rows(sent), NOW + timedelta(minutes=5), HOUR, mail=True)
    assert [r.key for r in first.cleared] == ["breaker:WMS"] and first.mails == []
    cleared = first.rows[0]
    assert cleared.cleared_at == NOW + timedelta(minutes=5) and cleared.told == RAISED
    second = plan([], rows(cleared), NOW + timedelta(minutes=6), HOUR, mail=True)
    (mail,) = second.mails
    assert mail.subject.startswith("[omgw] cleared:") and second.cleared == []
    assert second.rows[0].told == CLEARED
    assert plan([], rows(second.rows[0]), NOW + timedelta(minutes=7), HOUR, mail=True).rows == []


def test_an_alert_that_flaps_every_pass_sends_nothing_new():
    sent = AlertRow("breaker:WMS", CRITICAL, "s", "breaker-open", NOW, NOW, told=RAISED)
    state = sent
    for minute in range(1, 20):
        found = [BREAKER] if minute % 2 == 0 else []
        out = plan(found, rows(state), NOW + timedelta(minutes=minute), HOUR, mail=True)
        assert out.mails == [], minute
        state = out.rows[0]
        assert state.raised_at == NOW  # the same alert throughout, to whoever was told


def test_an_alert_back_after_its_clearing_was_mailed_is_mailed_at_once():
    told_clear = AlertRow(
        "breaker:WMS", CRITICAL, "s", "breaker-open", NOW, NOW,
        cleared_at=NOW + timedelta(minutes=1), told=CLEARED,
    )  # fmt: skip
    out = plan([BREAKER], rows(told_clear), NOW + timedelta(minutes=3), HOUR, mail=True)
    (mail,) = out.mails
    assert "(still)" not in mail.subject and [r.key for r in out.raised] == ["breaker:WMS"]
    assert out.rows[0].raised_at == NOW + timedelta(minutes=3) and out.rows[0].told == RAISED


def test_without_recipients_or_for_an_unmailable_finding_alerts_are_kept_not_mailed():
    assert plan([BREAKER], {}, NOW, HOUR, mail=False).mails == []
    unmailable = Finding("alert-mail-parked", "warning", "x", "message-parked", mailable=False)
    out = plan([unmailable], {}, NOW, HOUR, mail=True)
    assert out.mails == [] and [r.key for r in out.raised] == ["alert-mail-parked"]
    silent = findings(snapshot(workers={}))
    assert [f.key for f in silent] == ["worker-silent"] and not silent[0].mailable
