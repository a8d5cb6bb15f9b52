"""A fulfillment system stand-in on 127.0.0.1 that records what it gets and answers each
POST with the next scripted (status, body), else 202 Accepted: the tests then play the
system's answers themselves, in the order they choose."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from tests.common.threaded_server import served

__all__ = ["Receiver", "receiving"]

WSA = "http://www.w3.org/2005/08/addressing"


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, body), then 202 Accepted."""

    url: str = ""
    bodies: list[bytes] = field(default_factory=list)
    script: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length))
        status, body = self.script.pop(0) if self.script else ("202 Accepted", b"")
        start_response(status, [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    def message_ids(self) -> list[str]:
        return [etree.fromstring(b).findtext(f".//{{{WSA}}}MessageID") for b in self.bodies]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    with served(receiver) as base:
        receiver.url = f"{base}/wms"
        yield receiver
