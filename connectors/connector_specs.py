"""The systems omgw talks to and how to reach them, as plain values (DESIGN §2, §4).

Source systems, connectors (with their retry policy and TLS settings) and value maps
are frozen dataclasses here; ``gateway`` persists them. Each spec is built from a plain
mapping by ``from_mapping`` (:mod:`connectors.spec_reader`), which reports every
problem at once.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.connector_errors import SpecInvalid
from connectors.secret_box import Credential
from connectors.spec_reader import CODE, SpecReader

__all__ = [
    "AUTH_STYLES",
    "DEFAULT_CREDENTIAL_MAP",
    "INVOCATION_MODES",
    "PROCESSING_OPTIONS",
    "SYSTEM_TYPES",
    "ConnectorSpec",
    "CredentialSource",
    "RetryPolicy",
    "SourceSystemSpec",
    "TlsSettings",
    "ValueMaps",
    "check_domain",
]

SYSTEM_TYPES = ("SPOKE", "PURCHASED")
INVOCATION_MODES = ("ASYNC_SERVICE", "SYNC_SERVICE", "BUSINESS_EVENT")
PROCESSING_OPTIONS = (
    "REJECT_ALL_ON_FIRST_ERROR",
    "REJECT_ALL_ON_ANY_ERROR",
    "REJECT_ERROR_GROUPS",
)
AUTH_STYLES = ("USERNAME_TOKEN", "HTTP_BASIC")
DEFAULT_CREDENTIAL_MAP = "oracle.wsm.security"

_DOMAIN = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def _check_url(url: str) -> str | None:
    """Why ``url`` is not a usable endpoint, or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"{url!r} must start with http:// or https://"
    if not parts.hostname:
        return f"{url!r} has no host"
    if parts.username or parts.password:
        return "must not carry credentials; name a wallet key with credential_key instead"
    if parts.fragment:
        return f"{url!r} must not have a #fragment"
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return f"{url!r} has an invalid port"
    return None


@dataclass(frozen=True)
class SourceSystemSpec:
    code: str
    name: str = ""
    system_type: str = "SPOKE"
    order_capture: bool = False
    fulfillment: bool = False
    cross_reference: bool = False
    time_zone: str = "UTC"
    collections_allowed: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SourceSystemSpec:
        r = SpecReader(data)
        code = r.text(
            "code", required=True, max_len=30, pattern=CODE, hint=" (letters, digits, _ . -)"
        )
        spec = cls(
            code=code or "",
            name=r.text("name", default="", max_len=240) or (code or ""),
            system_type=r.choice("type", SYSTEM_TYPES, "SPOKE"),
            order_capture=r.flag("order_capture", False),
            fulfillment=r.flag("fulfillment", False),
            cross_reference=r.flag("cross_reference", False),
            time_zone=r.text("time_zone", default="UTC", max_len=64) or "UTC",
            collections_allowed=r.flag("collections_allowed", False),
        )
        events_only = r.flag("events_only", False)
        try:
            ZoneInfo(spec.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            r.problem(
                "time_zone", f"{spec.time_zone!r} is not an IANA time zone such as Europe/Paris"
            )
        if events_only and (spec.order_capture or spec.fulfillment):
            r.problem(
                "events_only",
                "a system that only receives business events neither captures orders nor "
                "fulfills them: drop order_capture and fulfillment, or events_only",
            )
        elif code and not (events_only or spec.order_capture or spec.fulfillment):
            r.problem(
                None,
                "enable order_capture, fulfillment, or both; or events_only for a system "
                "that only receives business events",
            )
        r.finish()
        return spec

    @property
    def events_only(self) -> bool:
        """Receives business events only (a subscriber): stored as neither order capture
        nor fulfillment, which no other kind of system may be."""
        return not (self.order_capture or self.fulfillment)

    def to_mapping(self) -> dict[str, Any]:
        out = asdict(self)
        out["type"] = out.pop("system_type")
        if self.events_only:
            out["events_only"] = True
        return out


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt *n* waits up to ``min(cap, base·2ⁿ)``."""

    max_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 300.0

    @classmethod
    def read(cls, r: SpecReader) -> RetryPolicy:
        policy = cls(
            max_attempts=int(r.number("max_attempts", 5, minimum=1, maximum=100, integer=True)),
            base_delay=float(r.number("base_delay", 2.0, minimum=0.0, maximum=3600)),
            max_delay=float(r.number("max_delay", 300.0, minimum=0.0, maximum=86400)),
        )
        if policy.max_delay < policy.base_delay:
            r.problem("max_delay", "must not be smaller than base_delay")
        return policy


@dataclass(frozen=True)
class TlsSettings:
    """``client_certificate`` names a wallet entry (same credential map) holding a
    certificate and key; ``ca_bundle`` is a PEM file path."""

    verify: bool = True
    ca_bundle: str | None = None
    client_certificate: str | None = None

    @classmethod
    def read(cls, r: SpecReader) -> TlsSettings:
        return cls(
            verify=r.flag("verify", True),
            ca_bundle=r.text("ca_bundle", max_len=1000) or None,
            client_certificate=r.text("client_certificate", max_len=200) or None,
        )


@dataclass(frozen=True)
class ConnectorSpec:
    """How to reach one endpoint of a target system (contract §7.1)."""

    name: str
    target_system: str
    url: str
    description: str = ""
    credential_map: str = DEFAULT_CREDENTIAL_MAP
    credential_key: str | None = None
    auth_style: str = "USERNAME_TOKEN"
    invocation_mode: str = "ASYNC_SERVICE"
    response_processing: str = "REJECT_ALL_ON_FIRST_ERROR"
    send_attachments: bool = False
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    tls: TlsSettings = field(default_factory=TlsSettings)
    enabled: bool = True

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ConnectorSpec:
        r = SpecReader(data)
        name = r.text(
            "name", required=True, max_len=120, pattern=CODE, hint=" (letters, digits, _ . -)"
        )
        url = r.text("url", required=True, max_len=1000) or ""
        if url and (why := _check_url(url)):
            r.problem("url", why)
        retry_reader = SpecReader(r.table("retry"), ("retry",))
        tls_reader = SpecReader(r.table("tls"), ("tls",))
        spec = cls(
            name=name or "",
            target_system=r.text("target_system", required=True, max_len=30) or "",
            url=url,
            description=r.text("description", default="", max_len=1000) or "",
            credential_map=r.text("credential_map", default=DEFAULT_CREDENTIAL_MAP, max_len=200)
            or DEFAULT_CREDENTIAL_MAP,
            credential_key=r.text("credential_key", max_len=200) or None,
            auth_style=r.choice("auth", AUTH_STYLES, "USERNAME_TOKEN"),
            invocation_mode=r.choice("invocation_mode", INVOCATION_MODES, "ASYNC_SERVICE"),
            response_processing=r.choice(
                "response_processing", PROCESSING_OPTIONS, "REJECT_ALL_ON_FIRST_ERROR"
            ),
            send_attachments=r.flag("send_attachments", False),
            timeout=float(r.number("timeout", 30.0, minimum=0.1, maximum=3600)),
            retry=RetryPolicy.read(retry_reader),
            tls=TlsSettings.read(tls_reader),
            enabled=r.flag("enabled", True),
        )
        for sub in (retry_reader, tls_reader):
            try:
                sub.finish()
            except SpecInvalid:
                r.nested(sub)
        r.finish()
        return spec

    def to_mapping(self) -> dict[str, Any]:
        out = asdict(self)
        out["auth"] = out.pop("auth_style")
        out["tls"] = {k: v for k, v in out["tls"].items() if v is not None}
        return {k: v for k, v in out.items() if v is not None}


class ValueMaps:
    """A system's cross-references: (domain, external value) ↔ internal value.

    A domain with no entries passes values through. A domain with entries is strict:
    a value it does not know maps to ``None`` so the caller can refuse the message
    rather than let an unmapped item number through. Outbound, several external values
    may share one internal value; the first in sort order is sent.
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]] = ()) -> None:
        self._in: dict[tuple[str, str], str] = {}
        self._out: dict[tuple[str, str], str] = {}
        self._domains: set[str] = set()
        for domain, external, internal in sorted(entries):
            self._domains.add(domain)
            self._in[(domain, external)] = internal
            self._out.setdefault((domain, internal), external)

    def __bool__(self) -> bool:
        return bool(self._domains)

    def inbound(self, domain: str, value: str) -> str | None:
        if domain not in self._domains:
            return value
        return self._in.get((domain, value))

    def outbound(self, domain: str, value: str) -> str | None:
        if domain not in self._domains:
            return value
        return self._out.get((domain, value))


def check_domain(domain: str) -> str | None:
    if not _DOMAIN.match(domain) or len(domain) > 30:
        return f"{domain!r} is not a domain name (upper case, e.g. ITEM, UOM, STATUS)"
    return None


class CredentialSource(Protocol):
    """Where dispatch gets a connector's credentials, decrypted for one call only."""

    def credential(self, credential_map: str, key: str) -> Credential: ...
