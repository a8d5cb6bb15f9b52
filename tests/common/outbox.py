"""A gateway of its own for the outbox's commands: its ``omgw`` command line and a
stand-in receiver, with helpers that read the outbox and its audit entries and run a
command that must fail."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.persistence.models import AuditEntry, OutboxMessage
from gateway.registry.rule_store import RuleStore
from routing.rule_set import Rule
from tests.common.receiver import Receiver, receiving
from tests.conftest import Admin, Gateway, make_settings, serving

__all__ = ["Hub", "fails", "hub_on", "outbox", "outbox_audit", "publish"]


@dataclass
class Hub:
    gw: Gateway
    admin: Admin
    rx: Receiver


@contextmanager
def hub_on(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A gateway serving on ``database_url`` (its home under ``tmp_path``), the command
    line on the same database and wallet key, and a receiver."""
    settings = make_settings(tmp_path / "home", database_url)
    with serving(settings) as gw, receiving() as rx:
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
        env.update(gw.runtime.settings.to_env())  # the same database and wallet key
        yield Hub(gw, Admin(env, settings.home), rx)


def publish(gw: Gateway) -> None:
    """Routing for Shipment requests: item AS1 goes to WMSANY, every other to WMS01."""
    with gw.runtime.sessions() as s, s.begin():
        store = RuleStore(s, "tests")
        store.put_rule(Rule("AS1", 'Item = "AS1"', "WMSANY_Fulfillment"))
        store.set_default("Shipment", "WMS01_Fulfillment")
        assert store.publish() is not None


def outbox(gw: Gateway, id_: int) -> OutboxMessage:
    """The outbox row of this id, as it is now."""
    with gw.runtime.sessions() as s:
        row = s.get(OutboxMessage, id_)
        assert row is not None
        return row


def outbox_audit(gw: Gateway) -> list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    """The audit entries about outbox rows, oldest first: (actor, action, message id,
    before, after)."""
    with gw.runtime.sessions() as s:
        return [
            (e.actor, e.action, e.entity_key, json.loads(e.before_json or "{}"),
             json.loads(e.after_json or "{}"))
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "outbox").order_by(AuditEntry.id)
            )
        ]  # fmt: skip


def fails(admin: Admin, code: int, *args: str) -> str:
    """Run ``omgw args``, which must exit with ``code`` and no traceback; its output."""
    result = admin(*args)
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result.output
