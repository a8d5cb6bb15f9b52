"""The front as an ASGI application: slow callers hold a coroutine, never a thread.

A request reaches the WSGI front (:class:`~gateway.soap.front.SoapFront`), in one of a
few threads, only once its headers and its whole body are here:

1. its headers are screened (:meth:`SoapFront.screen`): a wrong HTTP Basic header or a
   Content-Length over the limit is answered without reading the body;
2. the body is read on the event loop, whole, within ``read_timeout`` seconds from the
   end of the headers and up to ``max_body`` bytes: otherwise ``REQUEST_TIMEOUT`` or
   ``REQUEST_TOO_LARGE``; a caller who hangs up before the end is never answered and
   nothing is processed;
3. the WSGI front runs the buffered request in one of ``threads`` threads, and the
   event loop sends its answer.

So a caller that sends its headers or its body slowly costs a socket and a few kilobytes,
and however many do, the threads keep serving those whose requests are complete. Headers
that never end are cut by the server (:mod:`gateway.server`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from a2wsgi.wsgi import build_environ

from gateway.errors import EnvelopeError, GatewayError
from gateway.soap.endpoints import Answer, StartResponse, drained
from gateway.soap.front import SCREENED_KEY

__all__ = ["BufferingFront", "Front"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: A refused request's body is read and dropped for at most this long before the
#: connection closes, so that the close does not reset it before the caller reads the
#: fault (a close with unread data sends a TCP reset).
_LINGER_SECONDS = 2.0


class Front(Protocol):
    """What the buffering front needs of the WSGI application it runs: the SOAP front
    (:class:`~gateway.soap.front.SoapFront`), or what mounts the console beside it."""

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]: ...

    def needs_screening(self, environ: dict[str, Any]) -> bool: ...

    def screen(self, environ: dict[str, Any]) -> Answer | None: ...

    def refuse(self, environ: dict[str, Any], err: GatewayError) -> Answer: ...


class BufferingFront:
    """Wraps the WSGI front for an ASGI server (uvicorn).

    :param front: the process's WSGI front.
    :param threads: threads that run the front (and screening, which may hash a password).
    :param read_timeout: seconds a caller has to send the whole body once its headers are in.
    :param max_body: the largest body read; ``OMGW_MAX_BODY_BYTES``.
    """

    def __init__(self, front: Front, *, threads: int, read_timeout: float, max_body: int) -> None:
        self._front = front
        self._read_timeout = read_timeout
        self._max = max_body
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="omgw-front")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan events are asked for, and there is no websocket
        loop = asyncio.get_running_loop()
        headers_only: dict[str, Any] = dict(build_environ(scope, None))  # type: ignore[arg-type]
        if self._front.needs_screening(headers_only):
            answer = await loop.run_in_executor(self._threads, self._front.screen, headers_only)
        else:
            answer = None
        if answer is not None:
            await _answer_and_close(answer, receive, send)
            return
        try:
            async with asyncio.timeout(self._read_timeout):
                body = await _read_body(receive, self._max)
        except TimeoutError:
            await self._refuse(headers_only, _timeout(self._read_timeout), receive, send)
            return
        except GatewayError as err:
            await self._refuse(headers_only, err, receive, send)
            return
        if body is None:  # nobody to answer, nothing to process
            return
        environ: dict[str, Any] = dict(build_environ(scope, io.BytesIO(body)))  # type: ignore[arg-type]
        # Every request that gets here was screened before its body was read; what the
        # screening established (a Basic header's principal) goes with it.
        environ[SCREENED_KEY] = headers_only.get(SCREENED_KEY, True)
        status, headers, out = await loop.run_in_executor(self._threads, self._call, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out, "more_body": False})

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the WSGI front on a whole request; its answer as ASGI wants it."""
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            started[:] = [status, headers]

        try:
            out = drained(self._front(environ, start_response))
        except Exception:
            log.exception("the front failed on %s", environ.get("PATH_INFO"))
            return 500, [(b"content-type", b"text/plain")], b"internal error\n"
        status, headers = started
        return int(status.split()[0]), _ascii(headers), out

    async def _refuse(
        self, environ: dict[str, Any], err: GatewayError, receive: Receive, send: Send
    ) -> None:
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self._threads, self._front.refuse, environ, err)
        await _answer_and_close(answer, receive, send, linger=False)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None if the caller hung up before its end."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            raise EnvelopeError(
                "REQUEST_TOO_LARGE", f"the request body exceeds the limit of {limit} bytes"
            )
        if not message.get("more_body", False):
            return bytes(body)


def _ascii(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _answer_and_close(
    answer: Answer, receive: Receive, send: Send, *, linger: bool = True
) -> None:
    """Send ``answer`` and close the connection; the body that may follow is not read,
    only dropped for a moment so the caller gets the answer (``_LINGER_SECONDS``)."""
    status, headers, out = answer
    await send(
        {
            "type": "http.response.start",
            "status": int(status.split()[0]),
            "headers": [*_ascii(headers), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": out, "more_body": linger})
    if not linger:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_LINGER_SECONDS):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body"):
                    break
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _timeout(seconds: float) -> EnvelopeError:
    return EnvelopeError(
        "REQUEST_TIMEOUT",
        f"the request body did not arrive within {seconds:g} s (OMGW_READ_TIMEOUT_SECONDS); "
        "nothing was processed, send the whole request again",
    )
