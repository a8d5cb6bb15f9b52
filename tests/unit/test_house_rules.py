"""The size and naming rules of the source tree, held by a test so they stay true.

A module's file name says which room it is: no two modules of ``gateway``,
``connectors``, ``routing`` or ``simulators`` share one (``__init__.py`` and the
migrations aside). A module a reader takes in at once stays under ``MODULE_LINES``, and a
class under ``CLASS_LINES``; one that must be longer says why in its docstring, in a
sentence starting ``Longer than the house rule:``. A name is exported by the module that
defines it, not handed on by another (a package's ``__init__`` aside).
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "connectors", "routing", "simulators")
MODULE_LINES = 500
CLASS_LINES = 250
REASON = "Longer than the house rule:"


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def _reason_given(tree: ast.Module | ast.ClassDef) -> bool:
    return REASON in (ast.get_docstring(tree) or "")


def test_no_two_modules_share_a_file_name() -> None:
    names = Counter(p.name for p in _modules() if p.name != "__init__.py")
    assert {name for name, count in names.items() if count > 1} == set()


def test_no_module_is_longer_than_the_rule_without_saying_why() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
        and not _reason_given(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert long == {}


def test_no_class_is_longer_than_the_rule_without_saying_why() -> None:
    long = {
        f"{path.relative_to(ROOT)}:{node.name}": length
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > CLASS_LINES
        and not _reason_given(node)
    }
    assert long == {}


def test_a_name_is_exported_only_by_the_module_that_defines_it() -> None:
    """A module's ``__all__`` lists its own names; only a package's ``__init__`` hands on
    names of its modules. A name with two homes leaves a reader guessing which is real."""
    handed_on: dict[str, list[str]] = {}
    for path in _modules():
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        exported: list[str] = next(
            (
                ast.literal_eval(node.value)
                for node in tree.body
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            ),
            [],
        )
        if both := sorted(imported & set(exported)):
            handed_on[str(path.relative_to(ROOT))] = both
    assert handed_on == {}
