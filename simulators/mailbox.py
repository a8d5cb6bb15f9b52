"""A simulated mail server: accepts every message for every recipient and keeps a count.

``omgw demo`` points ``OMGW_SMTP_HOST`` at it, so the e-mail notifications and alerts of
a demo run go out through the same SMTP path as in production, and arrive somewhere.
aiosmtpd's ``Controller`` binds the port it is given; a port 0 would not tell which it
took, so :class:`BoundController` binds its socket first and serves on it.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["BoundController", "RunningMailbox", "serve_mailbox"]

# aiosmtpd logs every SMTP command at INFO; a count is what the demo shows
logging.getLogger("mail.log").setLevel(logging.WARNING)


class BoundController(Controller):
    """A ``Controller`` on 127.0.0.1 and a port of its own; ``port`` says which."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        port = int(self._socket.getsockname()[1])
        super().__init__(handler, hostname="127.0.0.1", port=port, **kwargs)

    def _create_server(self) -> Any:
        server: Any = self.loop.create_server(
            self._factory_invoker, sock=self._socket, ssl=self.ssl_context
        )
        return server

    def stop(self, no_assert: bool = False) -> None:
        try:
            super().stop(no_assert=no_assert)
        finally:
            self._socket.close()


@dataclass
class _Counting:
    """Counts each message by recipient."""

    received: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] += 1
        return "250 2.0.0 OK queued"


@dataclass
class RunningMailbox:
    port: int
    _controller: BoundController
    _handler: _Counting

    def counts(self) -> dict[str, int]:
        """Messages received so far, by recipient."""
        with self._handler.lock:
            return dict(self._handler.received)

    def close(self) -> None:
        self._controller.stop()


def serve_mailbox() -> RunningMailbox:
    """A mail server on 127.0.0.1, on a port the system picks, until ``close``."""
    handler = _Counting()
    controller = BoundController(handler, server_hostname="mail.demo", ready_timeout=5)
    controller.start()
    return RunningMailbox(int(controller.port), controller, handler)
