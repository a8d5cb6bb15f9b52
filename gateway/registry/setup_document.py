"""A setup file as read: the document ``omgw apply`` writes, the refusal that lists
every problem, and where each table and key of the file starts, so each problem names
its line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.connector_errors import Problem, SpecInvalid
from connectors.connector_specs import DEFAULT_CREDENTIAL_MAP, ConnectorSpec, SourceSystemSpec
from connectors.trigger_points import JeopardyThresholdSpec, TriggerPointSpec
from gateway.errors import ValidationError
from gateway.orchestration_model import ProcessSpec, TaskTypeSpec
from routing.rule_set import RuleSet

__all__ = [
    "SetupDocument",
    "SetupInvalid",
    "SourceLines",
    "UserBinding",
    "WalletRef",
    "resolve_path",
]

_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_ARRAY = re.compile(rf"\[\[\s*({_DOTTED})\s*\]\]\s*(#.*)?\Z")
_TABLE = re.compile(rf"\[\s*({_DOTTED})\s*\]\s*(#.*)?\Z")
_KEY = re.compile(rf"({_DOTTED})\s*=(.*)\Z")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')


class SetupInvalid(ValidationError):  # noqa: N818 (reads as the outcome it is)
    """A setup file refused whole; ``problems`` holds one ``line N: …`` text each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        count = len(problems)
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        super().__init__(
            "SETUP_INVALID",
            f"{source} was not applied ({count} problem{'s' if count != 1 else ''}); "
            f"nothing changed:\n{lines}",
        )
        self.problems = problems


@dataclass(frozen=True)
class WalletRef:
    credential_map: str
    key: str
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    client_certificate_file: str | None = None
    client_key_file: str | None = None

    @property
    def sets_secret(self) -> bool:
        return bool(self.password_env or self.password_file)

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any], base_dir: Path | None) -> WalletRef:
        """A ``[[wallet]]`` table; secrets are refused, files are found from ``base_dir``."""
        allowed = {
            "map", "key", "username", "password_env", "password_file",
            "client_certificate_file", "client_key_file",
        }  # fmt: skip
        secret_keys = {"password", "secret"}
        problems = [
            Problem((k,), "is not a known setting")
            for k in item
            if k not in allowed and k not in secret_keys
        ]
        problems.extend(
            Problem((k,), "secrets never go in a setup file; use password_env or password_file")
            for k in secret_keys & set(item)
        )
        values = {k: item.get(k) for k in allowed}
        for k, v in values.items():
            if v is not None and (not isinstance(v, str) or not v.strip()):
                problems.append(Problem((k,), "must be a non-empty string"))
        if problems:
            raise SpecInvalid(problems)  # the checks below need strings
        ref = cls(
            credential_map=str(values["map"] or DEFAULT_CREDENTIAL_MAP),
            key=str(values["key"] or ""),
            username=values["username"],
            password_env=values["password_env"],
            password_file=values["password_file"],
            client_certificate_file=values["client_certificate_file"],
            client_key_file=values["client_key_file"],
        )
        if not ref.key:
            problems.append(Problem(("key",), "is required"))
        if ref.password_env and ref.password_file:
            problems.append(
                Problem(("password_env",), "give password_env or password_file, not both")
            )
        if ref.sets_secret and not ref.username:
            problems.append(
                Problem(("username",), "is required with password_env or password_file")
            )
        if ref.password_env and ref.password_env not in os.environ:
            problems.append(
                Problem(("password_env",), f"environment variable {ref.password_env} is not set")
            )
        if bool(ref.client_certificate_file) != bool(ref.client_key_file):
            problems.append(
                Problem(
                    ("client_key_file",),
                    "a client certificate needs its key, and the other way round",
                )
            )
        for k in ("password_file", "client_certificate_file", "client_key_file"):
            name = getattr(ref, k)
            if name and not resolve_path(name, base_dir).is_file():
                problems.append(Problem((k,), f"file {name} does not exist"))
        if problems:
            raise SpecInvalid(problems)
        return ref


@dataclass(frozen=True)
class UserBinding:
    """A ``[[user]]`` table: the systems an existing user may act for."""

    name: str
    systems: tuple[str, ...] = ()
    all_systems: bool = False

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any]) -> UserBinding:
        """A ``[[user]]`` table; passwords are refused, they never go in a setup file."""
        allowed = ("name", "systems", "all_systems")
        problems = [
            Problem((k,), "is not a known setting") for k in item if k not in (*allowed, "password")
        ]
        if "password" in item:
            problems.append(
                Problem(("password",), "passwords never go in a setup file; use 'omgw user add'")
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(("name",), "is required: the name of a user ('omgw user add')"))
        systems = item.get("systems", [])
        if not isinstance(systems, list) or not all(
            isinstance(c, str) and c.strip() for c in systems
        ):
            problems.append(Problem(("systems",), 'must be a list of system codes: ["WMS01"]'))
            systems = []
        all_systems = item.get("all_systems", False)
        if not isinstance(all_systems, bool):
            problems.append(Problem(("all_systems",), "must be true or false"))
            all_systems = False
        if systems and all_systems:
            problems.append(
                Problem(("all_systems",), "give systems or all_systems = true, not both")
            )
        if problems:
            raise SpecInvalid(problems)
        return cls(str(name).strip(), tuple(sorted({c.strip() for c in systems})), all_systems)


@dataclass
class SetupDocument:
    source: str
    systems: list[SourceSystemSpec] = field(default_factory=list)
    xrefs: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    wallet: list[WalletRef] = field(default_factory=list)
    task_types: list[TaskTypeSpec] = field(default_factory=list)
    connectors: list[ConnectorSpec] = field(default_factory=list)
    processes: list[ProcessSpec] = field(default_factory=list)
    trigger_points: list[TriggerPointSpec] = field(default_factory=list)
    #: the whole set of jeopardy thresholds (None: the file leaves them alone)
    thresholds: list[JeopardyThresholdSpec] | None = None
    #: the routing draft the file declares (None: the file leaves routing alone)
    rule_set: RuleSet | None = None
    #: whether applying publishes that draft when it differs from the newest version
    publish: bool = True
    users: list[UserBinding] = field(default_factory=list)
    #: the line of each item, for errors found while applying
    item_lines: dict[tuple[str, int], int] = field(default_factory=dict)


class SourceLines:
    """Where each table and key of a TOML text starts, by path (``connector``, 2, ``url``)."""

    def __init__(self, text: str) -> None:
        self.at: dict[tuple[str | int, ...], int] = {}
        counters: dict[tuple[str | int, ...], int] = {}

        def resolve(names: list[str]) -> tuple[str | int, ...]:
            path: tuple[str | int, ...] = ()
            for name in names:
                path = (*path, name)
                if path in counters:
                    path = (*path, counters[path])
            return path

        current: tuple[str | int, ...] = ()
        open_string: str | None = None  # inside a multi-line string: its delimiter
        depth = 0  # inside a multi-line array or inline table
        # TOML ends lines at "\n" only; str.splitlines() would also split at U+2028 & co.
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip()
            if open_string is not None:
                if open_string in line:
                    open_string = None
                continue
            if depth > 0:
                depth = max(0, depth + _depth(line))
                continue
            if match := _ARRAY.match(line):
                names = _split(match.group(1))
                base = (*resolve(names[:-1]), names[-1])
                counters[base] = counters.get(base, -1) + 1
                current = (*base, counters[base])
                self.at.setdefault(current, number)
            elif match := _TABLE.match(line):
                current = resolve(_split(match.group(1)))
                self.at.setdefault(current, number)
            elif match := _KEY.match(line):
                self.at.setdefault((*current, *_split(match.group(1))), number)
                value = match.group(2)
                for delimiter in ('"""', "'''"):
                    if value.count(delimiter) % 2:
                        open_string = delimiter
                if open_string is None:
                    depth = max(0, _depth(value))

    def line(self, path: tuple[str | int, ...]) -> int | None:
        for end in range(len(path), 0, -1):
            if (found := self.at.get(path[:end])) is not None:
                return found
        return None


def _split(dotted: str) -> list[str]:
    return [part.strip("\"'") for part in re.findall(_PART, dotted)]


def _depth(text: str) -> int:
    """How many brackets and braces ``text`` leaves open (strings and comments aside)."""
    code = _STRING.sub("", text).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


def resolve_path(name: str, base_dir: Path | None) -> Path:
    """``name`` as a path, relative ones taken from ``base_dir`` (the file's folder)."""
    path = Path(name).expanduser()
    return path if path.is_absolute() or base_dir is None else base_dir / path
