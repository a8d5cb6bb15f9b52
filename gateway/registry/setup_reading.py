"""Reading a setup file: each table by a reader of its own, then the references between
them and to what the database holds, every problem with its line.

:func:`load_setup` reads the whole file before anything is written and refuses it with
one :class:`~gateway.registry.setup_document.SetupInvalid` listing every problem; the
format is described in :mod:`gateway.registry.setup_file`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from connectors.connector_errors import Problem, SpecInvalid
from connectors.connector_specs import (
    DEFAULT_CREDENTIAL_MAP,
    ConnectorSpec,
    SourceSystemSpec,
    check_domain,
)
from connectors.trigger_points import JeopardyThresholdSpec, TriggerPointSpec, canonical_criterion
from gateway.errors import did_you_mean
from gateway.orchestration_model import ProcessSpec, TaskTypeSpec, check_process
from gateway.registry.setup_document import (
    SetupDocument,
    SetupInvalid,
    SourceLines,
    UserBinding,
    WalletRef,
    resolve_path,
)
from gateway.registry.trigger_store import criterion_problem
from routing.routing_errors import RuleSetInvalid
from routing.rule_set import Rule, RuleSet, check, rule_from_mapping

__all__ = ["SECTIONS", "load_setup"]

SECTIONS = (
    "source_system", "wallet", "task_type", "connector", "process", "trigger_point",
    "jeopardy_threshold", "rule", "routing", "user",
)  # fmt: skip
_ROUTING_KEYS = ("defaults", "publish")

#: A problem: where in the file (section, item index, field path) and what is wrong.
Found = list[tuple[tuple[str | int, ...], str]]


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
    r = _Reading(data, SourceLines(text), SetupDocument(source))
    doc = r.doc
    r.problems += [
        ((key,), f"unknown section {key!r}; use {', '.join(SECTIONS)}")
        for key in data
        if key not in SECTIONS
    ]
    _read_systems(r)
    _read_wallet(r, known_wallet, base_dir)
    doc.task_types = [s for _, s in r.collect("task_type", TaskTypeSpec.from_mapping)]
    _read_connectors(r, base_dir)
    processes = r.collect("process", ProcessSpec.from_mapping)
    doc.processes = [s for _, s in processes]
    trigger_points = r.collect("trigger_point", TriggerPointSpec.from_mapping)
    doc.trigger_points = [s for _, s in trigger_points]
    doc.users = [b for _, b in r.collect("user", UserBinding.from_mapping)]
    thresholds = _read_thresholds(r)
    _check_duplicates(r)

    # References: to what the file declares or the database already holds.
    systems = known_systems | {s.code for s in doc.systems}
    wallet = known_wallet | {(w.credential_map, w.key) for w in doc.wallet}
    task_types = {**known_task_types, **{t.code: t for t in doc.task_types}}
    connectors = {**(known_connectors or {}), **{c.name: c.enabled for c in doc.connectors}}
    _check_user_systems(r, systems)
    _check_connector_references(r, systems, wallet)
    for index, p in processes:
        r.problems += [
            (("process", index, *pr.path), pr.message) for pr in check_process(p, task_types)
        ]
    r.problems += _check_trigger_points(
        data, trigger_points, connectors, known_connector_modes, doc.connectors
    )
    r.problems += _check_thresholds(data, thresholds, set(task_types))
    r.problems += _load_routing(data, doc, connectors, set(task_types), r.lines)
    if r.problems:
        raise SetupInvalid(source, _located(r.problems, r.lines))
    return doc


class _Reading:
    """One file being read: its tables, their lines, the document so far, the problems."""

    def __init__(self, data: Mapping[str, Any], lines: SourceLines, doc: SetupDocument) -> None:
        self.data = data
        self.lines = lines
        self.doc = doc
        self.problems: Found = []

    def raw(self, section: str) -> list[Any]:
        """The section's tables as written, bad ones too ([] when it is not a list)."""
        items = self.data.get(section, [])
        return items if isinstance(items, list) else []

    def collect(self, section: str, build: Callable[[Mapping[str, Any]], Any]) -> list[Any]:
        """``(index, build(item))`` for each good ``[[section]]`` table; the problems of
        the others are kept, at their lines."""
        items = self.data.get(section, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            self.problems.append(((section,), f"{section} must be written as [[{section}]] tables"))
            return []
        out = []
        for index, item in enumerate(items):
            self.doc.item_lines[(section, index)] = self.lines.line((section, index)) or 1
            try:
                out.append((index, build(item)))
            except SpecInvalid as exc:
                self.problems.extend(((section, index, *p.path), p.message) for p in exc.problems)
        return out


def _located(problems: Found, lines: SourceLines) -> list[str]:
    """Each problem as ``line N: field: message``, in the order of the file."""
    located = []
    for at, message in sorted(problems, key=lambda pm: lines.line(pm[0]) or 0):
        line = lines.line(at)
        where = ".".join(str(part) for part in at[2:])
        text = f"{where}: {message}" if where else message
        located.append(f"line {line}: {text}" if line else text)
    return located


# -- one reader per table ------------------------------------------------------------


def _read_systems(r: _Reading) -> None:
    for _index, (spec, xref) in r.collect("source_system", _system_with_xref):
        r.doc.systems.append(spec)
        if xref:
            r.doc.xrefs[spec.code] = xref


def _system_with_xref(
    item: Mapping[str, Any],
) -> tuple[SourceSystemSpec, dict[str, dict[str, str]]]:
    """A ``[[source_system]]`` table and its ``[source_system.xref.<DOMAIN>]`` tables."""
    item = dict(item)
    xref = item.pop("xref", {})
    spec = SourceSystemSpec.from_mapping(item)
    problems = []
    if not isinstance(xref, dict):
        problems.append(Problem(("xref",), "must hold [source_system.xref.<DOMAIN>] tables"))
        xref = {}
    for domain, mapping in xref.items():
        if why := check_domain(domain):
            problems.append(Problem(("xref", domain), why))
        if not isinstance(mapping, dict) or not all(
            isinstance(v, str) and v.strip() for v in mapping.values()
        ):
            problems.append(Problem(("xref", domain), 'must map "external" = "internal" strings'))
    if problems:
        raise SpecInvalid(problems)
    return spec, {
        d: {str(e).strip(): str(i).strip() for e, i in m.items()} for d, m in xref.items()
    }


def _read_wallet(r: _Reading, known: set[tuple[str, str]], base_dir: Path | None) -> None:
    for index, ref in r.collect("wallet", lambda item: WalletRef.from_mapping(item, base_dir)):
        r.doc.wallet.append(ref)
        if not ref.sets_secret and (ref.credential_map, ref.key) not in known:
            r.problems.append(
                (
                    ("wallet", index, "key"),
                    f"wallet entry ({ref.credential_map}, {ref.key}) does not exist; give "
                    "password_env or password_file, or run 'omgw wallet set' first",
                )
            )


def _read_connectors(r: _Reading, base_dir: Path | None) -> None:
    # A CA bundle named in the file is found beside the file, like password_file.
    r.doc.connectors = [
        _with_absolute_bundle(s, base_dir) if s.tls.ca_bundle else s
        for _, s in r.collect("connector", ConnectorSpec.from_mapping)
    ]


def _read_thresholds(r: _Reading) -> list[tuple[int, JeopardyThresholdSpec]]:
    """The thresholds, kept as the whole set only when the file has the key."""
    thresholds = r.collect("jeopardy_threshold", JeopardyThresholdSpec.from_mapping)
    if "jeopardy_threshold" in r.data:
        r.doc.thresholds = [s for _, s in thresholds]
        line = r.lines.line(("jeopardy_threshold",)) or 1
        r.doc.item_lines.setdefault(("jeopardy_threshold", 0), line)
    return thresholds


# -- checks across tables ------------------------------------------------------------

#: The field that names each item, for finding the ones a file declares twice.
_NAMED_BY = (
    ("source_system", "code"), ("wallet", "key"), ("task_type", "code"),
    ("connector", "name"), ("process", "name"), ("trigger_point", "event"), ("user", "name"),
)  # fmt: skip


def _check_duplicates(r: _Reading) -> None:
    """By the raw names (a bad item still counts), at each repeat's own line."""
    for section, field_name in _NAMED_BY:
        seen: set[object] = set()
        for index, raw in enumerate(r.raw(section)):
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
                r.problems.append(((section, index), f"{name} appears twice in the file"))
            seen.add(ident)


def _check_user_systems(r: _Reading, systems: set[str]) -> None:
    for index, raw in enumerate(r.raw("user")):
        codes = raw.get("systems") if isinstance(raw, dict) else None
        for code in codes if isinstance(codes, list) else []:
            if isinstance(code, str) and code.strip() and code.strip() not in systems:
                r.problems.append(
                    (
                        ("user", index, "systems"),
                        f"source system {code.strip()!r} does not exist"
                        f"{did_you_mean(code.strip(), systems)}",
                    )
                )


def _check_connector_references(
    r: _Reading, systems: set[str], wallet: set[tuple[str, str]]
) -> None:
    """Target systems and wallet entries, on the raw tables, so an item with a bad value
    elsewhere still gets its missing references reported in the same run."""
    for index, raw in enumerate(r.raw("connector")):
        if not isinstance(raw, dict):
            continue
        target = raw.get("target_system")
        if isinstance(target, str) and target.strip() not in systems:
            r.problems.append(
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
                r.problems.append(
                    (
                        ("connector", index, *ref_path),
                        f"wallet entry ({cmap}, {ref}) does not exist",
                    )
                )


def _check_trigger_points(
    data: Mapping[str, Any],
    parsed: list[tuple[int, TriggerPointSpec]],
    connectors: Mapping[str, bool],
    known_modes: Mapping[str, str] | None,
    declared: list[ConnectorSpec],
) -> Found:
    """Status criteria the state machines know, and connectors that exist (in the file
    or the database) in ``BUSINESS_EVENT`` mode; connectors on the raw tables, so an item
    with a bad value elsewhere still gets them reported."""
    problems: Found = []
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
) -> Found:
    """Task types that exist (on the raw tables, so an item with a bad value elsewhere
    still gets it reported), and no two ranges of one task type that overlap (reported at
    the later one)."""
    problems: Found = []
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
    lines: SourceLines,
) -> Found:
    """``[[rule]]`` tables and the ``[routing]`` table (defaults, publish): the whole
    routing draft. Checked as publishing would check it when the file publishes."""
    raw_rules, routing = data.get("rule"), data.get("routing")
    if raw_rules is None and routing is None:
        return []
    problems: Found = []
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


def _with_absolute_bundle(spec: ConnectorSpec, base_dir: Path | None) -> ConnectorSpec:
    bundle = str(resolve_path(str(spec.tls.ca_bundle), base_dir).resolve())
    return replace(spec, tls=replace(spec.tls, ca_bundle=bundle))
