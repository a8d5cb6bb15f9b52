"""GET ``?WSDL``: spyne's WSDL in Oracle's shape, addressed to the host the caller used."""

from __future__ import annotations

import wsgiref.util
from collections.abc import Iterable
from typing import Any

from gateway.soap.endpoints import Endpoint, StartResponse
from gateway.wsdl import shape_wsdl

__all__ = ["WsdlAnswers"]

#: the most addresses whose documents are kept (a caller chooses the Host header)
_KEPT = 64


class WsdlAnswers:
    """Writes each service's WSDL once per address it is asked at."""

    def __init__(self) -> None:
        self._cache: dict[str, bytes] = {}

    def answer(
        self, endpoint: Endpoint, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        location = wsgiref.util.request_uri(environ, include_query=False).rstrip("/")
        document = self._cache.get(location)
        if document is None:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
                captured["status"] = status

            raw = b"".join(endpoint.app(environ, capture))
            if not captured.get("status", "").startswith("200"):
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
                return [b"the WSDL could not be generated\n"]
            document = shape_wsdl(raw, endpoint.name, location)
            if len(self._cache) < _KEPT:
                self._cache[location] = document
        start_response(
            "200 OK",
            [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(document)))],
        )
        return [document]
