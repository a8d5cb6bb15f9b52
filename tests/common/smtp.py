"""An aiosmtpd server on a port the system picks (the simulated mail server's
controller), and a mailbox that keeps what it is sent or refuses it."""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.smtp import SMTP, Envelope, Session

from simulators.mailbox import BoundController

__all__ = ["BoundController", "Mailbox", "smtp_server"]


@dataclass
class Mailbox:
    """An SMTP server's handler: keeps every message, or refuses every recipient."""

    refuse: str | None = None
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:  # fmt: skip
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 OK queued"

    def messages(self) -> list[EmailMessage]:
        out = []
        for e in self.envelopes:
            raw = e.original_content or e.content
            assert isinstance(raw, bytes)
            msg = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out


@contextmanager
def smtp_server(box: Mailbox) -> Iterator[int]:
    controller = BoundController(box, server_hostname="mail.test", ready_timeout=5)
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()
