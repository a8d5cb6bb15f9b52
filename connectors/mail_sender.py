"""Sending e-mail notifications through SMTP, and what each outcome means.

:class:`MailSender` hands the bytes an outbox row stores (built by
:func:`connectors.mail_message.build_message`) to an SMTP server, one connection per
message: ``EHLO``, ``STARTTLS`` when the endpoint asks for it (verified against the
system's or the endpoint's CA bundle), ``AUTH`` when there is a credential, then
``MAIL``/``RCPT``/``DATA`` and ``QUIT``. Every step has the endpoint's timeout and the
connection is always closed. The verdicts (:mod:`connectors.verdicts`):

* ``DELIVERED``: the server took the message (``250`` after the data) for at least one
  recipient; if it refused some, the reason names them with the server's reply;
* ``RETRY``: connection refused, a name that does not resolve, a timeout, the connection
  cut, any ``4xx`` reply (``421``, ``450``, ``451``, ``452``, ``454`` …), every
  recipient refused when one of the refusals is temporary, a failed TLS handshake —
  the server may do better later;
* ``PARK``: any ``5xx`` reply (``550``, ``553``, ``554``, and ``535`` for refused
  credentials …), every recipient refused for good, ``STARTTLS`` asked for and not
  offered (the message is never sent in clear instead), a server certificate that
  does not verify, a credential for a server that offers no ``AUTH`` (or none smtplib
  speaks), an address that is not a plain ``local@domain`` — sending the same bytes
  again cannot help; a person must look.

A verdict is ``uncertain`` when the message itself went out and the connection then
timed out or broke before the server's final reply: the server may have queued it.
Failures before that point (including a timeout while waiting for the ``354`` to
``DATA``) are certain: the server cannot have the message. Reasons carry the server's
reply as ``SMTP <code> <text> (<step>)`` and never the password: it is masked, with
its base64 forms (``AUTH LOGIN``, ``AUTH PLAIN``), should the server echo them.
``local`` marks verdicts reached without a word from the server (an invalid address, an
unreadable CA bundle, a certificate that does not verify): they say nothing of its health.
"""

from __future__ import annotations

import base64
import contextlib
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from connectors.mail_message import check_address, one_line
from connectors.secret_box import Credential
from connectors.verdicts import DELIVERED, PARK, RETRY, SendResult, short_reason

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["MailSender", "SmtpEndpoint"]

#: what a secret the server echoed is replaced with in a reason
MASK = "********"


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to hand messages over: a mail connector's transport settings."""

    host: str
    port: int = 25
    #: upgrade with STARTTLS; a server that does not offer it is refused (PARK), never
    #: silently used in plain text
    starttls: bool = False
    timeout: float = 10.0
    tls_verify: bool = True
    tls_ca_bundle: str | None = None


@dataclass
class _Progress:
    """How far a conversation got: the step under way, and whether the message itself
    (not just the ``DATA`` command) went out."""

    step: str = "connecting"
    payload_sent: bool = False


class _Client(smtplib.SMTP):
    """smtplib's client, recording its :class:`_Progress` (kept outside it: the
    constructor already connects, and may fail)."""

    def __init__(self, progress: _Progress, host: str, port: int, timeout: float) -> None:
        self.progress = progress
        super().__init__(host, port, timeout=timeout)

    def getreply(self) -> tuple[int, bytes]:
        if self.progress.step == "connecting":  # the socket is open: this is the greeting
            self.progress.step = "greeting"
        return super().getreply()

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.progress.step = "MAIL FROM"
        return super().mail(sender, options)

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.progress.step = "RCPT TO"
        return super().rcpt(recip, options)

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.progress.step = "DATA"
        return super().data(msg)

    def send(self, s: ReadableBuffer | str) -> None:
        super().send(s)
        # commands go as str; only the message (after DATA's 354) goes as bytes
        if self.progress.step == "DATA" and not isinstance(s, str):
            self.progress.payload_sent = True
            self.progress.step = "end of DATA"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return one_line(text)


def _reply(code: int, reply: bytes | str, step: str) -> str:
    text = _text(reply)
    return f"SMTP {code} {text} ({step})" if text else f"SMTP {code} ({step})"


def _on_reply(code: int, reply: bytes | str, step: str, payload_sent: bool) -> SendResult:
    """The verdict on a reply that was not the one hoped for."""
    reason = _reply(code, reply, step)
    if 400 <= code < 500:
        return SendResult(RETRY, reason)
    if 500 <= code < 600:
        if code == 535:
            reason += ": the server refused our credential; check the connector's wallet entry"
        elif code == 530 and step == "MAIL FROM":
            reason += ": the server wants AUTH; give the connector a credential"
        return SendResult(PARK, reason)
    return SendResult(RETRY, f"unexpected reply: {reason}", uncertain=payload_sent)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{addr}: {_reply(code, text, 'RCPT TO')}" for addr, (code, text) in refused.items()
    )


def _tls_context(endpoint: SmtpEndpoint) -> ssl.SSLContext:
    if not endpoint.tls_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=endpoint.tls_ca_bundle)


def _secrets(credential: Credential | None) -> list[str]:
    """The password and the forms smtplib sends it in, longest first."""
    if credential is None or not credential.password:
        return []
    user, password = credential.username, credential.password
    forms = {password}
    for raw in (password, f"\0{user}\0{password}", f"{user}\0{user}\0{password}"):
        forms.add(base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode("ascii"))
    return sorted(forms, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class MailSender:
    """Hands messages to SMTP servers; one connection per message, nothing kept."""

    def send(
        self,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        endpoint: SmtpEndpoint,
        credential: Credential | None,
    ) -> SendResult:
        """Send once and judge the outcome; never raises for what the server does."""
        if isinstance(recipients, str):
            recipients = [recipients]
        try:
            from_addr = check_address(sender)
            to_addrs = [check_address(r) for r in recipients]
        except ValueError as exc:
            return SendResult(PARK, short_reason(f"cannot send: {exc}"), local=True)
        if not to_addrs:
            return SendResult(PARK, "cannot send: the message has no recipient", local=True)
        try:
            context = _tls_context(endpoint) if endpoint.starttls else None
        except (OSError, ssl.SSLError) as exc:
            return SendResult(
                PARK,
                short_reason(f"cannot load the CA bundle {endpoint.tls_ca_bundle!r}: {exc}"),
                local=True,
            )
        result = self._send(message, from_addr, to_addrs, endpoint, context, credential)
        if result.reason is None:
            return result
        secrets = _secrets(credential)
        return replace(result, reason=_scrub(short_reason(_scrub(result.reason, secrets)), secrets))

    def _send(
        self,
        message: bytes,
        sender: str,
        recipients: list[str],
        endpoint: SmtpEndpoint,
        context: ssl.SSLContext | None,
        credential: Credential | None,
    ) -> SendResult:
        progress = _Progress()
        smtp: _Client | None = None
        try:
            smtp = _Client(progress, endpoint.host, endpoint.port, endpoint.timeout)
            return self._converse(smtp, message, sender, recipients, endpoint, context, credential)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
            temporary = any(400 <= code < 500 for code, _ in refused.values())
            return SendResult(
                RETRY if temporary else PARK,
                f"every recipient was refused: {_refusals(refused)}",
            )
        except smtplib.SMTPResponseException as exc:
            return _on_reply(exc.smtp_code, exc.smtp_error, progress.step, progress.payload_sent)
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):
                return self._timeout(progress, endpoint)
            if progress.payload_sent:
                return SendResult(
                    RETRY,
                    "the server closed the connection after the message was sent, before "
                    "confirming it (it may have been received)",
                    uncertain=True,
                )
            return SendResult(RETRY, f"the server closed the connection ({progress.step})")
        except smtplib.SMTPException as exc:  # capabilities smtplib lacks: no AUTH mechanism
            return SendResult(PARK, f"{exc} ({progress.step})")
        except ssl.SSLCertVerificationError as exc:
            return SendResult(
                PARK,
                f"TLS verification of the SMTP server failed ({exc.verify_message}); fix its "
                "certificate or the connector's tls_ca_bundle, then replay",
                local=True,
            )
        except ssl.SSLError as exc:
            return SendResult(RETRY, f"the TLS handshake failed ({exc.reason or exc})")
        except TimeoutError:
            return self._timeout(progress, endpoint)
        except ConnectionRefusedError:
            return SendResult(RETRY, f"connection refused by {endpoint.host}:{endpoint.port}")
        except socket.gaierror as exc:
            return SendResult(RETRY, f"cannot resolve {endpoint.host!r}: {exc.strerror or exc}")
        except OSError as exc:
            return SendResult(
                RETRY,
                f"network error ({progress.step}): {exc.strerror or type(exc).__name__}",
                uncertain=progress.payload_sent,
            )
        except UnicodeError as exc:  # smtplib speaks ASCII only: a user name, or a host name
            if progress.step == "AUTH":
                return SendResult(
                    PARK,
                    "the credential has non-ASCII characters, which smtplib's AUTH cannot send",
                    local=True,
                )
            return SendResult(PARK, f"cannot use the host {endpoint.host!r}: {exc}", local=True)
        finally:
            if smtp is not None:
                smtp.close()

    def _converse(
        self,
        smtp: _Client,
        message: bytes,
        sender: str,
        recipients: list[str],
        endpoint: SmtpEndpoint,
        context: ssl.SSLContext | None,
        credential: Credential | None,
    ) -> SendResult:
        smtp.progress.step = "EHLO"
        smtp.ehlo_or_helo_if_needed()
        if context is not None:
            if not smtp.has_extn("starttls"):
                return SendResult(
                    PARK,
                    f"{endpoint.host}:{endpoint.port} does not offer STARTTLS, which the "
                    "connector requires; the message is not sent in plain text",
                )
            smtp.progress.step = "STARTTLS"
            smtp.starttls(context=context)
            smtp.progress.step = "EHLO after STARTTLS"
            smtp.ehlo_or_helo_if_needed()
        if credential is not None:
            if not smtp.has_extn("auth"):
                return SendResult(
                    PARK,
                    f"{endpoint.host}:{endpoint.port} offers no SMTP AUTH"
                    + ("" if context is not None else " (without STARTTLS)")
                    + ", but the connector has a credential to log in with",
                )
            smtp.progress.step = "AUTH"
            smtp.login(credential.username, credential.password)
        options = ["BODY=8BITMIME"] if not message.isascii() and smtp.has_extn("8bitmime") else []
        refused = smtp.sendmail(sender, recipients, message, mail_options=options)
        smtp.progress.step = "QUIT"
        with contextlib.suppress(OSError):  # smtplib's errors are OSErrors too
            smtp.quit()  # the message was accepted; a goodbye lost does not change that
        if refused:
            return SendResult(DELIVERED, f"some recipients were refused: {_refusals(refused)}")
        return SendResult(DELIVERED)

    @staticmethod
    def _timeout(progress: _Progress, endpoint: SmtpEndpoint) -> SendResult:
        if progress.payload_sent:
            return SendResult(
                RETRY,
                f"no confirmation within {endpoint.timeout:g} s after the message was sent "
                "(it may have been received)",
                uncertain=True,
            )
        if progress.step == "connecting":
            return SendResult(RETRY, f"no connection within {endpoint.timeout:g} s")
        return SendResult(RETRY, f"no answer within {endpoint.timeout:g} s ({progress.step})")
