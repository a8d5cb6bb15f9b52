"""Serving a simulator's WSGI app on 127.0.0.1 in a daemon thread of this process."""

from __future__ import annotations

import functools
import socketserver
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["QuietHandler", "Served", "ThreadingServer", "serve_in_thread"]


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Served:
    """A server and the thread serving it; the address callers reach it at."""

    server: WSGIServer
    thread: threading.Thread
    host: str

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_in_thread(app: Any, host: str, port: int, name: str) -> Served:
    """Serve ``app`` on ``host:port`` (0: a free port) until :meth:`Served.stop`."""
    server = make_server(host, port, app, server_class=ThreadingServer, handler_class=QuietHandler)
    # A short poll interval: stop() returns within it.
    serve = functools.partial(server.serve_forever, poll_interval=0.1)
    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    return Served(server, thread, host)
