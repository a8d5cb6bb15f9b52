"""The size and naming rules of the source tree, held by a test so they stay true.

A module's file name says which room it is: no two modules of ``gateway``,
``connectors``, ``routing`` or ``simulators`` share one (``__init__.py`` and the
migrations aside). A module a reader takes in at once stays under ``MODULE_LINES``, and a
class under ``CLASS_LINES``; one that must be longer says why in its docstring, in a
sentence starting ``Longer than the house rule:``.
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
