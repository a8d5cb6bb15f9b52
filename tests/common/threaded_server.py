"""A WSGI application on a free 127.0.0.1 port, served by threads of this process.

The gateway's front in the tests and the stand-ins beside it run on it. Its requests
carry the connection's socket under ``SOCKET_KEY``, as gunicorn's do, so the front holds
its read deadline on the socket itself here too.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from gateway.soap.body_reading import SOCKET_KEY

__all__ = ["bound_server", "running", "served"]


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def get_environ(self) -> dict[str, Any]:
        return {**super().get_environ(), SOCKET_KEY: self.connection}


def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def bound_server(app: Any = _not_ready) -> WSGIServer:
    """A server bound to a free port, not yet serving; until ``set_app`` it answers 503."""
    return make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )


@contextmanager
def running(server: WSGIServer) -> Iterator[str]:
    """``server`` serving in a thread until the block ends; yields its base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served on 127.0.0.1 in a thread until the block ends; yields its base URL."""
    with running(bound_server(app)) as base:
        yield base
