"""``/healthz`` and ``/readyz``: is the process up, and can it do its work.

``/healthz`` answers from the process alone (for a supervisor restarting a hung
process). ``/readyz`` checks what a call needs (for a load balancer taking an instance
out of rotation): the database answers, its schema is the newest migration, the wallet
key opens this database's secrets, and an outbox worker was seen lately (a gateway
whose answers are accepted but never delivered is not ready).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import timedelta

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from gateway.persistence.db import alembic_config
from gateway.persistence.models import WorkerBeat, as_utc, utcnow
from gateway.registry.wallet_store import key_problem
from gateway.runtime import Runtime
from gateway.security.log_redaction import first_line

__all__ = ["Check", "readiness", "readiness_answer"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@functools.cache
def _scripts(url: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(url))


def _schema(url: str, current: str | None) -> Check:
    """Whether the schema is what this code needs: the newest migration it knows, or
    one it does not know (another host, upgraded first, migrated ahead of it: during a
    rolling upgrade the old instances keep serving)."""
    scripts = _scripts(url)
    head = scripts.get_current_head()
    if current == head:
        return Check("migrations", True, f"at {current}")
    if current is not None and _unknown(scripts, current):
        return Check("migrations", True, f"at {current}, newer than this code's {head}")
    return Check(
        "migrations", False, f"at {current}, this code needs {head}: run 'omgw init' (it migrates)"
    )


def _unknown(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is None
    except Exception:  # alembic: "Can't locate revision"
        return True


def readiness(runtime: Runtime) -> list[Check]:
    """Every check, in order; a check that cannot run says why."""
    checks: list[Check] = []
    try:
        with runtime.read_sessions() as s:
            s.execute(text("SELECT 1"))
            checks.append(Check("database", True, "answers"))
            current = MigrationContext.configure(s.connection()).get_current_revision()
            checks.append(_schema(runtime.settings.database_url, current))
            try:
                problem = key_problem(s, runtime.secret_box)
            except Exception as exc:
                problem = f"the wallet key does not load: {first_line(exc)}"
            checks.append(Check("wallet", problem is None, problem or "the key opens"))
            seen = as_utc(s.scalar(select(func.max(WorkerBeat.seen_at))))
    except Exception as exc:
        checks.append(Check("database", False, f"unreachable: {first_line(exc)}"))
        return checks
    limit = runtime.settings.worker_silent_seconds
    if seen is None:
        checks.append(Check("worker", False, "no outbox worker has been seen"))
    else:
        age = (utcnow() - seen) / timedelta(seconds=1)
        checks.append(
            Check("worker", age <= limit, f"last seen {age:.0f} s ago (limit {limit:.0f} s)")
        )
    return checks


def readiness_answer(runtime: Runtime) -> tuple[str, bytes]:
    """The HTTP status and JSON body of ``/readyz``."""
    checks = readiness(runtime)
    ready = all(c.ok for c in checks)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
    }
    status = "200 OK" if ready else "503 Service Unavailable"
    return status, (json.dumps(body, indent=1) + "\n").encode()
