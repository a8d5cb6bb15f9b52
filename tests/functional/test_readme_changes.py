"""The README's walkthrough "Changing orders after release", run as written against
``omgw serve --simulate`` on a home set up as ``make run`` sets one up (the sample setup,
the simulated warehouse WMS01 beside the gateway): each snippet runs to its end, prints
what the README says it prints, and the warehouse's state shows the requests it got."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.common.processes import free_ports, started

ROOT = Path(__file__).resolve().parents[2]


def _blocks(readme: str, heading: str) -> list[str]:
    """The ``python`` code blocks of the README section ``heading``."""
    section = readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _omgw(home: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_walkthrough_of_changes_after_release_runs_against_make_run(tmp_path):
    home = tmp_path / "home"
    _omgw(home, "init", "--sample")  # as make run does
    _omgw(home, "apply", "-f", str(ROOT / "gateway" / "setup" / "sample.toml"))
    simulator, subscriber = free_ports(2)
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "1",
             "--simulate", "--simulator-port", str(simulator),
             "--subscriber-port", str(subscriber)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(OMGW_HOME=str(home), OMGW_BACKGROUND_INTERVAL_SECONDS="0.2")
    readme = (ROOT / "README.md").read_text()
    calling = _blocks(readme, "Calling it")[0]  # makes session, base, imports and info
    walkthrough = _blocks(readme, "Changing orders after release")
    assert len(walkthrough) == 5, "helpers, cancel, update, returns, the three answers"
    printed = io.StringIO()
    with started(serve, env) as server:
        namespace: dict[str, Any] = {}
        with contextlib.redirect_stdout(printed):
            for n, block in enumerate([calling, *walkthrough]):
                code = (
                    block.replace("http://127.0.0.1:8080/", server.url + "/")
                    .replace("127.0.0.1:8081", f"127.0.0.1:{simulator}")
                    .replace('".omgw/demo-user.txt"', repr(str(home / "demo-user.txt")))
                )
                exec(compile(code, f"README.md block {n}", "exec"), namespace)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{simulator}/simulator/state", timeout=10
        ) as answer:
            state = json.loads(answer.read())
    lines = printed.getvalue().splitlines()

    # cancel one line of an order shipped in part: the order closes, the line CANCELED
    assert "('PARTIAL_CLOSE', {'1': 'CLOSED', '2': 'SCHEDULED'})" in lines
    assert "CHANGE ('PARTIAL_CLOSE', {'1': 'CLOSED', '2': 'CANCEL_PENDING'})" in lines
    assert "('CLOSED', {'1': 'CLOSED', '2': 'CANCELED'})" in lines
    # change a quantity in flight: pending at the old quantity, then shipped at the new
    assert "CHANGE_PENDING 5" in lines
    assert "CLOSED 3" in lines
    # the Cancel and the Update each name the request they change, and were made
    changes = {
        r["operation"]: r
        for r in state["requests"]
        if r["operation"] in ("Cancel", "Update") and r["change"]["status"] == "SUCCESS"
    }
    assert set(changes) == {"Cancel", "Update"}
    for r in changes.values():
        assert f"{r['original_request_id']} SUCCESS" in lines
        (original,) = (o for o in state["requests"] if o["request_id"] == r["original_request_id"])
        assert (original["operation"], original["header_id"]) == ("Create", r["header_id"])

    # two returns of 2 of 5 taken, received and credited; the third refused
    (refused,) = [ln for ln in lines if ln.startswith("OMGW-")]
    assert refused.startswith("OMGW-RETURN_EXCEEDS_SHIPPED ")
    assert "only 1 can be: 5 shipped" in refused and "4 returned or being returned" in refused
    assert len([ln for ln in lines if ln.endswith(" ('CLOSED', {'1': 'CLOSED'})")]) == 2
    assert len(state["returned_lines"]) == 2
    credits = [
        ln["billing_number"]
        for r in state["requests"]
        if r["task_type"] == "Invoice"
        for ln in r["lines"]
        if ln["fulfill_line_id"] in state["returned_lines"]
    ]
    assert len(credits) == 2 and all(c.startswith("CM-") for c in credits), credits

    # the warehouse's refusals, as GetOrderDetails shows them on the line
    assert any(
        ln.startswith(
            "AWAIT_SHIP WMS01 refused the cancel (CHANGE_REJECTED: WMS01 refuses every change"
        )
        for ln in lines
    ), lines
    assert any(
        re.match(
            r"AWAIT_SHIP WMS01 refused the cancel \(ALREADY_SHIPPED: fulfillment line\(s\) \d+ "
            r"shipped before the change arrived\)$",
            ln,
        )
        for ln in lines
    ), lines
    counters = state["counters"]
    assert (
        counters["changes_accepted"],
        counters["changes_rejected"],
        counters["changes_already_shipped"],
        counters["returns"],
    ) == (2, 1, 1, 2)
