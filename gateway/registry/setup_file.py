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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.connector_errors import WalletError
from connectors.secret_box import Credential, SecretBox
from gateway.errors import GatewayError, NotFoundError
from gateway.persistence.audit_trail import Change
from gateway.persistence.models import User
from gateway.registry.bindings import set_binding
from gateway.registry.rule_store import RuleStore
from gateway.registry.setup_document import (
    SetupDocument,
    SetupInvalid,
    UserBinding,
    WalletRef,
    resolve_path,
)
from gateway.registry.store import Registry
from gateway.registry.trigger_store import TriggerStore
from gateway.registry.wallet_store import Wallet

__all__ = ["apply_setup", "export_setup"]


def _bind_user(session: Session, actor: str, binding: UserBinding) -> Change | None:
    user = session.scalar(select(User).where(User.username == binding.name))
    if user is None:
        raise NotFoundError(
            "USER_UNKNOWN",
            f"there is no user {binding.name!r}: add it first with 'omgw user add "
            f"{binding.name} --role …' (passwords never go in a setup file)",
        )
    return set_binding(session, actor, user, binding.systems, binding.all_systems)


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
        password = resolve_path(str(ref.password_file), base_dir).read_text().rstrip("\r\n")
    cert = key = None
    if ref.client_certificate_file and ref.client_key_file:
        cert = resolve_path(ref.client_certificate_file, base_dir).read_text()
        key = resolve_path(ref.client_key_file, base_dir).read_text()
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
