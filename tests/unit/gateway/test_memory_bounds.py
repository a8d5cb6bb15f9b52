"""What keeps a long-running gateway or outbox worker from growing (bench/run.py memory)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.connector_specs import RetryPolicy
from connectors.verdicts import DELIVERED, SendResult
from gateway.outbox.delivery import Claimed, Sent
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import utcnow
from gateway.runtime import Runtime, limit_malloc_retention
from gateway.startup import prepare
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[3]


def test_scrypt_in_many_threads_leaves_nothing_resident() -> None:
    """Each thread that checked a password kept scrypt's 16 MiB work area in its malloc
    arena (glibc's dynamic mmap threshold); with the threshold fixed, none is kept."""
    script = textwrap.dedent(
        """
        import sys, threading
        from gateway.runtime import limit_malloc_retention
        from gateway.security.passwords import hash_password, verify_password

        def rss_mib():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024

        if not limit_malloc_retention():
            print("unsupported")
            sys.exit(0)
        stored = hash_password("pw")
        verify_password("pw", stored)  # the first free is what raised the threshold
        before = rss_mib()
        threads = [threading.Thread(target=verify_password, args=("pw", stored))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(rss_mib() - before)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    if out == "unsupported":
        pytest.skip("not glibc: malloc is left alone")
    assert float(out) < 8, f"{out} MiB stayed resident after 4 password checks in 4 threads"


def test_limit_malloc_retention_can_be_called_again() -> None:
    first = limit_malloc_retention()
    assert limit_malloc_retention() == first


def test_the_workers_lease_check_is_one_compiled_statement_for_every_batch_size(
    tmp_path: Path,
) -> None:
    """The lease check used a CASE with one WHEN per row: every new batch size was a new
    statement in SQLAlchemy's compiled cache (~240 kB each, up to 128 sizes)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'omgw.db'}")
    prepare(settings)
    runtime = Runtime(settings)
    try:
        worker = OutboxWorker(runtime)
        item = Claimed(
            id=0,
            message_id="urn:uuid:x",
            payload=b"",
            soap_action="process",
            invocation_mode="ASYNC_SERVICE",
            attempt=1,
            connector_id=None,
            connector_name="none",
            endpoint=None,
            credential_ref=None,
            retry=RetryPolicy(),
            request_id=None,
        )
        cache = runtime.engine._compiled_cache
        assert cache is not None
        sizes = []
        for n in (1, 2, 3, 17, 64, 127, 128):
            batch = [
                Sent(replace(item, id=i + 1), SendResult(DELIVERED), utcnow(), 0) for i in range(n)
            ]
            with runtime.sessions() as s, s.begin():
                assert worker.recorder.owners(s, batch) == {i + 1: 1 for i in range(n)}  # no rows
            sizes.append(len(cache))
        assert sizes[-1] == sizes[0], f"compiled cache grew with the batch size: {sizes}"
    finally:
        runtime.close()
