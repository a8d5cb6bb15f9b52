"""Settings, read once from the environment at start-up and passed down.

Nothing else in omgw reads its settings from ``os.environ`` (STYLE §2.7): the other
readers take what a setting names (a setup file's ``password_env``, the simulators'
``--password-env``, TLS trust bundles as requests reads them) or hand the environment on
to a child process.

| variable | default | meaning |
|---|---|---|
| ``OMGW_HOME`` | ``./.omgw`` | home directory: database file, wallet key file |
| ``OMGW_DATABASE_URL`` | ``sqlite:///$OMGW_HOME/omgw.db`` | SQLAlchemy URL (PostgreSQL to scale) |
| ``OMGW_WALLET_KEY`` | (key file) | base64 AES-256 master key; else ``$OMGW_HOME/wallet.key`` |
| ``OMGW_MAX_BODY_BYTES`` | ``10485760`` | largest accepted request body (10 MiB) |
| ``OMGW_READ_TIMEOUT_SECONDS`` | ``30`` | time a caller has to send a request's whole body |
| ``OMGW_MAX_ELEMENTS`` | ``300000`` | elements in a request |
| ``OMGW_MAX_XMLNS`` | ``100000`` | namespace declarations in a request |
| ``OMGW_MAX_XMLNS_IN_SCOPE`` | ``256`` | namespace declarations in scope at any element |
| ``OMGW_MAX_ATTRIBUTES`` | ``64`` | attributes on any one element of a request |
| ``OMGW_MAX_ATTRIBUTES_TOTAL`` | ``300000`` | attributes in a whole request |
| ``OMGW_MAX_HEADER_ELEMENTS`` | ``1000`` | elements in a request's SOAP Header |
| ``OMGW_MAX_ORDERS_PER_REQUEST`` | ``1000`` | orders in one request (import or inquiry) |
| ``OMGW_MAX_LINES_PER_ORDER`` | ``10000`` | lines of one order in a createOrders or stageOrders |
| ``OMGW_MAX_LINES_PER_REQUEST`` | ``10000`` | lines of one request, or of one inquiry's answer |
| ``OMGW_REPLAY_WINDOW_SECONDS`` | ``300`` | accepted age/skew of a UsernameToken ``Created`` |
| ``OMGW_CLOCK_SKEW_SECONDS`` | ``60`` | how far a caller's clock may differ from ours |
| ``OMGW_AUTH_MAX_FAILURES`` | ``10`` | failed sign-ins that lock a user name (0: never) |
| ``OMGW_AUTH_ADDRESS_MAX_FAILURES`` | ``50`` | failures that throttle a client address (0: never) |
| ``OMGW_AUTH_FAILURE_WINDOW_SECONDS`` | ``900`` | how long a failed sign-in is counted |
| ``OMGW_AUTH_LOCKOUT_SECONDS`` | ``900`` | how long a lock or a throttle lasts |
| ``OMGW_BACKGROUND_INTERVAL_SECONDS`` | ``2`` | how often staged orders/responses are processed |
| ``OMGW_DEFAULT_FULFILLMENT_SYSTEM`` | (none) | fulfillment system new lines are assigned to |
| ``OMGW_LOG_PAYLOADS`` | ``1`` | keep each inbound message's (redacted) payload |
| ``OMGW_MESSAGE_LOG_RETENTION_DAYS`` | ``30`` | days ``message_log`` rows are kept (0: forever) |
| ``OMGW_OUTBOX_RETENTION_DAYS`` | ``90`` | days finished orders' delivered messages are kept |
| ``OMGW_LOG_LEVEL`` | ``INFO`` | logging level |
| ``OMGW_PUBLIC_URL`` | the serve address | our address for async answers (``ReplyTo``) |
| ``OMGW_WORKER_CONCURRENCY`` | ``4`` | sends in flight per outbox worker |
| ``OMGW_LEASE_SECONDS`` | ``60`` | how long a claimed outbox row stays leased |
| ``OMGW_BREAKER_FAILURES`` | ``5`` | consecutive failures that open a connector's breaker |
| ``OMGW_BREAKER_COOL_DOWN`` | ``30`` | seconds an open breaker holds its queue before a probe |
| ``OMGW_JEOPARDY_INTERVAL_SECONDS`` | ``60`` | how often the background loop checks for jeopardy |
| ``OMGW_SMTP_HOST`` | (none: e-mail is parked) | SMTP server for e-mail notifications |
| ``OMGW_SMTP_PORT`` | ``25`` | its port |
| ``OMGW_SMTP_STARTTLS`` | ``0`` | upgrade with STARTTLS (refused if the server cannot) |
| ``OMGW_SMTP_SENDER`` | ``omgw@localhost`` | the notifications' From address |
| ``OMGW_SMTP_CREDENTIAL_KEY`` | (none) | wallet key of the SMTP login |
| ``OMGW_SMTP_TIMEOUT`` | ``10`` | seconds for each SMTP exchange |
| ``OMGW_LOG_FORMAT`` | ``text`` | ``text`` lines, or ``json``: one JSON object per line |
| ``OMGW_METRICS`` | ``1`` | serve Prometheus metrics at ``/metrics`` |
| ``OMGW_METRICS_CACHE_SECONDS`` | ``10`` | how long ``/metrics`` reuses its database read |
| ``OMGW_ALERT_EMAIL`` | (none: alerts are logged only) | who gets alert e-mails (comma-separated) |
| ``OMGW_ALERT_REPEAT_SECONDS`` | ``3600`` | least time between two e-mails for one alert |
| ``OMGW_MONITOR_INTERVAL_SECONDS`` | ``30`` | how often the background loop looks for alerts |
| ``OMGW_UNACKNOWLEDGED_SECONDS`` | ``900`` | a delivered request unacknowledged this long |
| ``OMGW_NO_RESPONSE_SECONDS`` | ``86400`` | an acknowledged request with no shipment this long |
| ``OMGW_EVENT_LATE_SECONDS`` | ``900`` | a business event undelivered this long |
| ``OMGW_STUCK_SECONDS`` | ``300`` | a line not yet routed this long |
| ``OMGW_WORKER_SILENT_SECONDS`` | ``60`` | no outbox worker seen this long: not ready |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ValidationError

__all__ = ["Settings"]

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_FORMATS = ("text", "json")


_YES, _NO = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: a word outside the two sets is refused, not read as off."""
    value = env.get(name)
    if value is None or not value.strip():
        return default
    word = value.strip().lower()
    if word not in _YES | _NO:
        raise ValidationError(
            "INVALID_VALUE", f"{name} {value!r} must be 1 or 0 (true/false, yes/no, on/off)"
        )
    return word in _YES


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A count (a limit on what a request may hold, threads): a whole number, at least 1."""
    value = env.get(name)
    if value is None or not value.strip():
        return default
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValidationError("INVALID_VALUE", f"{name} {value!r} must be a whole number above 0")
    return count


def _number(env: Mapping[str, str], name: str, default: float, kind: type, what: str) -> Any:
    value = env.get(name)
    if value is None or not value.strip():
        return kind(default)
    try:
        return kind(value.strip())
    except ValueError:
        raise ValidationError("INVALID_VALUE", f"{name} {value!r} must be {what}") from None


def _whole(env: Mapping[str, str], name: str, default: int, least: int | None = None) -> int:
    """A whole-number setting (raised to ``least`` where given)."""
    value: int = _number(env, name, default, int, "a whole number")
    return value if least is None else max(least, value)


def _seconds(
    env: Mapping[str, str], name: str, default: float, least: float | None = None
) -> float:
    """A number of seconds (raised to ``least`` where given)."""
    value: float = _number(env, name, default, float, "a number of seconds")
    return value if least is None else max(least, value)


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in _LOG_LEVELS:
        raise ValidationError(
            "INVALID_VALUE",
            f"OMGW_LOG_LEVEL {value!r} is not a logging level; use {', '.join(_LOG_LEVELS)}",
        )
    return level


def _log_format(value: str) -> str:
    word = value.strip().lower()
    if word not in _LOG_FORMATS:
        raise ValidationError(
            "INVALID_VALUE", f"OMGW_LOG_FORMAT {value!r} must be one of {', '.join(_LOG_FORMATS)}"
        )
    return word


@dataclass(frozen=True)
class Settings:
    """Everything configurable, as one immutable value."""

    home: Path
    # Hidden from repr: the URL may hold a database password, the key is the wallet's.
    database_url: str = field(repr=False)
    wallet_key_b64: str | None = field(default=None, repr=False)
    max_body_bytes: int = 10 * 1024 * 1024
    #: seconds a caller has to send a whole request body, once its headers are in
    read_timeout_seconds: float = 30.0
    max_elements: int = 300_000
    max_xmlns: int = 100_000
    max_xmlns_in_scope: int = 256
    max_attributes: int = 64
    max_attributes_total: int = 300_000
    max_header_elements: int = 1_000
    max_orders_per_request: int = 1_000
    max_lines_per_order: int = 10_000
    max_lines_per_request: int = 10_000
    replay_window_seconds: int = 300
    clock_skew_seconds: int = 60
    auth_max_failures: int = 10
    auth_address_max_failures: int = 50
    auth_failure_window_seconds: int = 900
    auth_lockout_seconds: int = 900
    background_interval_seconds: float = 2.0
    default_fulfillment_system: str | None = None
    log_payloads: bool = True
    #: days kept before pruning (gateway.persistence.retention); 0 keeps them forever
    message_log_retention_days: int = 30
    outbox_retention_days: int = 90
    log_level: str = "INFO"
    #: our base URL as fulfillment systems reach it; ``serve`` defaults it to its address
    public_url: str | None = None
    worker_concurrency: int = 4
    #: threads per ``serve`` worker process that run requests (scrypt takes 16 MiB in each)
    threads: int = 2
    lease_seconds: float = 60.0
    breaker_failures: int = 5
    breaker_cool_down: float = 30.0
    jeopardy_interval_seconds: float = 60.0
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_sender: str = "omgw@localhost"
    smtp_credential_key: str | None = None
    smtp_timeout: float = 10.0
    log_format: str = "text"
    metrics: bool = True
    metrics_cache_seconds: float = 10.0
    #: alert e-mail recipients, comma-separated (None: alerts are logged, not mailed)
    alert_email: str | None = None
    alert_repeat_seconds: float = 3600.0
    monitor_interval_seconds: float = 30.0
    #: thresholds of the questions ``omgw status`` asks (gateway.observe.findings)
    unacknowledged_seconds: float = 900.0
    no_response_seconds: float = 86400.0
    event_late_seconds: float = 900.0
    stuck_seconds: float = 300.0
    worker_silent_seconds: float = 60.0
    #: the web console at /manage/ (served only once a user holds the ADMIN role)
    console: bool = True
    #: the port the console is served on instead of the services' (None: the same port)
    console_port: int | None = None
    #: a console session ends after this long without a request, and after the next however busy
    console_idle_seconds: float = 900.0
    console_session_seconds: float = 43200.0

    @property
    def reply_to(self) -> str:
        """Where asynchronous fulfillment systems send their answers (``wsa:ReplyTo``)."""
        base = (self.public_url or "http://127.0.0.1:8080").rstrip("/")
        return f"{base}/fscmService/OrderFulfillmentResponseService"

    @property
    def key_file(self) -> Path:
        return self.home / "wallet.key"

    @property
    def home_database(self) -> Path | None:
        """The database file in the home when the database is the default one there; None
        when ``OMGW_DATABASE_URL`` names another (a server has no file to look for)."""
        own = self.home / "omgw.db"
        return own if self.database_url == f"sqlite:///{own}" else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("OMGW_HOME", ".omgw")).expanduser().resolve()
        url = env.get("OMGW_DATABASE_URL") or f"sqlite:///{home / 'omgw.db'}"
        return cls(
            home=home,
            database_url=url,
            wallet_key_b64=env.get("OMGW_WALLET_KEY") or None,
            max_body_bytes=_whole(env, "OMGW_MAX_BODY_BYTES", 10 * 1024 * 1024),
            read_timeout_seconds=_seconds(env, "OMGW_READ_TIMEOUT_SECONDS", 30, 0.1),
            max_elements=_count(env, "OMGW_MAX_ELEMENTS", 300_000),
            max_xmlns=_count(env, "OMGW_MAX_XMLNS", 100_000),
            max_xmlns_in_scope=_count(env, "OMGW_MAX_XMLNS_IN_SCOPE", 256),
            max_attributes=_count(env, "OMGW_MAX_ATTRIBUTES", 64),
            max_attributes_total=_count(env, "OMGW_MAX_ATTRIBUTES_TOTAL", 300_000),
            max_header_elements=_count(env, "OMGW_MAX_HEADER_ELEMENTS", 1_000),
            max_orders_per_request=_count(env, "OMGW_MAX_ORDERS_PER_REQUEST", 1_000),
            max_lines_per_order=_count(env, "OMGW_MAX_LINES_PER_ORDER", 10_000),
            max_lines_per_request=_count(env, "OMGW_MAX_LINES_PER_REQUEST", 10_000),
            replay_window_seconds=_whole(env, "OMGW_REPLAY_WINDOW_SECONDS", 300),
            clock_skew_seconds=_whole(env, "OMGW_CLOCK_SKEW_SECONDS", 60, 0),
            auth_max_failures=_whole(env, "OMGW_AUTH_MAX_FAILURES", 10, 0),
            auth_address_max_failures=_whole(env, "OMGW_AUTH_ADDRESS_MAX_FAILURES", 50, 0),
            auth_failure_window_seconds=max(
                1, _whole(env, "OMGW_AUTH_FAILURE_WINDOW_SECONDS", 900)
            ),
            auth_lockout_seconds=_whole(env, "OMGW_AUTH_LOCKOUT_SECONDS", 900, 1),
            background_interval_seconds=_seconds(env, "OMGW_BACKGROUND_INTERVAL_SECONDS", 2),
            default_fulfillment_system=env.get("OMGW_DEFAULT_FULFILLMENT_SYSTEM") or None,
            log_payloads=_flag(env, "OMGW_LOG_PAYLOADS", True),
            message_log_retention_days=_whole(env, "OMGW_MESSAGE_LOG_RETENTION_DAYS", 30, 0),
            outbox_retention_days=_whole(env, "OMGW_OUTBOX_RETENTION_DAYS", 90, 0),
            log_level=_log_level(env.get("OMGW_LOG_LEVEL", "INFO")),
            public_url=env.get("OMGW_PUBLIC_URL") or None,
            worker_concurrency=_whole(env, "OMGW_WORKER_CONCURRENCY", 4, 1),
            threads=_count(env, "OMGW_THREADS", 2),
            lease_seconds=_seconds(env, "OMGW_LEASE_SECONDS", 60, 5.0),
            breaker_failures=_whole(env, "OMGW_BREAKER_FAILURES", 5, 1),
            breaker_cool_down=_seconds(env, "OMGW_BREAKER_COOL_DOWN", 30, 0.0),
            jeopardy_interval_seconds=max(1.0, _seconds(env, "OMGW_JEOPARDY_INTERVAL_SECONDS", 60)),
            smtp_host=env.get("OMGW_SMTP_HOST") or None,
            smtp_port=_whole(env, "OMGW_SMTP_PORT", 25),
            smtp_starttls=_flag(env, "OMGW_SMTP_STARTTLS", False),
            smtp_sender=env.get("OMGW_SMTP_SENDER") or "omgw@localhost",
            smtp_credential_key=env.get("OMGW_SMTP_CREDENTIAL_KEY") or None,
            smtp_timeout=_seconds(env, "OMGW_SMTP_TIMEOUT", 10, 0.1),
            log_format=_log_format(env.get("OMGW_LOG_FORMAT", "text")),
            metrics=_flag(env, "OMGW_METRICS", True),
            metrics_cache_seconds=_seconds(env, "OMGW_METRICS_CACHE_SECONDS", 10, 0.0),
            alert_email=env.get("OMGW_ALERT_EMAIL") or None,
            alert_repeat_seconds=_seconds(env, "OMGW_ALERT_REPEAT_SECONDS", 3600, 0.0),
            monitor_interval_seconds=_seconds(env, "OMGW_MONITOR_INTERVAL_SECONDS", 30, 0.1),
            unacknowledged_seconds=_seconds(env, "OMGW_UNACKNOWLEDGED_SECONDS", 900, 0.0),
            no_response_seconds=_seconds(env, "OMGW_NO_RESPONSE_SECONDS", 86400, 0.0),
            event_late_seconds=_seconds(env, "OMGW_EVENT_LATE_SECONDS", 900, 0.0),
            stuck_seconds=_seconds(env, "OMGW_STUCK_SECONDS", 300, 0.0),
            worker_silent_seconds=_seconds(env, "OMGW_WORKER_SILENT_SECONDS", 60, 1.0),
            console=_flag(env, "OMGW_CONSOLE", True),
            console_port=_whole(env, "OMGW_CONSOLE_PORT", 0, 0) or None,
            console_idle_seconds=_seconds(env, "OMGW_CONSOLE_IDLE_SECONDS", 900, 10.0),
            console_session_seconds=_seconds(env, "OMGW_CONSOLE_SESSION_SECONDS", 43200, 60.0),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        env = {
            "OMGW_HOME": str(self.home),
            "OMGW_DATABASE_URL": self.database_url,
            "OMGW_MAX_BODY_BYTES": str(self.max_body_bytes),
            "OMGW_READ_TIMEOUT_SECONDS": str(self.read_timeout_seconds),
            "OMGW_MAX_ELEMENTS": str(self.max_elements),
            "OMGW_MAX_XMLNS": str(self.max_xmlns),
            "OMGW_MAX_XMLNS_IN_SCOPE": str(self.max_xmlns_in_scope),
            "OMGW_MAX_ATTRIBUTES": str(self.max_attributes),
            "OMGW_MAX_ATTRIBUTES_TOTAL": str(self.max_attributes_total),
            "OMGW_MAX_HEADER_ELEMENTS": str(self.max_header_elements),
            "OMGW_MAX_ORDERS_PER_REQUEST": str(self.max_orders_per_request),
            "OMGW_MAX_LINES_PER_ORDER": str(self.max_lines_per_order),
            "OMGW_MAX_LINES_PER_REQUEST": str(self.max_lines_per_request),
            "OMGW_REPLAY_WINDOW_SECONDS": str(self.replay_window_seconds),
            "OMGW_CLOCK_SKEW_SECONDS": str(self.clock_skew_seconds),
            "OMGW_AUTH_MAX_FAILURES": str(self.auth_max_failures),
            "OMGW_AUTH_ADDRESS_MAX_FAILURES": str(self.auth_address_max_failures),
            "OMGW_AUTH_FAILURE_WINDOW_SECONDS": str(self.auth_failure_window_seconds),
            "OMGW_AUTH_LOCKOUT_SECONDS": str(self.auth_lockout_seconds),
            "OMGW_BACKGROUND_INTERVAL_SECONDS": str(self.background_interval_seconds),
            "OMGW_LOG_PAYLOADS": "1" if self.log_payloads else "0",
            "OMGW_MESSAGE_LOG_RETENTION_DAYS": str(self.message_log_retention_days),
            "OMGW_OUTBOX_RETENTION_DAYS": str(self.outbox_retention_days),
            "OMGW_LOG_LEVEL": self.log_level,
            "OMGW_WORKER_CONCURRENCY": str(self.worker_concurrency),
            "OMGW_THREADS": str(self.threads),
            "OMGW_LEASE_SECONDS": str(self.lease_seconds),
            "OMGW_BREAKER_FAILURES": str(self.breaker_failures),
            "OMGW_BREAKER_COOL_DOWN": str(self.breaker_cool_down),
            "OMGW_JEOPARDY_INTERVAL_SECONDS": str(self.jeopardy_interval_seconds),
            "OMGW_SMTP_PORT": str(self.smtp_port),
            "OMGW_SMTP_STARTTLS": "1" if self.smtp_starttls else "0",
            "OMGW_SMTP_SENDER": self.smtp_sender,
            "OMGW_SMTP_TIMEOUT": str(self.smtp_timeout),
            "OMGW_LOG_FORMAT": self.log_format,
            "OMGW_METRICS": "1" if self.metrics else "0",
            "OMGW_METRICS_CACHE_SECONDS": str(self.metrics_cache_seconds),
            "OMGW_ALERT_REPEAT_SECONDS": str(self.alert_repeat_seconds),
            "OMGW_MONITOR_INTERVAL_SECONDS": str(self.monitor_interval_seconds),
            "OMGW_UNACKNOWLEDGED_SECONDS": str(self.unacknowledged_seconds),
            "OMGW_NO_RESPONSE_SECONDS": str(self.no_response_seconds),
            "OMGW_EVENT_LATE_SECONDS": str(self.event_late_seconds),
            "OMGW_STUCK_SECONDS": str(self.stuck_seconds),
            "OMGW_WORKER_SILENT_SECONDS": str(self.worker_silent_seconds),
            "OMGW_CONSOLE": "1" if self.console else "0",
            "OMGW_CONSOLE_IDLE_SECONDS": str(self.console_idle_seconds),
            "OMGW_CONSOLE_SESSION_SECONDS": str(self.console_session_seconds),
        }
        if self.alert_email:
            env["OMGW_ALERT_EMAIL"] = self.alert_email
        if self.smtp_host:
            env["OMGW_SMTP_HOST"] = self.smtp_host
        if self.smtp_credential_key:
            env["OMGW_SMTP_CREDENTIAL_KEY"] = self.smtp_credential_key
        if self.wallet_key_b64:
            env["OMGW_WALLET_KEY"] = self.wallet_key_b64
        if self.public_url:
            env["OMGW_PUBLIC_URL"] = self.public_url
        if self.console_port:
            env["OMGW_CONSOLE_PORT"] = str(self.console_port)
        if self.default_fulfillment_system:
            env["OMGW_DEFAULT_FULFILLMENT_SYSTEM"] = self.default_fulfillment_system
        return env
