"""The command lines a runbook names, for tests that run exactly what an operator reads."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

__all__ = ["ORDER_EXCEPTIONS", "commands_of", "line_of", "runbook_line"]

ORDER_EXCEPTIONS = Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "order-exceptions.md"


@functools.cache
def commands_of(runbook: Path) -> frozenset[str]:
    """The ``omgw …`` lines of the runbook's shell blocks, comments cut off."""
    text = runbook.read_text()
    return frozenset(
        line.split("#", 1)[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", text, re.S)
        for line in block.splitlines()
        if line.startswith("omgw ")
    )


def runbook_line(command: str, **values: str) -> list[str]:
    """The arguments of ``command``, a line the order-exceptions runbook names, with its
    ``<place holders>`` filled from ``values`` (``order_number=`` for ``<order number>``)."""
    return line_of(ORDER_EXCEPTIONS, command, values)


def line_of(runbook: Path, command: str, values: dict[str, str]) -> list[str]:
    """The arguments of ``command``, a line ``runbook`` names, its place holders filled."""
    assert command in commands_of(runbook), f"{runbook.name} does not name {command!r}"

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1).replace(" ", "_")]

    return shlex.split(re.sub(r"<([^>]+)>", fill, command))[1:]
