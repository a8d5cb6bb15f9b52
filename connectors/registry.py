"""The registry's model: what an admin registers, as plain values (DESIGN §2, §4).

Source systems, connectors, task types, orchestration processes and value maps are
frozen dataclasses here; ``gateway`` persists them. Each spec is built
from a plain mapping (a TOML table, CLI options) by ``from_mapping``, which reports
*every* problem at once as :class:`Problem` values naming the field, so a setup file can
be refused whole with one message per bad line.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.wallet import Credential

__all__ = [
    "AUTH_STYLES",
    "DEFAULT_CREDENTIAL_MAP",
    "DEFAULT_PROCESS",
    "INVOCATION_MODES",
    "PROCESSING_OPTIONS",
    "RETURN_PROCESS",
    "STEP_KINDS",
    "SYSTEM_TASK_TYPES",
    "SYSTEM_TYPES",
    "ConnectorSpec",
    "CredentialSource",
    "Problem",
    "ProcessSpec",
    "RetryPolicy",
    "SourceSystemSpec",
    "SpecInvalid",
    "StepSpec",
    "TaskSpec",
    "TaskTypeSpec",
    "TlsSettings",
    "ValueMaps",
    "check_domain",
    "check_process",
    "format_duration",
    "is_plain",
    "parse_duration",
]

SYSTEM_TYPES = ("SPOKE", "PURCHASED")
INVOCATION_MODES = ("ASYNC_SERVICE", "SYNC_SERVICE", "BUSINESS_EVENT")
PROCESSING_OPTIONS = (
    "REJECT_ALL_ON_FIRST_ERROR",
    "REJECT_ALL_ON_ANY_ERROR",
    "REJECT_ERROR_GROUPS",
)
AUTH_STYLES = ("USERNAME_TOKEN", "HTTP_BASIC")
STEP_KINDS = ("INTERNAL", "EXTERNAL")
DEFAULT_CREDENTIAL_MAP = "oracle.wsm.security"
MAX_PLANNED_MINUTES = 366 * 1440

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_DOMAIN = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?\Z")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field. ``path`` names the field inside its item."""

    path: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path)
        return f"{where}: {self.message}" if where else self.message


class SpecInvalid(ValueError):  # noqa: N818 (reads as the outcome it is)
    """A spec could not be built; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


class _Reader:
    """Pulls typed values out of a mapping, collecting problems instead of raising."""

    def __init__(self, data: Mapping[str, Any], prefix: tuple[str | int, ...] = ()) -> None:
        self.data = data
        self.prefix = prefix
        self.problems: list[Problem] = []
        self._seen: set[str] = set()

    def problem(self, key: str | int | None, message: str) -> None:
        path = self.prefix if key is None else (*self.prefix, key)
        self.problems.append(Problem(path, message))

    def raw(self, key: str) -> Any:
        self._seen.add(key)
        return self.data.get(key)

    def text(
        self,
        key: str,
        *,
        default: str | None = None,
        required: bool = False,
        max_len: int = 240,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return default
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {_kind(value)}")
            return default
        value = value.strip()
        if _has_control(value, multiline=key == "description"):
            self.problem(key, "must not contain control characters")
            return default
        if required and not value:
            self.problem(key, "must not be empty")
        elif len(value) > max_len:
            self.problem(key, f"is longer than {max_len} characters")
        elif value and pattern is not None and not pattern.match(value):
            self.problem(key, f"{value!r} is not valid{hint}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, not {_kind(value)}")
            return default
        return value

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or value not in choices:
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def number(
        self, key: str, default: float, *, minimum: float, maximum: float, integer: bool = False
    ) -> float:
        value = self.raw(key)
        if value is None:
            return default
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            self.problem(key, f"must be {'an integer' if integer else 'a number'}")
            return default
        if not minimum <= value <= maximum:
            self.problem(key, f"must be between {minimum:g} and {maximum:g}")
            return default
        return value

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a table, not {_kind(value)}")
            return {}
        return value

    def tables(self, key: str) -> list[Mapping[str, Any]]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.problem(key, "must be a list of tables")
            return []
        return value

    def nested(self, reader: _Reader) -> None:
        self.problems.extend(reader.problems)

    def finish(self) -> None:
        """Unknown keys are mistakes (a misspelt ``timout`` must not pass silently)."""
        for key in self.data:
            if key not in self._seen:
                self.problem(key, "is not a known setting")
        if self.problems:
            raise SpecInvalid(self.problems)


def _has_control(value: str, multiline: bool = False) -> bool:
    allowed = "\t\n\r" if multiline else ""
    return any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in value)


def is_plain(value: str, max_len: int) -> bool:
    """1 to ``max_len`` characters, not all blank, no control characters: what every
    name, key and value the registry stores must be."""
    return bool(value.strip()) and len(value) <= max_len and not _has_control(value)


def _kind(value: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a table or list"
    )


def parse_duration(text: str) -> int:
    """``"2d"``, ``"4h"``, ``"1d4h30m"`` → minutes. Raises ``ValueError`` otherwise."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration such as 2d, 4h, 30m or 1d4h")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    total = days * 1440 + hours * 60 + minutes
    if total > MAX_PLANNED_MINUTES:
        raise ValueError(f"{text!r} is longer than the longest planned duration, 366d")
    return total


def format_duration(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (mins, "m")) if n)
    return text or "0m"


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
        r = _Reader(data)
        code = r.text(
            "code", required=True, max_len=30, pattern=_CODE, hint=" (letters, digits, _ . -)"
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
    def read(cls, r: _Reader) -> RetryPolicy:
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
    def read(cls, r: _Reader) -> TlsSettings:
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
        r = _Reader(data)
        name = r.text(
            "name", required=True, max_len=120, pattern=_CODE, hint=" (letters, digits, _ . -)"
        )
        url = r.text("url", required=True, max_len=1000) or ""
        if url and (why := _check_url(url)):
            r.problem("url", why)
        retry_reader = _Reader(r.table("retry"), ("retry",))
        tls_reader = _Reader(r.table("tls"), ("tls",))
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


@dataclass(frozen=True)
class TaskSpec:
    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class TaskTypeSpec:
    """A kind of fulfillment work and its tasks and services (contract §7.4)."""

    code: str
    name: str = ""
    description: str = ""
    tasks: tuple[TaskSpec, ...] = ()
    system: bool = False

    def task(self, name: str) -> TaskSpec | None:
        return next((t for t in self.tasks if t.name == name), None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TaskTypeSpec:
        r = _Reader(data)
        code = r.text(
            "code",
            required=True,
            max_len=30,
            pattern=_IDENT,
            hint=" (a letter, then letters, digits, _)",
        )
        tasks: list[TaskSpec] = []
        for i, item in enumerate(r.tables("task")):
            tr = _Reader(item, ("task", i))
            tname = tr.text("name", required=True, max_len=120) or ""
            services = tr.raw("services")
            if (
                not isinstance(services, list)
                or not services
                or not all(isinstance(s, str) and s.strip() for s in services)
            ):
                tr.problem("services", "must be a non-empty list of service names")
                services = []
            elif any(len(s.strip()) > 120 or _has_control(s) for s in services):
                tr.problem(
                    "services", "a service name is 1 to 120 characters, no control characters"
                )
            services = [s.strip() for s in services]
            if len(set(services)) != len(services):
                tr.problem("services", "names a service twice")
            if any(t.name == tname for t in tasks):
                tr.problem("name", f"task {tname!r} appears twice")
            try:
                tr.finish()
            except SpecInvalid:
                r.nested(tr)
            tasks.append(TaskSpec(tname, tuple(services)))
        if code and not tasks:
            r.problem("task", "a task type needs at least one [[task_type.task]]")
        spec = cls(
            code=code or "",
            name=r.text("name", default="", max_len=240) or (code or ""),
            description=r.text("description", default="", max_len=1000) or "",
            tasks=tuple(tasks),
        )
        r.finish()
        return spec

    def to_mapping(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "task": [{"name": t.name, "services": list(t.services)} for t in self.tasks],
        }


@dataclass(frozen=True)
class StepSpec:
    name: str
    task_type: str
    task: str
    service: str
    kind: str = "EXTERNAL"
    planned_minutes: int | None = None


@dataclass(frozen=True)
class ProcessSpec:
    """An orchestration process definition. Versions are numbered by the store: a change
    of steps makes a new version, so orders already on a version keep it."""

    name: str
    description: str = ""
    steps: tuple[StepSpec, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProcessSpec:
        r = _Reader(data)
        name = r.text(
            "name", required=True, max_len=120, pattern=_CODE, hint=" (letters, digits, _ . -)"
        )
        steps: list[StepSpec] = []
        for i, item in enumerate(r.tables("step")):
            sr = _Reader(item, ("step", i))
            minutes: int | None = None
            duration = sr.text("planned_duration", max_len=20)
            if duration:
                try:
                    minutes = parse_duration(duration)
                except ValueError as exc:
                    sr.problem("planned_duration", str(exc))
            step = StepSpec(
                name=sr.text("name", required=True, max_len=120) or "",
                task_type=sr.text("task_type", required=True, max_len=30) or "",
                task=sr.text("task", required=True, max_len=120) or "",
                service=sr.text("service", required=True, max_len=120) or "",
                kind=sr.choice("kind", STEP_KINDS, "EXTERNAL"),
                planned_minutes=minutes,
            )
            if any(s.name == step.name for s in steps):
                sr.problem("name", f"step {step.name!r} appears twice")
            try:
                sr.finish()
            except SpecInvalid:
                r.nested(sr)
            steps.append(step)
        if name and not steps:
            r.problem("step", "a process needs at least one [[process.step]]")
        spec = cls(
            name=name or "",
            description=r.text("description", default="", max_len=1000) or "",
            steps=tuple(steps),
        )
        r.finish()
        return spec

    def to_mapping(self) -> dict[str, Any]:
        steps = []
        for s in self.steps:
            step = {k: v for k, v in asdict(s).items() if k != "planned_minutes"}
            if s.planned_minutes is not None:
                step["planned_duration"] = format_duration(s.planned_minutes)
            steps.append(step)
        return {"name": self.name, "description": self.description, "step": steps}


def check_process(spec: ProcessSpec, task_types: Mapping[str, TaskTypeSpec]) -> list[Problem]:
    """Problems with the references of ``spec``'s steps to the known task types."""
    problems: list[Problem] = []
    for i, step in enumerate(spec.steps):
        tt = task_types.get(step.task_type)
        if tt is None:
            problems.append(
                Problem(("step", i, "task_type"), f"task type {step.task_type!r} does not exist")
            )
            continue
        task = tt.task(step.task)
        if task is None:
            known = ", ".join(t.name for t in tt.tasks)
            problems.append(
                Problem(
                    ("step", i, "task"), f"task type {tt.code} has no task {step.task!r} ({known})"
                )
            )
        elif step.service not in task.services:
            problems.append(
                Problem(
                    ("step", i, "service"),
                    f"task {task.name!r} has no service {step.service!r} "
                    f"({', '.join(task.services)})",
                )
            )
    return problems


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


#: The task types the product knows (contract §7.4), with their tasks and services.
SYSTEM_TASK_TYPES: tuple[TaskTypeSpec, ...] = tuple(
    TaskTypeSpec(code, code, desc, (TaskSpec(task, services),), system=True)
    for code, desc, task, services in (
        ("Schedule", "Schedule the line (internal)", "Schedule",
         ("Create Scheduling", "Update Scheduling", "Cancel Scheduling")),
        ("Reservation", "Reserve inventory (internal)", "Reserve",
         ("Create Inventory Reservation", "Update Inventory Reservation",
          "Cancel Inventory Reservation")),
        ("Shipment", "Ship from a warehouse", "Ship",
         ("Create Shipment Request", "Update Shipment Request", "Cancel Shipment Request",
          "Wait for Shipment Advice")),
        ("Invoice", "Bill the line", "Invoice", ("Create Billing Line", "Wait for Billing")),
        ("Return", "Receive a return", "Return",
         ("Create Return Receipt Advice", "Wait for Return Receipt")),
        ("Activity", "Work performed outside Order Management", "Activity",
         ("Create Activity", "Update Activity", "Cancel Activity", "Wait for Activity Completion")),
    )
)  # fmt: skip

#: The process that ships with the product: Schedule → Reservation → Shipment → Invoice.
DEFAULT_PROCESS = ProcessSpec(
    "DOO_OrderFulfillmentGenericProcess",
    "The default process: schedule, reserve, ship, bill.",
    (
        StepSpec("Schedule", "Schedule", "Schedule", "Create Scheduling", "INTERNAL", 60),
        StepSpec(
            "Reserve", "Reservation", "Reserve", "Create Inventory Reservation", "INTERNAL", 60
        ),
        StepSpec("Ship", "Shipment", "Ship", "Create Shipment Request", "EXTERNAL", 2880),
        StepSpec("Invoice", "Invoice", "Invoice", "Create Billing Line", "EXTERNAL", 1440),
    ),
)

#: The process a return line follows: receive the goods back, then credit them.
RETURN_PROCESS = ProcessSpec(
    "DOO_ReturnOrderGenericProcess",
    "The default return process: receive, credit.",
    (
        StepSpec("Receive", "Return", "Return", "Create Return Receipt Advice", "EXTERNAL", 10080),
        StepSpec("Credit", "Invoice", "Invoice", "Create Billing Line", "EXTERNAL", 1440),
    ),
)
