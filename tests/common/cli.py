"""Running ``omgw`` for a test: as a process of its own or in this one, and the sample
setup the commands are tried with."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "gateway" / "setup" / "sample.toml"


def omgw(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def omgw_here(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """As :func:`omgw`, in this process (click's runner): for what the commands print, log
    and store, where the process itself is not what is tested. Logging is set up as
    ``main()`` sets it up, to stderr; an exception the command lets out is on stderr as
    the traceback Python would print."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    alembic = logging.getLogger("alembic")
    alembic_level = alembic.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    alembic.setLevel(logging.WARNING)
    try:
        result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        alembic.setLevel(alembic_level)
    stderr = result.stderr + logs.getvalue()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["omgw", *args], result.exit_code, result.stdout, stderr)


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if needle in ln)


def help_options(*command: str) -> set[str]:
    """The options ``omgw COMMAND --help`` lists (it must exit 0)."""
    shown = CliRunner().invoke(cli, [*command, "--help"])
    assert shown.exit_code == 0, shown.output
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", shown.output))
