"""Reading a registry spec from a plain mapping (a TOML table, CLI options).

:class:`SpecReader` pulls typed values out of the mapping and collects a
:class:`Problem` for each bad field instead of raising at the first, so a setup file is
refused whole with one message per bad line; :class:`SpecInvalid` carries them all.
The connector specs (:mod:`connectors.connector_specs`), the orchestration model
(:mod:`gateway.orchestration_model`) and trigger points (:mod:`connectors.trigger_points`)
are all read through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.connector_errors import Problem, SpecInvalid

__all__ = [
    "CODE",
    "IDENTIFIER",
    "MAX_PLANNED_MINUTES",
    "SpecReader",
    "format_duration",
    "has_control",
    "is_plain",
    "parse_duration",
]

MAX_PLANNED_MINUTES = 366 * 1440

#: A code or name an admin gives: letters, digits, ``_ . -``.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
#: An identifier: a letter, then letters, digits, ``_``.
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?\Z")


class SpecReader:
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
        if has_control(value, multiline=key == "description"):
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

    def nested(self, reader: SpecReader) -> None:
        self.problems.extend(reader.problems)

    def finish(self) -> None:
        """Unknown keys are mistakes (a misspelt ``timout`` must not pass silently)."""
        for key in self.data:
            if key not in self._seen:
                self.problem(key, "is not a known setting")
        if self.problems:
            raise SpecInvalid(self.problems)


def has_control(value: str, multiline: bool = False) -> bool:
    allowed = "\t\n\r" if multiline else ""
    return any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in value)


def is_plain(value: str, max_len: int) -> bool:
    """1 to ``max_len`` characters, not all blank, no control characters: what every
    name, key and value the registry stores must be."""
    return bool(value.strip()) and len(value) <= max_len and not has_control(value)


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
