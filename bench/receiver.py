"""A fast local fulfillment system for the outbound benchmark (bench/dispatch.py).

It serves the FulfillmentRequest contract (connectors/wsdl/outbound/FulfillmentRequest.wsdl) on
127.0.0.1 in a process of its own, with as little work per request as a socket server
can do: HTTP/1.1 with keep-alive and ``Content-Length``, a thread per connection, and
canned answers:

* ``processFulfillmentRequest`` (one-way, SOAPAction ``process``): ``202 Accepted`` with
  an empty body, as omgw's simulator answers; :func:`connectors.verdicts.classify` takes
  that as delivered for an ``ASYNC_SERVICE`` connector (and zeep's one-way call as done);
* ``processFulfillmentRequestSync`` (SOAPAction ``processSync``): ``200`` with a
  ``headerTR`` that accepts the request, its ``FulfillmentRequestIdentifier`` echoed.

It counts the requests, their bytes and their distinct ``wsa:MessageID`` values, so a
benchmark can check that every message arrived exactly once: ``GET /count`` answers
``{"requests": …, "bytes": …, "unique": …}``; ``POST /reset`` sets them to zero.

    serve(port) -> subprocess.Popen; count(port) -> int; stats(port); stop(p)
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["count", "reset", "serve", "stats", "stop"]

_TR_NS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/model/"
_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
_MESSAGE_ID = re.compile(rb"MessageID[^>]*>([^<]+)<")
_REQUEST_ID = re.compile(rb"FulfillmentRequestIdentifier>\s*(\d+)\s*<")
_SYNC_ANSWER = (
    f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{_ENV}"><soap:Body>'
    f'<tr:headerTR xmlns:tr="{_TR_NS}"><tr:FulfillmentRequestIdentifier>{{rid}}'
    "</tr:FulfillmentRequestIdentifier><tr:FulfillmentSystem>BENCH</tr:FulfillmentSystem>"
    "<tr:FulfillmentSystemResponseIdentifier>BENCH-{rid}</tr:FulfillmentSystemResponseIdentifier>"
    "<tr:StatusCode>ACCEPTED</tr:StatusCode></tr:headerTR></soap:Body></soap:Envelope>"
)


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.ids: set[bytes] = set()

    def add(self, body: bytes) -> None:
        found = _MESSAGE_ID.search(body)
        with self.lock:
            self.requests += 1
            self.bytes += len(body)
            if found:
                self.ids.add(found.group(1))

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"requests": self.requests, "bytes": self.bytes, "unique": len(self.ids)}

    def reset(self) -> None:
        with self.lock:
            self.requests = self.bytes = 0
            self.ids.clear()


def _answer(status: str, body: bytes, content_type: str) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _connection(conn: socket.socket, counter: _Counter) -> None:
    """Serve one kept-alive connection until the client closes it."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                end = buf.find(b"\r\n\r\n")
            head, buf = buf[:end].decode("latin-1"), buf[end + 4 :]
            request_line, _, rest = head.partition("\r\n")
            method, path, _version = request_line.split(" ", 2)
            length = 0
            action = ""
            close = False
            for line in rest.split("\r\n"):
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "soapaction":
                    action = value.strip().strip('"')
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            while len(buf) < length:
                chunk = conn.recv(max(65536, length - len(buf)))
                if not chunk:
                    return
                buf += chunk
            body, buf = buf[:length], buf[length:]
            if method == "GET" and path.startswith("/count"):
                out = _answer("200 OK", json.dumps(counter.snapshot()).encode(), "application/json")
            elif method == "POST" and path.startswith("/reset"):
                counter.reset()
                out = _answer("200 OK", b"{}", "application/json")
            elif method == "POST":
                counter.add(body)
                if action == "processSync":
                    found = _REQUEST_ID.search(body)
                    rid = found.group(1).decode() if found else "0"
                    out = _answer(
                        "200 OK", _SYNC_ANSWER.format(rid=rid).encode(), "text/xml; charset=utf-8"
                    )
                else:
                    out = _ACCEPTED
            else:
                out = _answer("405 Method Not Allowed", b"", "text/plain")
            conn.sendall(out)
            if close:
                return
    except (ConnectionError, OSError, ValueError):
        return
    finally:
        conn.close()


def _main(port: int) -> None:
    counter = _Counter()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(512)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_connection, args=(conn, counter), daemon=True).start()


def serve(port: int) -> subprocess.Popen[bytes]:
    """Start the receiver on 127.0.0.1:``port`` in a process of its own; returns once it
    answers."""
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", str(port)])
    end = time.monotonic() + 15
    while True:
        try:
            stats(port)
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > end:
                stop(process)
                raise RuntimeError(f"the receiver did not start on port {port}") from None
            time.sleep(0.05)


def _call(port: int, method: str, path: str) -> dict[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        data = json.loads(conn.getresponse().read())
        return {k: int(v) for k, v in data.items()}
    finally:
        conn.close()


def stats(port: int) -> dict[str, int]:
    """Requests received, their bytes, and distinct MessageIDs among them."""
    return _call(port, "GET", "/count")


def count(port: int) -> int:
    """How many requests the receiver on ``port`` has received."""
    return stats(port)["requests"]


def reset(port: int) -> None:
    _call(port, "POST", "/reset")


def stop(p: subprocess.Popen[bytes]) -> None:
    """End the receiver ``serve`` started."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    _main(parser.parse_args().port)
