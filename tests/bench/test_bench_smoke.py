"""Every benchmark runs for a moment, so none can rot (CI does not run them in full).

Each section of ``bench/run.py`` runs once with ``--quick`` (tiny loads, one round) in a
subprocess, as ``make bench`` runs it, and must write figures whose values and baselines
were measured (positive), with the ratio that is their quotient.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_pg

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "inbound": {"inbound_pfr_1_vs_spyne", "inbound_pfr_50_vs_spyne"},
    "orders": {
        "inbound_create_1_vs_spyne",
        "inbound_create_50_vs_spyne",
        "inbound_details_1_vs_spyne",
    },
    "inbound_pg": {"pg_inbound_pfr_1_vs_spyne", "pg_inbound_pfr_50_vs_spyne"},
    "orders_pg": {"pg_inbound_create_1_vs_spyne", "pg_inbound_details_1_vs_spyne"},
    "dispatch": {"dispatch_1_vs_naive_zeep", "dispatch_50_vs_naive_zeep"},
    "routing": {"routing_10_rules_vs_naive", "routing_1000_rules_vs_naive"},
    "e2e": {"e2e_sync_vs_spyne_create", "e2e_async_vs_spyne_create"},
    "memory": {"memory_gateway", "memory_worker"},
}


@pytest.mark.parametrize("section", list(SECTIONS))
def test_each_benchmark_runs(section: str, tmp_path: Path) -> None:
    if section.endswith("_pg"):
        require_pg()
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--rounds", "1", "--only", section,
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    figures = {f["key"]: f for f in report["figures"]}
    assert SECTIONS[section] <= set(figures), sorted(figures)
    for f in figures.values():
        ours, base = f["value"], f["baseline"]
        assert ours["median"] > 0 and base["median"] > 0, f
        assert f["ratio"] == pytest.approx(ours["median"] / base["median"], rel=0.01)
    assert set(report["targets"]) == {
        "inbound_pfr_1_vs_spyne",
        "inbound_vs_spyne_50",
        "inbound_vs_node_soap_50",
        "inbound_create_1_vs_spyne",
        "inbound_pfr_1_p99_ms",
        "e2e_sync_vs_spyne_create",
        "dispatch_vs_naive_zeep_50",
        "memory_100k_over_10k",
    }
    # the table was printed, a row per figure
    assert "benchmark" in run.stdout
    for f in figures.values():
        assert f["what"] in run.stdout


def test_the_observe_benchmark_runs() -> None:
    """bench/observe.py (what counting and logging add to a call) prints both levels."""
    run = subprocess.run(
        [sys.executable, "bench/observe.py", "--calls", "500"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("log level")]
    assert [row.split()[2] for row in rows] == ["WARNING", "INFO"]
    for row in rows:
        observed, base = (float(x) for x in re.findall(r"([\d.]+) us", row)[:2])
        assert observed > base > 0, row
