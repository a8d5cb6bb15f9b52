"""The contract tests talk to a real gateway over HTTP with raw SOAP requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Gateway, make_settings, serving


@pytest.fixture(scope="module")
def sqlite_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway on SQLite for tests about the wire, not the database."""
    home = tmp_path_factory.mktemp("contract")
    with serving(make_settings(home, f"sqlite:///{home / 'omgw.db'}")) as running:
        yield running
