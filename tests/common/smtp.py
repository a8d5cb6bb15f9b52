"""An aiosmtpd server on a port the system picks, held from bind to stop.

aiosmtpd's ``Controller`` binds the port it is given (and checks readiness by connecting
to it), so a port 0 cannot be used with it as is; a port found free and released first can
be taken by another process meanwhile. This one binds its socket first and serves on it.
"""

from __future__ import annotations

import socket
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["BoundController"]


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
