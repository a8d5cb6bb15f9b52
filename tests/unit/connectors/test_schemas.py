"""Schemas compiled from many threads at once: libxml2 is not safe for that (errors,
crashes), and the outbox worker's first sends all arrive together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Run in a fresh process each time: libxml2's set-up happens once per process.
_RACE = """
import threading
from connectors.push_payload_reader import results_schema
from connectors.outbound import answer_schema
from simulators.request_reading import request_schema
barrier = threading.Barrier(9)
errors = []
def compile_(load):
    barrier.wait()
    try:
        load()
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=compile_, args=(f,))
           for f in (answer_schema, results_schema, request_schema) * 3]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors)
assert not errors
"""


def test_schemas_compile_from_many_threads_at_once() -> None:
    for _ in range(5):
        run = subprocess.run(
            [sys.executable, "-c", _RACE], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, (run.returncode, run.stdout[-500:], run.stderr[-1500:])
