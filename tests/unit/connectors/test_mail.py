"""E-mail through SMTP (connectors/mail_message.py, connectors/mail_sender.py): real
servers on 127.0.0.1 (aiosmtpd, or a bare socket for servers that misbehave) and the
verdict on each thing they can do."""

from __future__ import annotations

import asyncio
import base64
import email
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as Server  # noqa: N811
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from connectors.mail_message import build_message, check_address
from connectors.mail_sender import MailSender, SmtpEndpoint
from connectors.secret_box import Credential
from connectors.verdicts import DELIVERED, PARK, RETRY
from tests.common.pki import authority
from tests.common.processes import refused_port
from tests.common.smtp import BoundController

SENDER = "omgw@example.com"
OPS = "ops@example.com"
USER, PASSWORD = "mailer", "s3cret-Pa55"


def message(recipients: list[str] | None = None, subject: str = "Order 100001 shipped") -> bytes:
    return build_message(
        sender=SENDER,
        recipients=recipients or [OPS],
        subject=subject,
        body="Order 100001 left the warehouse.\nÆble, 3 × 10 Ea.\n",
        message_id="urn:uuid:0b7e3c55-5d0e-4b8a-9a51-4c3c0f6b1a2e",
        date=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
    )


class Recorder:
    """Takes every message; optionally refuses some recipients, or answers DATA otherwise."""

    def __init__(
        self,
        refuse: dict[str, str] | None = None,
        data_reply: str = "250 2.0.0 OK queued",
        data_delay: float = 0.0,
    ) -> None:
        self.refuse = refuse or {}
        self.data_reply = data_reply
        self.data_delay = data_delay
        self.envelopes: list[Envelope] = []
        self.authenticated: list[Any] = []

    async def handle_RCPT(
        self,
        server: Server,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Server, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
            self.authenticated.append(session.auth_data)
        return self.data_reply


def authenticator(
    server: Server, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    if (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode()):
        return AuthResult(success=True, auth_data=f"{mechanism}:{auth_data.login.decode()}")
    # a careless server that echoes what it was given, raw and as AUTH PLAIN would send it
    plain = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password).decode()
    return AuthResult(
        success=False,
        handled=False,
        message=f"535 5.7.8 bad credentials {auth_data.password.decode()} {plain}",
    )


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Controller, SmtpEndpoint]]]:
    started: list[Controller] = []

    def start(handler: Recorder, **kwargs: Any) -> tuple[Controller, SmtpEndpoint]:
        controller = BoundController(
            handler,
            server_hostname="mail.test",
            ready_timeout=5,
            **kwargs,
        )
        controller.start()
        started.append(controller)
        return controller, SmtpEndpoint("127.0.0.1", controller.port, timeout=5)

    yield start
    for controller in started:
        controller.stop()


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA of its own and the certificate it issued the server for 127.0.0.1."""
    ca = authority("omgw test SMTP CA")
    issued = ca.issue("127.0.0.1", server=True, ips=("127.0.0.1",), dns=("localhost",))
    folder = tmp_path_factory.mktemp("pki")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_text(issued.certificate)
    key_path.write_text(issued.key)
    return Pki(ca.write(folder), cert_path, key_path)


@pytest.fixture
def scripted_server() -> Iterator[Callable[[bytes | None], int]]:
    """A bare TCP server: writes ``greeting`` (or nothing at all) and reads until closed."""
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def start(greeting: bytes | None) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        sockets.append(listener)
        if greeting is not None:

            def serve() -> None:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(greeting)
                    conn.settimeout(0.1)
                    while not stop.is_set():
                        try:
                            if not conn.recv(1024):
                                return
                        except TimeoutError:
                            continue
                        except OSError:
                            return

            threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    stop.set()
    for s in sockets:
        s.close()


def parsed(envelope: Envelope) -> EmailMessage:
    content = envelope.original_content or envelope.content
    assert isinstance(content, bytes)
    msg = email.message_from_bytes(content, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


def text(msg: EmailMessage) -> str:
    """The body as text, line ends as in Python (the wire's are CRLF)."""
    content = msg.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


# --- delivery ---------------------------------------------------------------------------


def test_a_message_is_delivered_as_built(smtp_server: Any) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler)

    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)

    assert (result.outcome, result.reason, result.uncertain, result.http_status) == (
        DELIVERED,
        None,
        False,
        None,
    )
    [envelope] = handler.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == [OPS]
    msg = parsed(envelope)
    assert msg["From"] == SENDER
    assert msg["To"] == OPS
    assert msg["Subject"] == "Order 100001 shipped"
    assert msg["Message-ID"] == "<0b7e3c55-5d0e-4b8a-9a51-4c3c0f6b1a2e@omgw>"
    assert msg["Date"] == "Sun, 01 Mar 2026 12:30:00 +0000"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert text(msg) == "Order 100001 left the warehouse.\nÆble, 3 × 10 Ea.\n"


def test_one_recipient_refused_the_other_delivered(smtp_server: Any) -> None:
    gone = "gone@example.com"
    handler = Recorder(refuse={gone: "550 5.1.1 <gone@example.com>: mailbox unavailable"})
    _, endpoint = smtp_server(handler)

    result = MailSender().send(message([OPS, gone]), SENDER, [OPS, gone], endpoint, None)

    assert result.outcome == DELIVERED
    assert result.reason is not None
    assert gone in result.reason and "SMTP 550 5.1.1" in result.reason
    assert OPS not in result.reason
    assert [e.rcpt_tos for e in handler.envelopes] == [[OPS]]


@pytest.mark.parametrize(
    ("refuse", "data_reply", "outcome", "code"),
    [
        ({OPS: "550 5.1.1 mailbox unavailable"}, "250 OK", PARK, "SMTP 550 5.1.1"),
        ({OPS: "451 4.3.0 try again later"}, "250 OK", RETRY, "SMTP 451 4.3.0"),
        ({OPS: "452 4.2.2 mailbox full"}, "250 OK", RETRY, "SMTP 452"),
        ({}, "554 5.6.0 message refused", PARK, "SMTP 554 5.6.0"),
        ({}, "451 4.3.0 local error", RETRY, "SMTP 451 4.3.0"),
    ],
    ids=["rcpt-550", "rcpt-451", "rcpt-452", "data-554", "data-451"],
)
def test_server_replies_decide_the_verdict(
    smtp_server: Any, refuse: dict[str, str], data_reply: str, outcome: str, code: str
) -> None:
    handler = Recorder(refuse=refuse, data_reply=data_reply)
    _, endpoint = smtp_server(handler)

    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)

    assert result.outcome == outcome
    assert result.reason is not None and code in result.reason
    assert not result.uncertain  # the server answered: it did not take the message
    assert not result.local
    assert handler.envelopes == []


def test_every_recipient_refused_for_good_or_for_now(smtp_server: Any) -> None:
    other = "other@example.com"
    for refusals, outcome in [
        ({OPS: "550 5.1.1 no such user", other: "553 5.1.3 bad address"}, PARK),
        ({OPS: "550 5.1.1 no such user", other: "450 4.2.1 busy"}, RETRY),
    ]:
        _, endpoint = smtp_server(Recorder(refuse=refusals))
        result = MailSender().send(message([OPS, other]), SENDER, [OPS, other], endpoint, None)
        assert result.outcome == outcome
        assert result.reason is not None
        assert OPS in result.reason and other in result.reason


# --- TLS ----------------------------------------------------------------------------------


def test_starttls_with_the_ca_bundle_delivers(smtp_server: Any, pki: Pki) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler, tls_context=pki.server_context())
    endpoint = SmtpEndpoint(
        "127.0.0.1", endpoint.port, starttls=True, timeout=5, tls_ca_bundle=str(pki.ca)
    )

    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)

    assert (result.outcome, result.reason) == (DELIVERED, None)
    assert len(handler.envelopes) == 1


def test_starttls_without_the_ca_is_parked(smtp_server: Any, pki: Pki) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler, tls_context=pki.server_context())
    endpoint = SmtpEndpoint("127.0.0.1", endpoint.port, starttls=True, timeout=5)

    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)

    assert result.outcome == PARK
    assert result.reason is not None and "certificate" in result.reason
    assert "TLS verification" in result.reason
    assert result.local
    assert handler.envelopes == []


def test_starttls_without_verification_delivers(smtp_server: Any, pki: Pki) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler, tls_context=pki.server_context())
    endpoint = SmtpEndpoint("127.0.0.1", endpoint.port, starttls=True, tls_verify=False)

    assert MailSender().send(message(), SENDER, [OPS], endpoint, None).outcome == DELIVERED
    assert len(handler.envelopes) == 1


def test_starttls_not_offered_is_parked_not_sent_in_clear(smtp_server: Any) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler)
    endpoint = SmtpEndpoint("127.0.0.1", endpoint.port, starttls=True, timeout=5)

    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)

    assert result.outcome == PARK
    assert result.reason is not None and "STARTTLS" in result.reason
    assert handler.envelopes == []


def test_a_missing_ca_bundle_is_parked_before_connecting(tmp_path: Path) -> None:
    with refused_port() as port:
        endpoint = SmtpEndpoint(
            "127.0.0.1", port, starttls=True, tls_ca_bundle=str(tmp_path / "none.pem")
        )
        result = MailSender().send(message(), SENDER, [OPS], endpoint, None)
    assert (result.outcome, result.local) == (PARK, True)
    assert result.reason is not None and "none.pem" in result.reason


# --- AUTH ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_over_starttls_with_the_right_credential(
    smtp_server: Any, pki: Pki, mechanism: str
) -> None:
    handler = Recorder()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    _, endpoint = smtp_server(
        handler,
        tls_context=pki.server_context(),
        authenticator=authenticator,
        auth_required=True,
        auth_exclude_mechanism=[other],
    )
    endpoint = SmtpEndpoint(
        "127.0.0.1", endpoint.port, starttls=True, timeout=5, tls_ca_bundle=str(pki.ca)
    )

    result = MailSender().send(message(), SENDER, [OPS], endpoint, Credential(USER, PASSWORD))

    assert (result.outcome, result.reason) == (DELIVERED, None)
    assert handler.authenticated == [f"{mechanism}:{USER}"]


def test_auth_required_but_no_credential_is_parked(smtp_server: Any, pki: Pki) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(
        handler, tls_context=pki.server_context(), authenticator=authenticator, auth_required=True
    )
    endpoint = SmtpEndpoint(
        "127.0.0.1", endpoint.port, starttls=True, timeout=5, tls_ca_bundle=str(pki.ca)
    )
    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)
    assert result.outcome == PARK
    assert result.reason is not None and "SMTP 530" in result.reason
    assert handler.envelopes == []


def test_a_wrong_password_is_parked_and_never_shown(smtp_server: Any) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler, authenticator=authenticator, auth_require_tls=False)
    wrong = "Wr0ng-Pa55w0rd"
    credential = Credential(USER, wrong)
    echoed_plain = base64.b64encode(f"\0{USER}\0{wrong}".encode()).decode()

    result = MailSender().send(message(), SENDER, [OPS], endpoint, credential)

    assert result.outcome == PARK
    assert result.reason is not None
    assert "SMTP 535" in result.reason and "wallet" in result.reason
    assert wrong not in result.reason
    assert base64.b64encode(wrong.encode()).decode() not in result.reason
    assert "********" in result.reason  # the server did echo it; it was masked
    assert echoed_plain not in result.reason
    assert handler.envelopes == []


def test_a_credential_for_a_server_without_auth_is_parked(smtp_server: Any) -> None:
    handler = Recorder()
    _, endpoint = smtp_server(handler)
    result = MailSender().send(message(), SENDER, [OPS], endpoint, Credential(USER, PASSWORD))
    assert result.outcome == PARK
    assert result.reason is not None and "AUTH" in result.reason
    assert handler.envelopes == []


# --- the network --------------------------------------------------------------------------


def test_nothing_listening_is_retried() -> None:
    with refused_port() as port:
        endpoint = SmtpEndpoint("127.0.0.1", port, timeout=2)
        result = MailSender().send(message(), SENDER, [OPS], endpoint, None)
    assert (result.outcome, result.uncertain) == (RETRY, False)
    assert result.reason is not None and "refused" in result.reason


def test_a_server_that_never_answers_is_retried(scripted_server: Any) -> None:
    port = scripted_server(None)  # accepts (in the backlog) and never writes
    endpoint = SmtpEndpoint("127.0.0.1", port, timeout=0.5)
    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)
    assert (result.outcome, result.uncertain) == (RETRY, False)
    assert result.reason is not None and "0.5 s" in result.reason
    assert "greeting" in result.reason


@pytest.mark.parametrize(
    ("greeting", "outcome"),
    [
        (b"421 4.3.2 mail.test too busy\r\n", RETRY),
        (b"554 5.7.1 mail.test does not accept your mail\r\n", PARK),
    ],
)
def test_the_greeting_decides(scripted_server: Any, greeting: bytes, outcome: str) -> None:
    port = scripted_server(greeting)
    result = MailSender().send(message(), SENDER, [OPS], SmtpEndpoint("127.0.0.1", port), None)
    assert result.outcome == outcome
    assert result.reason is not None and greeting[:3].decode() in result.reason


def test_a_timeout_after_the_data_is_uncertain(smtp_server: Any) -> None:
    handler = Recorder(data_delay=1.5)
    _, endpoint = smtp_server(handler)
    endpoint = SmtpEndpoint("127.0.0.1", endpoint.port, timeout=0.5)
    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)
    assert (result.outcome, result.uncertain) == (RETRY, True)
    assert result.reason is not None and "may have been received" in result.reason


def test_unresolvable_host_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)  # no real DNS in a unit test
    endpoint = SmtpEndpoint("no-such-host.invalid", 25, timeout=2)
    result = MailSender().send(message(), SENDER, [OPS], endpoint, None)
    assert (result.outcome, result.uncertain) == (RETRY, False)
    assert result.reason is not None and "no-such-host.invalid" in result.reason


def test_invalid_addresses_are_parked_without_connecting() -> None:
    cases = [("bad", [OPS]), (SENDER, ["x@y\r\nRCPT TO:<z@y>"]), (SENDER, [])]
    with refused_port() as port:
        endpoint = SmtpEndpoint("127.0.0.1", port)
        for sender, recipients in cases:
            result = MailSender().send(message(), sender, recipients, endpoint, None)
            assert (result.outcome, result.local) == (PARK, True), (sender, recipients)


# --- building messages and checking addresses ---------------------------------------------


def test_build_message_keeps_what_is_valid() -> None:
    raw = build_message(
        sender="Omgw.Notify+orders@Example.COM",
        recipients=["a@example.com", "b.c@mail.example.org"],
        subject="Commande n° 100001 expédiée — ✓",
        body="Lignes:\r\n.dot first\nfin\n",
        message_id="msg-42@omgw.example",
    )
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()  # 7-bit on the wire
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    assert msg["From"] == "Omgw.Notify+orders@example.com"
    assert msg["To"] == "a@example.com, b.c@mail.example.org"
    assert msg["Subject"] == "Commande n° 100001 expédiée — ✓"
    assert msg["Message-ID"] == "<msg-42@omgw.example>"
    assert msg["Date"] is not None
    assert text(msg) == "Lignes:\n.dot first\nfin\n"


def test_build_message_collapses_a_subject_with_line_breaks() -> None:
    raw = build_message(
        sender=SENDER,
        recipients=[OPS],
        subject="Hello\r\nBcc: victim@example.net\r\n\r\nInjected body\x00",
        body="real body\n",
        message_id="urn:uuid:11111111-2222-3333-4444-555555555555",
    )
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Hello Bcc: victim@example.net Injected body"
    assert sorted(msg.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
         "Content-Transfer-Encoding"]
    )  # fmt: skip
    assert text(msg) == "real body\n"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("urn:uuid:0B7E3C55-5D0E", "<0B7E3C55-5D0E@omgw>"),
        ("<abc@host.example>", "<abc@host.example>"),
        ("plain-id", "<plain-id@omgw>"),
    ],
)
def test_message_ids(given: str, expected: str) -> None:
    raw = build_message(sender=SENDER, recipients=[OPS], subject="s", body="b", message_id=given)
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert msg["Message-ID"] == expected


def test_unusual_message_ids_become_valid_and_stay_distinct() -> None:
    ids = []
    for given in ["a b:c", "a b;c", "ärger"]:
        raw = build_message(
            sender=SENDER, recipients=[OPS], subject="s", body="b", message_id=given
        )
        msg = email.message_from_bytes(raw, policy=default_policy)
        ids.append(str(msg["Message-ID"]))
    assert len(set(ids)) == 3
    for value in ids:
        assert value.startswith("<") and value.endswith("@omgw>") and " " not in value
        assert value.isascii()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"recipients": []},
        {"sender": "Name <a@b.c>"},
        {"recipients": ["ok@example.com", "bad"]},
        {"message_id": "  "},
    ],
)
def test_build_message_refuses_what_is_invalid(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = dict(
        sender=SENDER, recipients=[OPS], subject="s", body="b", message_id="m"
    )
    with pytest.raises(ValueError):
        build_message(**{**base, **kwargs})


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "empty"),
        ("a", "no @"),
        ("a@b\r\nBcc: x@y", "control character"),
        ("Name <a@b.c>", "display name"),
        ("<a@b.c>", "angle brackets"),
        ("a b@example.com", "spaces"),
        ("@example.com", "missing"),
        ("a@", "missing"),
        ("a..b@example.com", "invalid"),
        ('"a b"@example.com', "plain"),
        ("a@-bad-.example", "host name"),
        ("a@exa_mple.com", "host name"),
        ("ä@example.com", "non-ASCII"),
        ("a\x00@example.com", "control character"),
    ],
)
def test_check_address_refuses(address: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_address(address)


@pytest.mark.parametrize(
    ("address", "normalized"),
    [
        ("ops@example.com", "ops@example.com"),
        (" Ops.Team+om@Example.COM ", "Ops.Team+om@example.com"),
        ("root@localhost", "root@localhost"),
        ("ops@bücher.example", "ops@xn--bcher-kva.example"),
        ("ops@[127.0.0.1]", "ops@[127.0.0.1]"),
    ],
)
def test_check_address_accepts(address: str, normalized: str) -> None:
    assert check_address(address) == normalized
