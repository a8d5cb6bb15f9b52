"""Declarative setup: ``omgw apply -f setup.toml`` and ``omgw export``.

A file is checked whole before anything is written: syntax, values, duplicates and
references (to what the file itself declares or the database already holds). Every
problem is reported with its line. Then everything is applied in one transaction, so a
file is either applied entirely or not at all. Applying the same file twice changes
nothing, because each part is compared with what is stored.

Top-level arrays: ``source_system`` (with ``[source_system.xref.<DOMAIN>]`` tables of
``"external" = "internal"``; a domain listed is replaced whole), ``wallet``,
``task_type``, ``connector``, ``process``, ``trigger_point`` and ``jeopardy_threshold``
(plus ``rule`` and the ``[routing]`` table). Wallet entries carry no secrets: either a
reference (the entry must exist) or ``password_env`` / ``password_file`` naming where
the password is read from at apply time.

``[[user]]`` tables bind API users to the systems they may act for: ``name``, then
``systems = ["WMS01"]`` (exactly those) or ``all_systems = true``. The user must exist
(``omgw user add``: passwords never go in a setup file); the systems must exist in the
file or the database. Users the file does not name keep their bindings.

Trigger points are created or updated one by one (points the file does not name are
left alone); their connectors must be in ``BUSINESS_EVENT`` mode, in the file or in the
database. Jeopardy thresholds are one set: a file that has the key replaces the whole
set with its ranges (``jeopardy_threshold = []`` clears it); one without leaves it alone.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.connector_specs import (
    DEFAULT_CREDENTIAL_MAP,
    ConnectorSpec,
    SourceSystemSpec,
    check_domain,
)
from connectors.spec_reader import Problem, SpecInvalid
from connectors.triggers import JeopardyThresholdSpec, TriggerPointSpec, canonical_criterion
from connectors.wallet import Credential, SecretBox, WalletError
from gateway.errors import GatewayError, NotFoundError, ValidationError, did_you_mean
from gateway.orchestration_model import ProcessSpec, TaskTypeSpec, check_process
from gateway.persistence.audit import Change
from gateway.persistence.models import User
from gateway.registry.bindings import set_binding
from gateway.registry.rules import RuleStore
from gateway.registry.store import Registry
from gateway.registry.triggers import TriggerStore, criterion_problem
from gateway.registry.wallet import Wallet
from routing.rules import Rule, RuleSet, RuleSetInvalid, check, rule_from_mapping

__all__ = ["SetupDocument", "SetupInvalid", "apply_setup", "export_setup", "load_setup"]

SECTIONS = (
    "source_system", "wallet", "task_type", "connector", "process", "trigger_point",
    "jeopardy_threshold", "rule", "routing", "user",
)  # fmt: skip
_ROUTING_KEYS = ("defaults", "publish")
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


@dataclass(frozen=True)
class UserBinding:
    """A ``[[user]]`` table: the systems an existing user may act for."""

    name: str
    systems: tuple[str, ...] = ()
    all_systems: bool = False


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


class _Lines:
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


def load_setup(
    text: str,
    source: str,
    *,
    known_systems: set[str],
    known_wallet: set[tuple[str, str]],
    known_task_types: Mapping[str, TaskTypeSpec],
    known_connectors: Mapping[str, bool] | None = None,
    base_dir: Path | None = None,
    known_connector_modes: Mapping[str, str] | None = None,
) -> SetupDocument:
    """Parse and check a whole setup file; raise :class:`SetupInvalid` listing every
    problem with its line, or return the document ready to apply.

    ``known_connector_modes`` (connector name → invocation mode) lets trigger points
    naming connectors of the database be checked here; without it only the connectors
    of the file are, and the others when the point is applied."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupInvalid(source, [f"TOML syntax error: {exc}"]) from None
    lines = _Lines(text)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    doc = SetupDocument(source)

    def collect(section: str, build: Callable[[Mapping[str, Any]], Any]) -> list[Any]:
        items = data.get(section, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.append(((section,), f"{section} must be written as [[{section}]] tables"))
            return []
        out = []
        for index, item in enumerate(items):
            doc.item_lines[(section, index)] = lines.line((section, index)) or 1
            try:
                out.append((index, build(item)))
            except SpecInvalid as exc:
                problems.extend(((section, index, *p.path), p.message) for p in exc.problems)
        return out

    for key in data:
        if key not in SECTIONS:
            problems.append(((key,), f"unknown section {key!r}; use {', '.join(SECTIONS)}"))

    def system(item: Mapping[str, Any]) -> tuple[SourceSystemSpec, dict[str, dict[str, str]]]:
        item = dict(item)
        xref = item.pop("xref", {})
        spec = SourceSystemSpec.from_mapping(item)
        xref_problems = []
        if not isinstance(xref, dict):
            xref_problems.append(
                Problem(("xref",), "must hold [source_system.xref.<DOMAIN>] tables")
            )
            xref = {}
        for domain, mapping in xref.items():
            if why := check_domain(domain):
                xref_problems.append(Problem(("xref", domain), why))
            if not isinstance(mapping, dict) or not all(
                isinstance(v, str) and v.strip() for v in mapping.values()
            ):
                xref_problems.append(
                    Problem(("xref", domain), 'must map "external" = "internal" strings')
                )
        if xref_problems:
            raise SpecInvalid(xref_problems)
        return spec, {
            d: {str(e).strip(): str(i).strip() for e, i in m.items()} for d, m in xref.items()
        }

    systems_in = collect("source_system", system)
    for _index, (spec, xref) in systems_in:
        doc.systems.append(spec)
        if xref:
            doc.xrefs[spec.code] = xref
    wallet_in = collect("wallet", lambda item: _wallet_ref(item, base_dir))
    for index, ref in wallet_in:
        doc.wallet.append(ref)
        if not ref.sets_secret and (ref.credential_map, ref.key) not in known_wallet:
            problems.append(
                (
                    ("wallet", index, "key"),
                    f"wallet entry ({ref.credential_map}, {ref.key}) does not exist; give "
                    "password_env or password_file, or run 'omgw wallet set' first",
                )
            )
    task_types_in = collect("task_type", TaskTypeSpec.from_mapping)
    doc.task_types = [s for _, s in task_types_in]
    connectors_in = collect("connector", ConnectorSpec.from_mapping)
    # A CA bundle named in the file is found beside the file, like password_file.
    doc.connectors = [
        _with_absolute_bundle(s, base_dir) if s.tls.ca_bundle else s for _, s in connectors_in
    ]
    processes = collect("process", ProcessSpec.from_mapping)
    doc.processes = [s for _, s in processes]
    trigger_points = collect("trigger_point", TriggerPointSpec.from_mapping)
    doc.trigger_points = [s for _, s in trigger_points]
    doc.users = [b for _, b in collect("user", _user_binding)]
    thresholds = collect("jeopardy_threshold", JeopardyThresholdSpec.from_mapping)
    if "jeopardy_threshold" in data:
        doc.thresholds = [s for _, s in thresholds]
        doc.item_lines.setdefault(
            ("jeopardy_threshold", 0), lines.line(("jeopardy_threshold",)) or 1
        )

    # Duplicates, by the raw names (a bad item still counts), at each repeat's own line.
    for section, field_name in (
        ("source_system", "code"),
        ("wallet", "key"),
        ("task_type", "code"),
        ("connector", "name"),
        ("process", "name"),
        ("trigger_point", "event"),
        ("user", "name"),
    ):
        raw_items = data.get(section, [])
        seen: set[object] = set()
        for index, raw in enumerate(raw_items if isinstance(raw_items, list) else []):
            if not isinstance(raw, dict) or not isinstance(raw.get(field_name), str):
                continue
            name = raw[field_name].strip()
            cmap = raw.get("map") or DEFAULT_CREDENTIAL_MAP
            ident: object = (str(cmap), name) if section == "wallet" else name
            if section == "trigger_point":
                criterion = raw.get("criterion", "")
                if not isinstance(criterion, str):
                    criterion = ""
                criterion = canonical_criterion(name.upper(), criterion)
                name = f"trigger point {name}/{criterion}" if criterion else f"trigger point {name}"
                ident = name
            if ident in seen:
                problems.append(((section, index), f"{name} appears twice in the file"))
            seen.add(ident)

    systems = known_systems | {s.code for s in doc.systems}
    wallet = known_wallet | {(w.credential_map, w.key) for w in doc.wallet}
    raw_users = data.get("user", [])
    for index, raw in enumerate(raw_users if isinstance(raw_users, list) else []):
        codes = raw.get("systems") if isinstance(raw, dict) else None
        for code in codes if isinstance(codes, list) else []:
            if isinstance(code, str) and code.strip() and code.strip() not in systems:
                problems.append(
                    (
                        ("user", index, "systems"),
                        f"source system {code.strip()!r} does not exist"
                        f"{did_you_mean(code.strip(), systems)}",
                    )
                )
    # References are checked on the raw tables, so an item with a bad value elsewhere
    # still gets its missing references reported in the same run.
    raw_connectors = data.get("connector", [])
    for index, raw in enumerate(raw_connectors if isinstance(raw_connectors, list) else []):
        if not isinstance(raw, dict):
            continue
        target = raw.get("target_system")
        if isinstance(target, str) and target.strip() not in systems:
            problems.append(
                (
                    ("connector", index, "target_system"),
                    f"source system {target!r} does not exist"
                    f"{did_you_mean(target.strip(), systems)}",
                )
            )
        if not isinstance(raw.get("credential_map", ""), str):
            continue  # reported by the connector's own checks
        cmap = raw.get("credential_map") or DEFAULT_CREDENTIAL_MAP
        tls: dict[str, Any] = raw["tls"] if isinstance(raw.get("tls"), dict) else {}
        refs: tuple[tuple[tuple[str, ...], object], ...] = (
            (("credential_key",), raw.get("credential_key")),
            (("tls", "client_certificate"), tls.get("client_certificate")),
        )
        for ref_path, ref in refs:
            if isinstance(ref, str) and ref and (cmap, ref) not in wallet:
                problems.append(
                    (
                        ("connector", index, *ref_path),
                        f"wallet entry ({cmap}, {ref}) does not exist",
                    )
                )
    task_types = {**known_task_types, **{t.code: t for t in doc.task_types}}
    for index, p in processes:
        problems.extend(
            (("process", index, *pr.path), pr.message) for pr in check_process(p, task_types)
        )
    connectors = {**(known_connectors or {}), **{c.name: c.enabled for c in doc.connectors}}
    problems += _check_trigger_points(
        data, trigger_points, connectors, known_connector_modes, doc.connectors
    )
    problems += _check_thresholds(data, thresholds, set(task_types))
    problems += _load_routing(data, doc, connectors, set(task_types), lines)

    if problems:
        located = []
        for at, message in sorted(problems, key=lambda pm: lines.line(pm[0]) or 0):
            line = lines.line(at)
            where = ".".join(str(part) for part in at[2:])
            text_ = f"{where}: {message}" if where else message
            located.append(f"line {line}: {text_}" if line else text_)
        raise SetupInvalid(source, located)
    return doc


def _check_trigger_points(
    data: Mapping[str, Any],
    parsed: list[tuple[int, TriggerPointSpec]],
    connectors: Mapping[str, bool],
    known_modes: Mapping[str, str] | None,
    declared: list[ConnectorSpec],
) -> list[tuple[tuple[str | int, ...], str]]:
    """Status criteria the state machines know, and connectors that exist (in the file
    or the database) in ``BUSINESS_EVENT`` mode; connectors on the raw tables, so an item
    with a bad value elsewhere still gets them reported."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, spec in parsed:
        problem = criterion_problem(spec)
        if problem:
            problems.append((("trigger_point", index, "criterion"), problem))
    modes = {**(known_modes or {}), **{c.name: c.invocation_mode for c in declared}}
    raw_points = data.get("trigger_point", [])
    for index, raw in enumerate(raw_points if isinstance(raw_points, list) else []):
        names = raw.get("connectors") if isinstance(raw, dict) else None
        if isinstance(names, str):
            names = [names]
        for name in names if isinstance(names, list) else []:
            if not isinstance(name, str) or not name.strip():
                continue  # reported by the trigger point's own checks
            name = name.strip()
            where = ("trigger_point", index, "connectors")
            if name not in connectors:
                problems.append(
                    (where, f"connector {name!r} does not exist{did_you_mean(name, connectors)}")
                )
            elif name in modes and modes[name] != "BUSINESS_EVENT":
                problems.append(
                    (
                        where,
                        f"connector {name} is {modes[name]}, not BUSINESS_EVENT; business "
                        "events go only to connectors that implement pushPayload "
                        '(set invocation_mode = "BUSINESS_EVENT")',
                    )
                )
    return problems


def _check_thresholds(
    data: Mapping[str, Any],
    parsed: list[tuple[int, JeopardyThresholdSpec]],
    task_types: set[str],
) -> list[tuple[tuple[str | int, ...], str]]:
    """Task types that exist (on the raw tables, so an item with a bad value elsewhere
    still gets it reported), and no two ranges of one task type that overlap (reported at
    the later one)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    raw_items = data.get("jeopardy_threshold", [])
    for index, raw in enumerate(raw_items if isinstance(raw_items, list) else []):
        task_type = raw.get("task_type") if isinstance(raw, dict) else None
        if isinstance(task_type, str) and task_type.strip() not in task_types | {""}:
            problems.append(
                (
                    ("jeopardy_threshold", index, "task_type"),
                    f"task type {task_type.strip()!r} does not exist"
                    f"{did_you_mean(task_type.strip(), task_types)}",
                )
            )
    by_task: dict[str, list[tuple[int, JeopardyThresholdSpec]]] = {}
    for index, spec in parsed:
        by_task.setdefault(spec.task_type, []).append((index, spec))
    for group in by_task.values():
        ordered = sorted(group, key=lambda item: (item[1].from_minutes, item[0]))
        for (_i, earlier), (index, later) in pairwise(ordered):
            if earlier.to_minutes is None or earlier.to_minutes > later.from_minutes:
                problems.append(
                    (
                        ("jeopardy_threshold", index),
                        f"ranges overlap: {earlier.describe()} and {later.describe()}; "
                        "a delay must give one priority",
                    )
                )
    return problems


def _load_routing(
    data: Mapping[str, Any],
    doc: SetupDocument,
    connectors: Mapping[str, bool],
    task_types: set[str],
    lines: _Lines,
) -> list[tuple[tuple[str | int, ...], str]]:
    """``[[rule]]`` tables and the ``[routing]`` table (defaults, publish): the whole
    routing draft. Checked as publishing would check it when the file publishes."""
    raw_rules, routing = data.get("rule"), data.get("routing")
    if raw_rules is None and routing is None:
        return []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        return [(("rule",), "rules must be written as [[rule]] tables")]
    if routing is None:
        routing = {}
    if not isinstance(routing, dict):
        return [(("routing",), "routing must be a [routing] table")]
    for key in routing:
        if key not in _ROUTING_KEYS:
            problems.append(
                (("routing", key), f"{key}: unknown key; use {', '.join(_ROUTING_KEYS)}")
            )
    defaults = routing.get("defaults", {})
    if not isinstance(defaults, dict) or not all(
        isinstance(v, str) and v.strip() for v in defaults.values()
    ):
        problems.append(
            (("routing", "defaults"), 'defaults: must map task types to connectors: Shipment = "X"')
        )
        defaults = {}
    publish = routing.get("publish", True)
    if not isinstance(publish, bool):
        problems.append((("routing", "publish"), "publish: must be true or false"))
        publish = True
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        doc.item_lines[("rule", index)] = lines.line(("rule", index)) or 1
        raw_id = raw.get("id")
        if isinstance(raw_id, str) and raw_id in seen:  # a bad item still counts
            problems.append((("rule", index), f"rule {raw_id} appears twice in the file"))
            continue
        seen.add(str(raw_id))
        try:
            rules.append(rule_from_mapping(raw))
        except RuleSetInvalid as exc:
            problems += [(("rule", index, p.field), p.message) for p in exc.problems]
    rule_set = RuleSet(tuple(rules), {str(k).strip(): v.strip() for k, v in defaults.items()})
    index_of: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        index_of.setdefault(str(raw.get("id")), i)  # the first, where problems are
    # existence only: whether connectors are enabled is for publishing to say, and only
    # if the file's rules differ from the version in use (re-applying must stay a no-op)
    for problem in check(rule_set, dict.fromkeys(connectors, True), task_types):
        if problem.rule is None:
            problems.append((("routing", "defaults"), f"{problem.field}: {problem.message}"))
        else:
            problems.append(
                (("rule", index_of.get(problem.rule, 0), problem.field), problem.message)
            )
    doc.rule_set, doc.publish = rule_set, publish
    doc.item_lines[("routing", 0)] = lines.line(("routing",)) or lines.line(("rule", 0)) or 1
    return problems


def _user_binding(item: Mapping[str, Any]) -> UserBinding:
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
    if not isinstance(systems, list) or not all(isinstance(c, str) and c.strip() for c in systems):
        problems.append(Problem(("systems",), 'must be a list of system codes: ["WMS01"]'))
        systems = []
    all_systems = item.get("all_systems", False)
    if not isinstance(all_systems, bool):
        problems.append(Problem(("all_systems",), "must be true or false"))
        all_systems = False
    if systems and all_systems:
        problems.append(Problem(("all_systems",), "give systems or all_systems = true, not both"))
    if problems:
        raise SpecInvalid(problems)
    return UserBinding(str(name).strip(), tuple(sorted({c.strip() for c in systems})), all_systems)


def _bind_user(session: Session, actor: str, binding: UserBinding) -> Change | None:
    user = session.scalar(select(User).where(User.username == binding.name))
    if user is None:
        raise NotFoundError(
            "USER_UNKNOWN",
            f"there is no user {binding.name!r}: add it first with 'omgw user add "
            f"{binding.name} --role …' (passwords never go in a setup file)",
        )
    return set_binding(session, actor, user, binding.systems, binding.all_systems)


def _with_absolute_bundle(spec: ConnectorSpec, base_dir: Path | None) -> ConnectorSpec:
    bundle = str(_resolve(str(spec.tls.ca_bundle), base_dir).resolve())
    return replace(spec, tls=replace(spec.tls, ca_bundle=bundle))


def _wallet_ref(item: Mapping[str, Any], base_dir: Path | None) -> WalletRef:
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
    ref = WalletRef(
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
        problems.append(Problem(("password_env",), "give password_env or password_file, not both"))
    if ref.sets_secret and not ref.username:
        problems.append(Problem(("username",), "is required with password_env or password_file"))
    if ref.password_env and ref.password_env not in os.environ:
        problems.append(
            Problem(("password_env",), f"environment variable {ref.password_env} is not set")
        )
    if bool(ref.client_certificate_file) != bool(ref.client_key_file):
        problems.append(
            Problem(
                ("client_key_file",), "a client certificate needs its key, and the other way round"
            )
        )
    for k in ("password_file", "client_certificate_file", "client_key_file"):
        name = getattr(ref, k)
        if name and not _resolve(name, base_dir).is_file():
            problems.append(Problem((k,), f"file {name} does not exist"))
    if problems:
        raise SpecInvalid(problems)
    return ref


def _resolve(name: str, base_dir: Path | None) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() or base_dir is None else base_dir / path


def _set_credential(wallet: Wallet, ref: WalletRef, base_dir: Path | None) -> Change | None:
    try:
        credential = _credential(ref, base_dir)
    except (OSError, UnicodeDecodeError) as exc:
        raise WalletError(f"cannot read a file of wallet entry {ref.key}: {exc}") from None
    return wallet.set(ref.credential_map, ref.key, credential)


def _credential(ref: WalletRef, base_dir: Path | None) -> Credential:
    if ref.password_env:
        password = os.environ[ref.password_env]
    else:
        password = _resolve(str(ref.password_file), base_dir).read_text().rstrip("\r\n")
    cert = key = None
    if ref.client_certificate_file and ref.client_key_file:
        cert = _resolve(ref.client_certificate_file, base_dir).read_text()
        key = _resolve(ref.client_key_file, base_dir).read_text()
    return Credential(str(ref.username), password, cert, key)


def apply_setup(
    session: Session,
    box: Callable[[], SecretBox],
    actor: str,
    doc: SetupDocument,
    base_dir: Path | None = None,
) -> list[Change]:
    """Apply ``doc`` inside the caller's transaction; the caller commits, or rolls back
    for a dry run. An error names the item's line; the caller's rollback undoes all."""
    registry = Registry(session, actor)
    changes: list[Change | None] = []

    def step(section: str, index: int, work: Callable[..., Any], *args: Any) -> None:
        try:
            result = work(*args)
        except (GatewayError, WalletError) as exc:
            line = doc.item_lines.get((section, index))
            message = exc.message if isinstance(exc, GatewayError) else str(exc)
            raise SetupInvalid(doc.source, [f"line {line}: {message}"]) from None
        changes.extend(result if isinstance(result, list) else [result])

    for i, system in enumerate(doc.systems):
        step("source_system", i, registry.put_source_system, system)
    for i, system in enumerate(doc.systems):
        for domain, mapping in sorted(doc.xrefs.get(system.code, {}).items()):
            step("source_system", i, registry.replace_xref_domain, system.code, domain, mapping)
    if any(ref.sets_secret for ref in doc.wallet):
        wallet = Wallet(session, box, actor)
        for i, ref in enumerate(doc.wallet):
            if ref.sets_secret:
                step("wallet", i, _set_credential, wallet, ref, base_dir)
    for i, task_type in enumerate(doc.task_types):
        step("task_type", i, registry.put_task_type, task_type)
    for i, connector in enumerate(doc.connectors):
        step("connector", i, registry.put_connector, connector)
    for i, process in enumerate(doc.processes):
        step("process", i, registry.put_process, process)
    for i, binding in enumerate(doc.users):
        step("user", i, _bind_user, session, actor, binding)
    triggers = TriggerStore(session, actor)
    for i, point in enumerate(doc.trigger_points):
        step("trigger_point", i, triggers.put_trigger_point, point)
    if doc.thresholds is not None:
        step("jeopardy_threshold", 0, triggers.replace_thresholds, doc.thresholds)
    if doc.rule_set is not None:
        rules = RuleStore(session, actor)
        step("routing", 0, rules.replace_draft, doc.rule_set)
        if doc.publish:
            step("routing", 0, lambda: _published(rules))
    return [c for c in changes if c is not None]


def _published(rules: RuleStore) -> Change | None:
    version = rules.publish()
    if version is None:
        return None
    return Change("create", "rule_set_version", str(version.version), None, version.to_mapping())


def export_setup(session: Session) -> str:
    """The current setup in the ``apply`` format; wallet entries by reference only."""
    registry = Registry(session)
    systems = []
    for spec in registry.source_systems():
        item = spec.to_mapping()
        xref: dict[str, dict[str, str]] = {}
        for _s, domain, external, internal in registry.xref_entries(spec.code):
            xref.setdefault(domain, {})[external] = internal
        if xref:
            item["xref"] = xref
        systems.append(item)
    wallet = Wallet(session, actor="export")
    document: dict[str, Any] = {
        "source_system": systems,
        "task_type": [t.to_mapping() for t in registry.task_types() if not t.system],
        "connector": [c.to_mapping() for c in registry.connectors()],
        "process": [
            p.to_mapping()
            for _v, p in registry.processes()
            if not registry.is_builtin_process(p.name)
        ],
    }
    rules = RuleStore(session)
    draft, current = rules.draft(), rules.current()
    note = ""
    if current is not None:
        # what routing uses: applying the export elsewhere publishes the same rules
        exported, publish = current[1], True
        if draft != exported:
            note = (
                f"# Routing: version {current[0].version}, the one in use. The draft holds "
                "unpublished edits that are not in this file (omgw rule list).\n"
            )
    else:
        exported, publish = draft, False  # nothing published: the draft stays a draft
    if exported.rules or exported.defaults or current is not None:
        document["routing"] = {"publish": publish, "defaults": dict(exported.defaults)}
        document["rule"] = [
            {k: v for k, v in r.to_dict().items() if v is not None and v != ""}
            for r in exported.rules
        ]
    body = tomli_w.dumps({k: v for k, v in document.items() if v})
    # Trigger points and thresholds as tables of their own too (tomli_w would write short
    # ones as one inline array), so a problem with one is reported at its own line.
    triggers = TriggerStore(session)
    for point in triggers.trigger_points():
        body += f"\n[[trigger_point]]\n{tomli_w.dumps(point.to_mapping())}"
    for threshold in triggers.thresholds():
        body += f"\n[[jeopardy_threshold]]\n{tomli_w.dumps(threshold.to_mapping())}"
    # [[wallet]] tables rather than tomli_w's inline array, so each entry has its own line.
    for entry in wallet.entries():
        ref = tomli_w.dumps({"map": entry.credential_map, "key": entry.key})
        body += f"\n[[wallet]]\n{ref}"
    return (
        "# omgw setup, written by 'omgw export'. Apply with: omgw apply -f <this file>\n"
        "# Wallet entries are listed by reference; their secrets stay in the wallet.\n"
        + note
        + "\n"
        + body
    )
