"""Reading a request's body from the WSGI input: whole, within a deadline, under a limit.

A body must arrive as long as its Content-Length says, within the read deadline for the
whole body (not per read). Where the server offers the connection's socket (under
:data:`SOCKET_KEY`, or gunicorn's key) each read waits only for what is left of the
deadline; elsewhere the deadline is checked between reads.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from gateway.errors import EnvelopeError

__all__ = ["SOCKET_KEY", "content_length", "drain", "is_basic", "read_body"]

#: the connection's socket, where the server offers it (gunicorn's key, or ours): the
#: read deadline is then held to the second rather than to the server's own timeout
SOCKET_KEY = "omgw.socket"
_SOCKET_KEYS = (SOCKET_KEY, "gunicorn.socket")
#: A refused request's body is read and dropped when it is at most this long, so that
#: closing the connection does not reset it before the caller has read the fault.
_DRAIN_BYTES = 64 * 1024
_CHUNK = 64 * 1024


def content_length(environ: Mapping[str, Any], limit: int) -> int | None:
    """The announced body length (None: not announced), refused if over ``limit``."""
    text = (environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return None
    try:
        length = int(text)
    except ValueError:
        raise EnvelopeError("REQUEST_INVALID", "Content-Length is not a number") from None
    if length < 0:
        raise EnvelopeError("REQUEST_INVALID", "Content-Length is negative")
    if length > limit:
        raise EnvelopeError(
            "REQUEST_TOO_LARGE", f"the request body is {length} bytes; the limit is {limit} bytes"
        )
    return length


def is_basic(authorization: str | None) -> bool:
    """Whether an Authorization header is HTTP Basic."""
    return authorization is not None and authorization.partition(" ")[0].lower() == "basic"


def read_body(environ: Mapping[str, Any], limit: int, seconds: float) -> bytes:
    """The whole body, as long as its Content-Length says, within ``seconds``."""
    length = content_length(environ, limit)
    want = limit + 1 if length is None else length
    data = _read_until(environ, want, seconds)
    if len(data) > limit:
        raise EnvelopeError(
            "REQUEST_TOO_LARGE", f"the request body exceeds the limit of {limit} bytes"
        )
    if length is not None and len(data) < length:
        raise EnvelopeError(
            "REQUEST_INCOMPLETE",
            f"the connection ended after {len(data)} of the {length} bytes its "
            "Content-Length announced; nothing was processed, send the whole request",
        )
    return data


def drain(environ: Mapping[str, Any], limit: int, seconds: float) -> None:
    """Read and drop a short body the answer does not need (see ``_DRAIN_BYTES``)."""
    try:
        length = content_length(environ, limit)
    except EnvelopeError:
        return
    if length is None or length > _DRAIN_BYTES:
        return
    with contextlib.suppress(EnvelopeError, OSError):
        _read_until(environ, length, min(seconds, 2.0))


def _read_until(environ: Mapping[str, Any], want: int, seconds: float) -> bytes:
    """Up to ``want`` bytes of the body (fewer if the caller stops sending) within
    ``seconds``, or REQUEST_TIMEOUT. Without the socket, each read is bounded by the
    server's own socket timeout and the deadline is checked between reads."""
    deadline = time.monotonic() + seconds
    stream = environ["wsgi.input"]
    sock = next((environ[k] for k in _SOCKET_KEYS if environ.get(k) is not None), None)
    read = getattr(stream, "read1", None) or stream.read
    chunks: list[bytes] = []
    got = 0
    previous = sock.gettimeout() if sock is not None else None
    try:
        while got < want:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _timeout(got, seconds)
            if sock is not None:
                sock.settimeout(left)
            try:
                chunk = read(min(_CHUNK, want - got))
            except TimeoutError:
                raise _timeout(got, seconds) from None
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(previous)
    return b"".join(chunks)


def _timeout(got: int, seconds: float) -> EnvelopeError:
    return EnvelopeError(
        "REQUEST_TIMEOUT",
        f"the request body did not arrive within {seconds:g} s (OMGW_READ_TIMEOUT_SECONDS; "
        f"{got} bytes came); nothing was processed, send the whole request again",
    )
