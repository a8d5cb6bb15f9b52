"""The command line loads each command when it is used: ``omgw --help`` lists them all
from :data:`gateway.cli.COMMANDS` without importing any, and the list says what the
commands themselves say."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from gateway.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "alembic", "spyne", "lxml", "zeep", "cryptography", "gunicorn")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_summary_is_the_commands_own(name: str) -> None:
    module, attribute, summary = COMMANDS[name]
    command = getattr(importlib.import_module(f"gateway.cli.{module}"), attribute)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == summary


def test_every_command_of_the_group_is_listed() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    assert cli.get_command(ctx, "no-such-command") is None


def test_help_imports_no_command_and_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from gateway.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert "Commands:" in run.stdout
    assert all(f"  {name} " in run.stdout for name in COMMANDS)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert not {m for m in loaded if m.startswith("gateway.cli.")}
