"""Assembles the gateway: spyne applications, the SOAP front, and the production server."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import socket
import subprocess
import sys
from datetime import timedelta
from typing import Any

import spyne.const
from gunicorn import glogging
from spyne import Application
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

from gateway.config import Settings
from gateway.manage.console_app import ConsoleApp
from gateway.manage.mount import Mounted
from gateway.observe import metrics
from gateway.observe.logs import use_format
from gateway.runtime import Runtime, limit_malloc_retention
from gateway.security.authenticator import Authenticator
from gateway.security.lockout import LockoutPolicy
from gateway.security.roles import SERVICE_ROLES
from gateway.services import fulfillment_response, order_hold, order_import, order_information
from gateway.soap.asgi import BufferingFront
from gateway.soap.endpoints import Endpoint
from gateway.soap.front import SoapFront
from gateway.soap.operations import operations_of
from gateway.startup import prepare
from gateway.wsdl import CANONICAL_BASE, HTTP_TRANSPORT, shape_wsdl

__all__ = [
    "SERVICE_MODULES",
    "GatewayWorker",
    "HeadersWithin",
    "asgi_app",
    "build_app",
    "build_authenticator",
    "build_spyne_app",
    "endpoints",
    "listen",
    "render_wsdl",
    "serve",
    "worker_class",
]

log = logging.getLogger(__name__)

# spyne runs a full gc.collect() when a call's context closes, at most once a second per
# process: ~60 ms with this heap, a latency spike and ~6% of a core for nothing here.
spyne.const.MIN_GC_INTERVAL = float("inf")

SERVICE_MODULES = {
    "OrderImportService": (order_import, order_import.OrderImportService),
    "OrderInformationService": (order_information, order_information.OrderInformationService),
    "OrderFulfillmentResponseService": (
        fulfillment_response,
        fulfillment_response.OrderFulfillmentResponseService,
    ),
    "OrderHoldService": (order_hold, order_hold.OrderHoldService),
}


def build_spyne_app(name: str) -> Application:
    """The spyne application of one service (its own namespace, so its own app)."""
    module, service = SERVICE_MODULES[name]
    return Application(
        [service],
        tns=module.TYPES_NS,
        name=name,
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )


def render_wsdl(name: str) -> bytes:
    """The WSDL of service ``name`` as stored under ``wsdl/``."""
    from spyne.interface.wsdl import Wsdl11

    app = build_spyne_app(name)
    app.transport = HTTP_TRANSPORT
    doc = Wsdl11(app.interface)
    doc.build_interface_document(CANONICAL_BASE + name)
    return shape_wsdl(doc.get_interface_document(), name, CANONICAL_BASE + name)


def _operations(app: Application) -> frozenset[str]:
    return frozenset(m.name for s in app.services for m in s.public_methods.values())


def build_app(runtime: Runtime, *, spyne_mapping: bool = False) -> Mounted:
    """The whole WSGI application for one process: the SOAP front, and the console beside
    it (:mod:`gateway.manage`) unless ``OMGW_CONSOLE=0``.

    Calls go through the compiled lxml codec (``soap.operations``); ``spyne_mapping``
    sends them through spyne's own object mapping instead (kept for the benchmark's
    comparison and the codec's equivalence tests).
    """
    authenticator = build_authenticator(runtime)
    settings = runtime.settings
    console = ConsoleApp(runtime, authenticator) if settings.console else None
    soap = SoapFront(runtime, endpoints(spyne_mapping), authenticator)
    return Mounted(soap, console, settings.console_port if console else None)


@functools.cache
def endpoints(spyne_mapping: bool = False) -> tuple[Endpoint, ...]:
    """The services, built once per process: spyne's applications and the compiled
    codecs hold nothing of a runtime (each call brings its own in the WSGI environ), so
    every front of the process can share them."""
    built = []
    for name in SERVICE_MODULES:
        app = build_spyne_app(name)
        built.append(
            Endpoint(
                name=name,
                path=f"/fscmService/{name}",
                app=WsgiApplication(app),
                types_namespace=SERVICE_MODULES[name][0].TYPES_NS,
                operations=_operations(app),
                role=SERVICE_ROLES[name],
                compiled=operations_of(app),
                spyne_mapping=spyne_mapping,
            )
        )
    return tuple(built)


def build_authenticator(runtime: Runtime) -> Authenticator:
    return Authenticator(
        runtime.sessions,
        runtime.read_sessions,
        lambda: runtime.secret_box,
        replay_window_seconds=runtime.settings.replay_window_seconds,
        clock_skew_seconds=runtime.settings.clock_skew_seconds,
        lockout=LockoutPolicy(
            max_failures=runtime.settings.auth_max_failures,
            address_max_failures=runtime.settings.auth_address_max_failures,
            window=timedelta(seconds=runtime.settings.auth_failure_window_seconds),
            lockout=timedelta(seconds=runtime.settings.auth_lockout_seconds),
        ),
    )


class HeadersWithin(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request headers are not
    all in within ``header_timeout`` seconds of connecting or of the previous answer.

    Waiting for headers costs no thread (the event loop holds the socket), but without
    a deadline a caller could keep any number of sockets open by trickling bytes.
    """

    header_timeout = 30.0
    _headers_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._headers_timer is not None:
            self._headers_timer.cancel()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        # A request whose headers are complete starts a new cycle: the timer then finds
        # another cycle and leaves the connection alone.
        if self._headers_timer is not None:
            self._headers_timer.cancel()
        self._headers_timer = self.loop.call_later(
            self.header_timeout, self._headers_late, self.cycle
        )

    def _headers_late(self, cycle: object) -> None:
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


class GatewayWorker(UvicornWorker):
    """gunicorn's worker for the gateway: an event loop reads every request whole
    (:class:`~gateway.soap.asgi.BufferingFront`) and ``Settings.threads`` threads run
    them."""

    CONFIG_KWARGS = {"loop": "asyncio", "http": HeadersWithin, "lifespan": "off"}


def asgi_app(runtime: Runtime) -> BufferingFront:
    """The gateway for an ASGI server: :func:`build_app` behind the buffering front."""
    settings = runtime.settings
    return BufferingFront(
        build_app(runtime),
        threads=settings.threads,
        read_timeout=settings.read_timeout_seconds,
        max_body=settings.max_body_bytes,
    )


def worker_class(settings: Settings) -> type[GatewayWorker]:
    """:class:`GatewayWorker` with the header deadline of ``settings``."""
    http = type(
        "HeadersWithin", (HeadersWithin,), {"header_timeout": settings.read_timeout_seconds}
    )
    return type(
        "GatewayWorker",
        (GatewayWorker,),
        {"CONFIG_KWARGS": {**GatewayWorker.CONFIG_KWARGS, "http": http}},
    )


def _logger_class(fmt: str) -> type[glogging.Logger]:
    """gunicorn's logger, its lines in the format of every other line (OMGW_LOG_FORMAT)."""

    class Logger(glogging.Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            use_format(fmt, [self.error_log, self.access_log])

    return Logger


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket on ``host``:``port``; port 0 takes one the system picks.

    Bound here rather than by gunicorn so the address is known (and printed) before any
    worker starts: a caller connecting at once is queued by the kernel until a worker
    accepts, and with port 0 the port printed is the port served, never released between.
    The backlog is gunicorn's default; an IPv6 address also takes IPv4 where the system
    allows it, as gunicorn's own bind does (Python's default would be IPv6 only).
    """
    if ":" in host:
        return socket.create_server(
            (host, port),
            family=socket.AF_INET6,
            backlog=2048,
            dualstack_ipv6=socket.has_dualstack_ipv6(),
        )
    return socket.create_server((host, port), backlog=2048)


def serve(
    settings: Settings, listeners: list[socket.socket], workers: int, background: bool = True
) -> None:
    """Run gunicorn on ``listeners`` (the services' port, and the console's where it has
    its own; gunicorn owns them from here and closes them) with ``workers`` processes,
    and the background loop beside it."""
    from gunicorn.app.base import BaseApplication

    # Before gunicorn forks: its workers inherit the setting (scrypt's 16 MiB per thread).
    limit_malloc_retention()
    prepare(settings)
    # every worker and the background process count into one directory of this server's
    counters = settings.home / "run" / f"metrics-{os.getpid()}"
    metrics.share_between_processes(counters)
    if settings.log_level != "DEBUG":
        # spyne logs "Initializing application" for each service as each worker builds it:
        # a line per service and worker, saying nothing the WSDL lines printed at start do not.
        logging.getLogger("spyne").setLevel(logging.WARNING)
    fds = [listener.detach() for listener in listeners]

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", [f"fd://{fd}" for fd in fds])
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", worker_class(settings))
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", settings.log_level.lower())
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn 25+ opens a control socket at one path per user
                # ($HOME/.gunicorn/gunicorn.ctl): every gateway on the host would share
                # it, and the last to stop would remove the one of another still running.
                self.cfg.set("control_socket_disable", True)

            self.cfg.set("logger_class", _logger_class(settings.log_format))

        def load(self) -> Any:
            # Runs in each worker after fork: every process gets its own engine.
            return asgi_app(Runtime(settings))

    child = None
    if background:
        env = {**os.environ, **settings.to_env()}
        child = subprocess.Popen([sys.executable, "-m", "gateway.cli", "background"], env=env)
    try:
        _Gunicorn().run()
    finally:
        try:
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        finally:
            shutil.rmtree(counters, ignore_errors=True)
