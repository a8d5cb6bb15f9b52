"""Every third-party module ``gateway``, ``connectors``, ``routing`` and ``simulators``
import comes from a distribution that ``setup.cfg`` declares in ``install_requires``:
``pip install .`` must give a working omgw, not one that works only while another package
happens to pull the module in (as zeep pulls in ``requests`` and ``urllib3``)."""

from __future__ import annotations

import ast
import configparser
import functools
import re
import sys
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "connectors", "routing", "simulators")


def _normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The distributions of ``install_requires``, without versions, extras or markers."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    names = set()
    for line in config["options"]["install_requires"].splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            assert match, f"cannot read a name in install_requires: {line!r}"
            names.add(_normalise(match.group()))
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST) -> Iterator[str]:
    """The absolute module names imported under ``node``, leaving out what is imported
    only for type checking (``if TYPE_CHECKING:``)."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: list[ast.AST] = list(node.orelse)
    else:
        children = list(ast.iter_child_nodes(node))
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        yield node.module
    for child in children:
        yield from _imported(child)


@functools.cache
def _third_party_imports() -> dict[str, list[str]]:
    """Top-level third-party module -> the source files that import it."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for name in _imported(tree):
                top = name.partition(".")[0]
                if top in sys.stdlib_module_names or top in PACKAGES:
                    continue
                found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_walk_finds_the_imports_it_must():
    found = _third_party_imports()
    assert {"spyne", "sqlalchemy", "zeep", "requests", "urllib3"} <= found.keys()
    assert "_typeshed" not in found  # imported under TYPE_CHECKING only
    assert "os" not in found and "gateway" not in found


def test_every_third_party_import_is_declared_in_install_requires():
    declared = _declared()
    distributions = packages_distributions()
    missing = []
    for module, files in sorted(_third_party_imports().items()):
        provided_by = {_normalise(d) for d in distributions.get(module, [])}
        if not provided_by:
            missing.append(f"{module} (imported by {files[0]}) is not installed here")
        elif not provided_by & declared:
            missing.append(
                f"{module} (imported by {files[0]}) comes from {' or '.join(sorted(provided_by))}"
                ", which install_requires does not declare"
            )
    assert not missing, "\n".join(missing)
