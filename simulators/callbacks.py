"""The fulfillment simulator's calls back to the gateway's OrderFulfillmentResponseService.

A warehouse answers an asynchronous request later, by calling the requester's response
service; this module is that client: a zeep service proxy per worker thread and URL, each
call retried on transport errors and HTTP 5xx with a doubling wait, and its outcome kept for
the simulator's state. zeep is imported on the first call, so serving needs none of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

__all__ = ["CallbackOptions", "GatewayCaller", "redact"]

log = logging.getLogger(__name__)

#: the longest wait between two attempts of one callback
_MAX_WAIT = 5.0


class CallbackOptions(Protocol):
    """What a callback is made with (the simulator's options provide it)."""

    @property
    def gateway_user(self) -> str | None: ...
    @property
    def gateway_password(self) -> str | None: ...
    @property
    def callback_timeout(self) -> float: ...
    @property
    def callback_retries(self) -> int: ...
    @property
    def callback_backoff(self) -> float: ...


class GatewayCaller:
    """Calls the gateway back, sharing the simulator's lock, counters and closing event.

    Counts ``callbacks_sent`` and ``callback_errors`` in ``counters`` (under ``lock``).
    Call :meth:`close` when done: it closes every HTTP session it opened.
    """

    def __init__(
        self,
        lock: threading.Lock,
        counters: MutableMapping[str, int],
        closing: threading.Event,
    ) -> None:
        self._lock = lock
        self._counters = counters
        self._closing = closing
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    def call(
        self,
        url: str,
        operation: str,
        kwargs: dict[str, Any],
        options: CallbackOptions,
        *,
        request_id: int,
        entries: list[dict[str, Any]],
    ) -> bool:
        """One callback, retried on transport errors and 5xx; whether the gateway took it.

        Its attempts and outcome go in a new dict appended to ``entries`` (under the lock).
        """
        from zeep.exceptions import Fault, TransportError

        attempts = options.callback_retries + 1
        wait = options.callback_backoff
        entry: dict[str, Any] = {"operation": operation, "attempts": 0}
        with self._lock:
            entries.append(entry)
        for attempt in range(1, attempts + 1):
            with self._lock:
                entry["attempts"] = attempt
            retry = False
            try:
                result = getattr(self._service(url, options), operation)(**kwargs)
            except Fault as fault:
                outcome, detail = "fault", f"{fault.code}: {fault.message}"
            except TransportError as exc:
                outcome, detail = "error", f"HTTP {exc.status_code}"
                retry = exc.status_code is not None and exc.status_code >= 500
            except requests.exceptions.RequestException as exc:
                outcome, detail = "error", f"{type(exc).__name__}: transport error"
                retry = True
            except Exception as exc:  # an unusable answer: sending again will not help
                outcome, detail = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
            else:
                status = getattr(result, "OverallStatusCode", None)
                with self._lock:
                    entry.update(outcome="ok", detail=status)
                    self._counters["callbacks_sent"] += 1
                return True
            if retry and attempt < attempts and not self._closing.wait(wait):
                wait = min(wait * 2, _MAX_WAIT)
                continue
            with self._lock:
                entry.update(outcome=outcome, detail=detail)
                self._counters["callback_errors"] += 1
            log.warning(
                "simulator: %s for request %s to %s failed: %s",
                operation,
                request_id,
                redact(url),
                detail,
            )
            return False
        return False  # pragma: no cover - the loop always returns

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _service(self, url: str, options: CallbackOptions) -> Any:
        """This worker's zeep service proxy bound to ``url`` (built once per worker and URL)."""
        import zeep
        from zeep.transports import Transport

        cache: dict[tuple[str, str | None], Any] = self._local.__dict__.setdefault("cache", {})
        key = (url, options.gateway_user)
        service = cache.get(key)
        if service is None:
            session = requests.Session()
            if options.gateway_user is not None:
                session.auth = (options.gateway_user, options.gateway_password or "")
            transport = Transport(
                session=session,
                timeout=options.callback_timeout,
                operation_timeout=options.callback_timeout,
            )
            try:
                client = zeep.Client(f"{url}?WSDL", transport=transport)
            except BaseException:
                session.close()
                raise
            with self._lock:
                self._sessions.append(session)
            binding = next(
                name
                for name, b in client.wsdl.bindings.items()
                if "processFulfillmentResponse" in b.all()
            )
            # Bound to the URL we were given, whatever address the WSDL names.
            service = client.create_service(binding, url)
            cache[key] = service
        return service


def redact(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` part, for logs and the state."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()
