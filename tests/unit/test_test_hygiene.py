"""The tests' own rules, checked like the code's."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.persistence.models import Base
from tests.common.state import COVERED, NOT_WRITTEN_BY_A_REFUSAL


def test_the_state_snapshot_places_every_table():
    """Every table is read by the snapshot a refusal is checked against, or named as one a
    refusal may write or cannot reach, with the reason."""
    tables = set(Base.metadata.tables)
    assert COVERED.isdisjoint(NOT_WRITTEN_BY_A_REFUSAL)
    assert tables - COVERED - set(NOT_WRITTEN_BY_A_REFUSAL) == set()
    assert (COVERED | set(NOT_WRITTEN_BY_A_REFUSAL)) - tables == set()


TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(path: Path) -> set[str]:
    """The test modules (``test_*``) that the module at ``path`` imports, by dotted name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith("test_")}


def test_no_test_module_imports_another():
    """What tests share lives in ``tests/common`` or a conftest, where it is found and
    kept; a test module imported by another runs its module-level code twice and ties
    the two together."""
    found = {
        (path.relative_to(TESTS.parent).as_posix(), name)
        for path in TESTS.rglob("*.py")
        for name in imported_test_modules(path)
    }
    assert found == set()


def test_no_test_imports_a_private_name():
    """Tests go through public names, so a module's insides can change without a test
    reaching in; what a test needs from inside is made public, or moved to tests/common."""
    private = {
        (path.relative_to(TESTS.parent).as_posix(), f"{node.module}.{alias.name}")
        for path in TESTS.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    }
    assert private == set()
