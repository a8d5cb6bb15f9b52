"""Outbound TLS against real TLS servers on 127.0.0.1: the connector's client certificate
is presented (loaded from memory), and each failed handshake says which check failed,
over TLS 1.2 and 1.3, with requests large enough to be under way when TLS 1.3's refusal
arrives."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from connectors.dispatch import Endpoint, Sender
from connectors.tls import ClientIdentity
from connectors.verdicts import DELIVERED, PARK
from tests.common.pki import Authority, authority, https_serving, server_context

#: a 30 kB request, as a 50-line fulfillment request is
ENVELOPE = b"<?xml version='1.0' encoding='utf-8'?>\n<x>" + b"y" * 30_000 + b"</x>"
VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


class Receiver:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.count += 1
        start_response("202 Accepted", [("Content-Length", "0")])
        return []


@pytest.fixture(scope="module")
def cas() -> tuple[Authority, Authority]:
    return authority("Partner CA"), authority("Other CA")


@pytest.fixture
def ca_file(cas: tuple[Authority, Authority], tmp_path: Path) -> str:
    return str(cas[0].write(tmp_path))


@pytest.fixture(params=VERSIONS, ids=["tls1.2", "tls1.3"])
def mtls_server(
    request: pytest.FixtureRequest, cas: tuple[Authority, Authority], tmp_path: Path
) -> Iterator[tuple[str, Receiver]]:
    """A receiver that requires a client certificate from the partner CA."""
    partner = cas[0]
    context = server_context(
        tmp_path, partner.issue("wms", server=True, ips=("127.0.0.1",)), partner, request.param
    )
    receiver = Receiver()
    with https_serving(receiver, context) as port:
        yield f"https://127.0.0.1:{port}/wms", receiver


def send(url: str, ca_file: str | None, identity: ClientIdentity | None) -> Any:
    endpoint = Endpoint(url, 5.0, tls_ca_bundle=ca_file)
    return Sender().send(ENVELOPE, "process", endpoint, None, False, identity)


def test_the_client_certificate_is_presented_and_each_refusal_says_why(mtls_server, cas, ca_file):
    url, receiver = mtls_server
    partner, other = cas
    good = partner.issue("omgw-client")
    sender = Sender()
    endpoint = Endpoint(url, 5.0, tls_ca_bundle=ca_file)
    for _ in range(3):  # kept alive, and presented on each new connection
        result = sender.send(
            ENVELOPE, "process", endpoint, None, False, ClientIdentity(good.certificate, good.key)
        )
        assert (result.outcome, result.reason) == (DELIVERED, None)
        sender.close()
    assert receiver.count == 3

    cases = [
        (None, "the connector presents none"),
        (other.issue("omgw-client"), "does not trust the CA that issued the connector's "
         "client certificate (unknown CA)"),
        (partner.issue("omgw-client", expired=True), "refused the connector's client "
         "certificate: it has expired"),
    ]  # fmt: skip
    for issued, why in cases:
        identity = None if issued is None else ClientIdentity(issued.certificate, issued.key)
        for _ in range(5):  # the refusal may meet the request's write or its read: same reason
            result = send(url, ca_file, identity)
            assert result.outcome == PARK, result
            assert why in (result.reason or ""), result.reason
            assert "client certificate" in (result.reason or "")
            # the endpoint answered (it is up) and acted on nothing
            assert (result.local, result.uncertain) == (False, False)
    assert receiver.count == 3


def test_a_host_name_mismatch_and_an_unknown_ca_are_told_apart(cas, ca_file, tmp_path):
    partner, other = cas
    context = server_context(tmp_path, partner.issue("wms", server=True, ips=("127.0.0.1",)), None)
    with https_serving(Receiver(), context) as port:
        mismatch = send(f"https://localhost:{port}/wms", ca_file, None)
        unknown = send(f"https://127.0.0.1:{port}/wms", str(other.write(tmp_path)), None)
        trusted = send(f"https://127.0.0.1:{port}/wms", ca_file, None)
    assert (mismatch.outcome, mismatch.local) == (PARK, True)
    assert "TLS verification of the endpoint failed: host name mismatch" in mismatch.reason
    assert "localhost" in mismatch.reason and "unknown CA" not in mismatch.reason
    assert (unknown.outcome, unknown.local) == (PARK, True)
    assert "TLS verification of the endpoint failed: unknown CA" in unknown.reason
    assert "ca_bundle" in unknown.reason and "mismatch" not in unknown.reason
    assert trusted.outcome == DELIVERED


def test_an_expired_endpoint_certificate_is_named(cas, ca_file, tmp_path):
    partner = cas[0]
    expired = partner.issue("wms", server=True, ips=("127.0.0.1",), expired=True)
    with https_serving(Receiver(), server_context(tmp_path, expired, None)) as port:
        result = send(f"https://127.0.0.1:{port}/wms", ca_file, None)
    assert result.outcome == PARK
    assert "TLS verification of the endpoint failed: its certificate has expired" in result.reason


@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "private-file"])
def test_the_key_is_loaded_without_a_file_anyone_else_could_read(
    memfd, cas, ca_file, tmp_path, monkeypatch
):
    """With ``memfd_create`` no directory ever names the key; without it, the one file is
    0600 in a directory 0700, and both are gone once the chain is loaded."""
    partner = cas[0]
    context = server_context(
        tmp_path, partner.issue("wms", server=True, ips=("127.0.0.1",)), partner
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    if not memfd:
        monkeypatch.delattr(os, "memfd_create", raising=False)
    loaded: list[tuple[str, int | None, int | None]] = []
    load = ssl.SSLContext.load_cert_chain

    def watch(self: ssl.SSLContext, certfile: Any, *args: Any, **kw: Any) -> None:
        path = Path(certfile)
        if str(path).startswith("/proc/self/fd/"):
            loaded.append((str(path), None, None))
        else:
            mode = stat.S_IMODE(path.stat().st_mode)
            loaded.append((str(path), mode, stat.S_IMODE(path.parent.stat().st_mode)))
        load(self, certfile, *args, **kw)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", watch)
    good = partner.issue("omgw-client")
    with https_serving(Receiver(), context) as port:
        result = send(
            f"https://127.0.0.1:{port}/wms", ca_file, ClientIdentity(good.certificate, good.key)
        )
    assert result.outcome == DELIVERED
    ((path, file_mode, dir_mode),) = loaded
    if memfd:
        assert path.startswith("/proc/self/fd/")
    else:
        assert Path(path).parent.parent == scratch and (file_mode, dir_mode) == (0o600, 0o700)
    assert list(scratch.iterdir()) == []


@contextmanager
def connect_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP ``CONNECT`` proxy on 127.0.0.1: it tunnels bytes and records each target."""
    targets: list[str] = []

    class Tunnel(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            target = self.rfile.readline().decode().split()[1]
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            targets.append(target)
            self.connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

            def pump(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(65536):
                        dst.sendall(data)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pump, args=(upstream, self.connection), daemon=True)
            back.start()
            pump(self.connection, upstream)
            back.join(5)
            upstream.close()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", targets
    finally:
        server.shutdown()
        server.server_close()


def test_through_a_proxy_the_client_certificate_is_presented_too(
    mtls_server, cas, ca_file, monkeypatch
):
    url, receiver = mtls_server
    good = cas[0].issue("omgw-client")
    with connect_proxy() as (proxy, targets):
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        result = send(url, ca_file, ClientIdentity(good.certificate, good.key))
    assert (result.outcome, result.reason) == (DELIVERED, None)
    assert targets == [url.split("/")[2]] and receiver.count == 1


def test_a_ca_bundle_rewritten_in_place_is_read_again(cas, tmp_path):
    partner, other = cas
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(other.pem)
    context = server_context(tmp_path, partner.issue("wms", server=True, ips=("127.0.0.1",)), None)
    sender = Sender()
    with https_serving(Receiver(), context) as port:
        endpoint = Endpoint(f"https://127.0.0.1:{port}/wms", 5.0, tls_ca_bundle=str(bundle))
        refused = sender.send(ENVELOPE, "process", endpoint, None, False)
        bundle.write_text(partner.pem + other.pem)  # the admin adds the partner's CA
        accepted = sender.send(ENVELOPE, "process", endpoint, None, False)
    assert "unknown CA" in (refused.reason or "")
    assert accepted.outcome == DELIVERED
