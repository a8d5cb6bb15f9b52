"""Delivery: one claimed row sent through its connector (or the SMTP server), with no
database work but the wallet read.

A claimed row comes as a :class:`Claimed`, detached from its session: everything one send
needs. A finished send is a :class:`Sent`, waiting to be recorded.

Each send gets its secrets from the connector's wallet entries (a batch of claims reads
and decrypts each entry once): the credential for WS-Security or HTTP Basic, and the
client certificate for mutual TLS. A fulfillment request or business event goes through
:class:`connectors.dispatch.Sender`, whose verdict (:mod:`connectors.verdicts`) says
whether it was delivered, is retried or is parked; an e-mail row goes to the configured
SMTP server (:mod:`connectors.mail_sender`). A reason the endpoint gave is scrubbed of the
credential before anything keeps it. A send never raises: what went wrong is its verdict.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from connectors.connector_errors import WalletError
from connectors.connector_specs import DEFAULT_CREDENTIAL_MAP, RetryPolicy
from connectors.dispatch import Endpoint, Sender
from connectors.mail_message import build_message
from connectors.mail_sender import MailSender, SmtpEndpoint
from connectors.secret_box import Credential
from connectors.tls import ClientIdentity
from connectors.verdicts import PARK, SendResult
from gateway.events.publisher import EMAIL_KIND
from gateway.outbox.secret_scrubber import Scrubber
from gateway.persistence.models import utcnow
from gateway.registry.wallet_store import credential_source
from gateway.runtime import Runtime

__all__ = ["Claimed", "Delivery", "Lookup", "Secrets", "Sent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A leased row, detached from its session: everything one send needs."""

    id: int
    message_id: str
    payload: bytes
    soap_action: str
    invocation_mode: str
    attempt: int
    connector_id: int | None
    connector_name: str
    endpoint: Endpoint | None
    credential_ref: tuple[str, str] | None
    retry: RetryPolicy
    request_id: int | None
    kind: str = "FULFILLMENT_REQUEST"
    recipients: tuple[str, ...] = ()
    #: the wallet entry holding the client certificate the connector presents
    certificate_ref: tuple[str, str] | None = None


@dataclass(frozen=True)
class Sent:
    """One finished send, waiting to be recorded."""

    item: Claimed
    result: SendResult
    started: datetime
    ms: int
    seconds: float = 0.0


@dataclass(frozen=True)
class Secrets:
    """What one send needs from the wallet (either may be absent)."""

    credential: Credential | None = None
    identity: ClientIdentity | None = None


#: a send's wallet lookup: its secrets, or why they could not be read
Lookup = Secrets | WalletError


def _secrets(
    found: dict[tuple[str, str], Credential | WalletError],
    credential_ref: tuple[str, str] | None,
    certificate_ref: tuple[str, str] | None,
) -> Lookup:
    """One send's secrets from a batch's decrypted wallet entries."""
    credential = found[credential_ref] if credential_ref is not None else None
    if isinstance(credential, WalletError):
        return credential
    identity = None
    if certificate_ref is not None:
        holder = found[certificate_ref]
        if isinstance(holder, WalletError):
            return holder
        if not holder.client_certificate or not holder.client_key:
            return WalletError(
                f"wallet entry ({certificate_ref[0]}, {certificate_ref[1]}) holds no client "
                "certificate; store one with 'omgw wallet set … --client-certificate "
                "--client-key'"
            )
        identity = ClientIdentity(holder.client_certificate, holder.client_key)
    return Secrets(credential, identity)


class Delivery:
    """Sends claimed rows: ``sender`` for connectors, the SMTP settings for e-mail.

    :param runtime: the settings and the sessions the wallet is read with
    :param sender: the connectors' HTTP sender (one per worker: it keeps connections)
    """

    def __init__(self, runtime: Runtime, sender: Sender | None = None) -> None:
        self.runtime = runtime
        self._sender = sender or Sender()
        self._mailer = MailSender()

    def _credential_ref(self, item: Claimed) -> tuple[str, str] | None:
        if item.kind == EMAIL_KIND and self.runtime.settings.smtp_credential_key:
            return (DEFAULT_CREDENTIAL_MAP, self.runtime.settings.smtp_credential_key)
        return item.credential_ref

    def lookup(self, items: Sequence[Claimed]) -> list[Lookup]:
        """Each item's credential and client certificate, each wallet entry read and
        decrypted once."""
        refs = {self._credential_ref(i) for i in items} | {i.certificate_ref for i in items}
        found: dict[tuple[str, str], Credential | WalletError] = {}
        if refs - {None}:
            with self.runtime.read_sessions() as s:
                source = credential_source(s, lambda: self.runtime.secret_box)
                for ref in refs:
                    if ref is None:
                        continue
                    try:
                        found[ref] = source.credential(*ref)
                    except WalletError as exc:
                        found[ref] = exc
        return [_secrets(found, self._credential_ref(i), i.certificate_ref) for i in items]

    def _mail(self, item: Claimed, credential: Credential | None) -> SendResult:
        """Send an e-mail row through the configured SMTP server."""
        settings = self.runtime.settings
        if not settings.smtp_host:
            return SendResult(
                PARK,
                "no SMTP server is configured; set OMGW_SMTP_HOST (and replay this message)",
                local=True,
            )
        text = json.loads(item.payload)
        message = build_message(
            sender=settings.smtp_sender,
            recipients=item.recipients,
            subject=text["subject"],
            body=text["body"],
            message_id=item.message_id,
        )
        endpoint = SmtpEndpoint(
            settings.smtp_host,
            settings.smtp_port,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )
        return self._mailer.send(
            message, settings.smtp_sender, item.recipients, endpoint, credential
        )

    def send(self, item: Claimed, secrets: Lookup) -> Sent:
        """Send one claimed row (no database work); never raises."""
        started = utcnow()
        clock = time.monotonic()
        credential = None
        if isinstance(secrets, WalletError):
            result = SendResult(
                PARK, f"cannot read the connector's wallet entry: {secrets}", local=True
            )
        else:
            credential = secrets.credential
            try:
                if item.kind == EMAIL_KIND:
                    result = self._mail(item, credential)
                else:
                    assert item.endpoint is not None
                    result = self._sender.send(
                        item.payload,
                        item.soap_action,
                        item.endpoint,
                        credential,
                        expect_answer=item.invocation_mode == "SYNC_SERVICE",
                        identity=secrets.identity,
                    )
            except Exception as exc:  # a bug or a bad setting, not the endpoint: a person looks
                log.exception("outbox %s: the send failed before reaching the endpoint", item.id)
                result = SendResult(PARK, f"the send failed: {type(exc).__name__}", local=True)
        if result.reason:
            # a receiver may echo what we sent (its fault text, say): never store our secret
            known = (
                [credential.password, f"{credential.username}:{credential.password}"]
                if credential is not None
                else []
            )
            scrub = Scrubber(known)
            result = replace(result, reason=scrub.text(result.reason))
        elapsed = time.monotonic() - clock
        return Sent(item, result, started, int(elapsed * 1000), elapsed)

    def close(self) -> None:
        """Close the sender's kept-alive connections."""
        self._sender.close()
