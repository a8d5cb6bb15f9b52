"""Fixtures the functional tests share (the root ``tests/conftest.py`` has the gateway's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.common.outbox import Hub, hub_on


@pytest.fixture
def hub(fresh_database_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A gateway of its own (routing is published), its CLI, and a receiver.

    Modules whose hub needs more (a pinned partner, a stand-in's URL) define their own."""
    with hub_on(fresh_database_url, tmp_path) as hub:
        yield hub
