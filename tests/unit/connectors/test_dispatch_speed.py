"""The fast paths of sending give what the slow ones gave (connectors/ws_security.py,
connectors/dispatch.py).

* ``secure`` splices the WS-Security header into the stored bytes: byte for byte what
  zeep's UsernameToken and lxml's serializer give, for request and event envelopes and
  awkward credentials; anything of another shape goes the parsing way.
* ``Sender`` posts over urllib3 (requests only behind a proxy): each transport outcome
  keeps its verdict (refused, timeouts, a cut connection, TLS verification, redirects),
  HTTP Basic is sent as requests sent it, kept-alive connections closed by the server are
  reopened, and a proxy from the environment is used.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3

from connectors.dispatch import Endpoint, Sender
from connectors.outbound import build_envelope
from connectors.push_payload_writer import push_envelope
from connectors.secret_box import Credential
from connectors.verdicts import DELIVERED, PARK, RETRY
from connectors.ws_security import secure, secure_by_parsing, splice_security
from tests.common.business_events import hold, order_header_status_update
from tests.common.fulfillment_request import request_document
from tests.common.processes import until

WHEN = datetime(2026, 11, 23, 12, 0, 7, tzinfo=UTC)
CREDENTIALS = [
    Credential("omgw", "s3cret"),
    Credential("ü<&>\"'", "p\"'<>&é€ \t\r\n]]>"),
    Credential("x" * 300, "\U0001f600 &amp;"),
]


def envelopes() -> list[bytes]:
    doc = request_document()
    return [
        build_envelope(
            doc, op, message_id="urn:uuid:m-1", to="https://wms.example/x?a=1&b=2", reply_to=reply
        )
        for op in ("processFulfillmentRequest", "processFulfillmentRequestSync")
        for reply in (None, "http://127.0.0.1:8080/fscmService/OrderFulfillmentResponseService")
    ] + [
        push_envelope(order_header_status_update(), message_id="urn:uuid:e-1", to="http://s/x"),
        push_envelope(hold(), message_id="urn:uuid:e-2", to="http://s/x"),
    ]


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_the_spliced_security_header_is_what_zeep_and_lxml_write(credential):
    for envelope in envelopes():
        fast = splice_security(envelope, credential, WHEN)
        assert fast is not None
        assert fast == secure_by_parsing(envelope, credential, WHEN)
        assert secure(envelope, credential, WHEN) == fast


def test_a_fresh_timestamp_at_each_send():
    envelope = envelopes()[0]

    def created() -> datetime:
        text = secure(envelope, CREDENTIALS[0]).split(b"<wsu:Created>")[1].split(b"<")[0]
        return datetime.strptime(text.decode(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    first = created()
    assert abs((datetime.now(UTC) - first).total_seconds()) < 2
    # timestamps are to the second: a later one shows once the clock passes the next
    until(lambda: created() > first, "a later wsu:Created", timeout=3, step=0.02)


def test_other_shapes_go_the_parsing_way():
    envelope = envelopes()[0]
    secured = secure(envelope, CREDENTIALS[0], WHEN)
    odd = [
        secured,  # a Security header already: zeep's token extends it
        envelope.replace(b"<?xml version='1.0' encoding='utf-8'?>\n", b""),
        envelope.replace(b"<soap-env:Header>", b"<soap-env:Header><!-- </soap-env:Header> -->"),
        envelope.replace(
            b"<wsa:Action", b'<soap-env:Header xmlns:soap-env="urn:other"/><wsa:Action', 1
        ),
    ]
    for shape in odd:
        assert splice_security(shape, CREDENTIALS[0], WHEN) is None
    # no header at all: zeep adds one
    bare = (
        envelope.split(b"<soap-env:Header>")[0]
        + b"<soap-env:Body>"
        + envelope.split(b"<soap-env:Body>")[1]
    )
    assert splice_security(bare, CREDENTIALS[0], WHEN) is None
    assert b"UsernameToken" in secure(bare, CREDENTIALS[0], WHEN)
    # what lxml refuses is refused the same way
    with pytest.raises(ValueError):
        secure(envelope, Credential("a\x01", "b"), WHEN)


# -- the transport ------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 202
        self.delay = 0.0
        self.extra: list[tuple[str, str]] = []
        self.cut = False
        self.close = False


@contextmanager
def server(tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.requests.append((self.path, dict(self.headers), body))
            if rec.delay:
                time.sleep(rec.delay)
            if rec.cut:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_response(rec.status)
            for name, value in rec.extra:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            if rec.close:
                self.send_header("Connection", "close")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"{scheme}://localhost:{httpd.server_port}/wms", rec
    finally:
        httpd.shutdown()
        httpd.server_close()


def send(sender: Sender, url: str, credential: Credential | None = None, **kw: Any) -> Any:
    endpoint = Endpoint(url, kw.pop("timeout", 2.0), **kw)
    return sender.send(envelopes()[0], "process", endpoint, credential, expect_answer=False)


def test_a_kept_alive_post_with_the_soap_headers():
    with server() as (url, rec):
        sender = Sender()
        for _ in range(3):
            assert send(sender, url, CREDENTIALS[0]).outcome == DELIVERED
        path, headers, body = rec.requests[0]
        assert path == "/wms"
        assert headers["SOAPAction"] == '"process"'
        assert headers["Content-Type"].startswith("text/xml")
        assert b"<wsse:UsernameToken>" in body and "Authorization" not in headers
        sender.close()


def test_http_basic_is_sent_as_requests_sent_it():
    import requests

    def as_requests_sends(username: str, password: str) -> str:
        prepared = requests.Request("POST", "http://127.0.0.1/").prepare()
        requests.auth.HTTPBasicAuth(username, password)(prepared)
        return prepared.headers["Authorization"]

    latin = Credential("ü<&>", "pé:\"'")
    with server() as (url, rec):
        result = send(Sender(), url, latin, auth_style="HTTP_BASIC")
        assert result.outcome == DELIVERED
        _path, headers, body = rec.requests[0]
        assert headers["Authorization"] == as_requests_sends(latin.username, latin.password)
        assert b"UsernameToken" not in body
        # what requests cannot encode fails the same way (the worker parks it)
        with pytest.raises(UnicodeEncodeError):
            send(Sender(), url, Credential("a", "€"), auth_style="HTTP_BASIC")


def test_a_redirect_is_not_followed():
    with server() as (url, rec):
        rec.status = 307
        rec.extra = [("Location", "http://127.0.0.1:9/elsewhere")]
        result = send(Sender(), url, CREDENTIALS[0])
        assert (result.outcome, result.http_status) == (PARK, 307)
        assert len(rec.requests) == 1


def test_a_refused_connection_is_retried_and_certainly_not_received():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = send(Sender(), f"http://127.0.0.1:{port}/wms")
    assert (result.outcome, result.reason, result.uncertain) == (RETRY, "connection refused", False)


def test_no_answer_in_time_is_retried_and_uncertain():
    with server() as (url, rec):
        rec.delay = 1.0
        result = send(Sender(), url, timeout=0.3)
        assert (result.outcome, result.uncertain) == (RETRY, True)
        assert result.reason == "no answer within 0.3 s (it may have been received)"


def test_an_answer_cut_short_is_retried_and_uncertain():
    with server() as (url, rec):
        rec.cut = True
        result = send(Sender(), url)
        assert (result.outcome, result.uncertain) == (RETRY, True)


def test_a_connection_the_server_closed_is_opened_again():
    with server() as (url, rec):
        rec.close = True
        sender = Sender()
        assert [send(sender, url).outcome for _ in range(3)] == [DELIVERED] * 3
        assert len(rec.requests) == 3


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    return context


def test_tls_is_verified_and_a_pinned_ca_is_trusted(certificate):
    with server(tls_context(certificate)) as (url, rec):
        refused = send(Sender(), url, CREDENTIALS[0])
        assert (refused.outcome, refused.local) == (PARK, True)
        assert "TLS verification" in (refused.reason or "")
        pinned = send(Sender(), url, CREDENTIALS[0], tls_ca_bundle=str(certificate[0]))
        assert pinned.outcome == DELIVERED
        with pytest.warns(urllib3.exceptions.InsecureRequestWarning):  # as requests warned
            unverified = send(Sender(), url, CREDENTIALS[0], tls_verify=False)
        assert unverified.outcome == DELIVERED
        assert len(rec.requests) == 2


def test_a_proxy_from_the_environment_is_used(monkeypatch):
    with server() as (proxy, rec):
        monkeypatch.setenv("HTTP_PROXY", proxy.rsplit("/", 1)[0])
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        result = send(Sender(), "http://wms.invalid:8123/in")
        assert result.outcome == DELIVERED
        assert rec.requests[0][0] == "http://wms.invalid:8123/in"  # absolute-form: a proxy
