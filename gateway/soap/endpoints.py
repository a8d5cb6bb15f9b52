"""What the front serves: one published service as an :class:`Endpoint`, and the WSGI
shapes the front, the ASGI server and the console mount share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.soap.operations import Operation

__all__ = ["Answer", "Endpoint", "StartResponse", "WsgiApp", "drained"]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: an HTTP answer: status line, headers, body
Answer = tuple[str, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class Endpoint:
    """One published service: its path, spyne app, operations and required role."""

    name: str
    path: str
    app: WsgiApp
    types_namespace: str
    operations: frozenset[str]
    role: str
    #: every operation, compiled: each request is normalised by it (read by name, in any
    #: order) and, unless ``spyne_mapping``, served by it (lxml in and out)
    compiled: Mapping[str, Operation] = field(default_factory=dict)
    #: serve through spyne's own object mapping instead (the benchmark's comparison and
    #: the codec's equivalence tests)
    spyne_mapping: bool = False


def drained(chunks: Iterable[bytes]) -> bytes:
    """A WSGI application's answer as one byte string, its iterable closed (PEP 3333)."""
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
