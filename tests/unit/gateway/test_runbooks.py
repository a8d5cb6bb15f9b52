"""Every alert has its runbook, and every command a runbook names is a real command with
real options: a runbook is read in a hurry, and a command that does not exist costs the
reader the time they do not have."""

from __future__ import annotations

import json
import re
import shlex
from datetime import timedelta
from pathlib import Path

import click
import pytest
from prometheus_client import REGISTRY

from gateway.cli import cli
from gateway.observe.findings import findings
from gateway.observe.metrics import (
    ALERTS,
    BREAKER_CHANGES,
    DELIVERIES,
    INBOUND_CALLS,
    INBOUND_FAULTS,
    INBOUND_SECONDS,
    StateCollector,
)
from gateway.observe.ops_snapshot import ConnectorView, OpsSnapshot, Thresholds
from gateway.persistence.models import utcnow

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = ROOT / "docs" / "runbooks"
DOCS = [*sorted(RUNBOOKS.glob("*.md")), ROOT / "README.md"]


def every_finding() -> list[str]:
    now = utcnow()
    snap = OpsSnapshot(
        now,
        Thresholds(),
        {
            "WMS": ConnectorView(
                "WMS",
                "ASYNC_SERVICE",
                parked=1,
                breaker="OPEN",
                unacknowledged=1,
                no_response=1,
                late_events=1,
            ),
            "EV": ConnectorView("EV", "BUSINESS_EVENT", parked=1),
        },
        routing_errors=1,
        stuck_before_routing=1,
        staged_order_errors=1,
        alert_emails_parked=1,
        workers={"w": now - timedelta(days=1)},
    )
    return sorted({f.runbook for f in findings(snap)})


def test_every_alert_has_a_runbook_listed_in_the_index():
    names = every_finding()
    assert len(names) == 9
    index = (RUNBOOKS / "README.md").read_text()
    for name in names:
        assert (RUNBOOKS / f"{name}.md").is_file(), name
        assert f"({name}.md)" in index, name


def commands(path: Path) -> list[list[str]]:
    """The ``omgw …`` command lines of the document's shell blocks."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(), re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("omgw ") and "…" not in line and "|" not in line:
                found.append(shlex.split(line.replace("<", "'<").replace(">", ">'"))[1:])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_each_command_a_runbook_names_exists_with_its_options(doc: Path):
    for args in commands(doc):
        command: click.Command = cli
        ctx = click.Context(cli)
        words = [a for a in args if not a.startswith("-")]
        for word in words:
            if not isinstance(command, click.Group):
                break
            sub = command.get_command(ctx, word)
            assert sub is not None, f"{doc.name}: omgw {' '.join(args)}: no command {word!r}"
            command = sub
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for option in (a.split("=", 1)[0] for a in args if a.startswith("--")):
            assert option in known, f"{doc.name}: omgw {' '.join(args)}: no option {option}"


def test_the_grafana_dashboard_asks_only_for_series_omgw_exports():
    dashboard = json.loads((ROOT / "docs" / "grafana" / "omgw-dashboard.json").read_text())
    now = utcnow()
    snap = OpsSnapshot(now, Thresholds(), {"WMS": ConnectorView("WMS", "ASYNC_SERVICE")})
    snap.jobs = {"monitor": (now, None)}
    snap.orders_by_status, snap.lines_by_status = {"OPEN": 1}, {"AWAIT_SHIP": 1}
    exported = {
        sample.name
        for family in [*StateCollector(lambda: snap).collect(), *REGISTRY.collect()]
        for sample in family.samples
    }
    # counters with no sample yet in this process still name their series
    exported |= {f"{m._name}_total" for m in (ALERTS, BREAKER_CHANGES, DELIVERIES)}
    exported |= {f"{m._name}_total" for m in (INBOUND_CALLS, INBOUND_FAULTS)}
    exported |= {f"{INBOUND_SECONDS._name}_{s}" for s in ("bucket", "count", "sum")}
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bomgw_[a-z_]+", target["expr"])
    }
    assert len(dashboard["panels"]) >= 12
    assert asked and asked <= exported, asked - exported
