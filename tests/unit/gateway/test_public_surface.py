"""The README lists exactly the fault codes the code raises; __all__ lists are sorted."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import connectors
import gateway
import routing

ROOT = Path(__file__).resolve().parents[3]


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "gateway").rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'(?:Error|LineError|__init__)\(\s*"([A-Z][A-Z_]+)"', text))
        codes |= set(re.findall(r'"Client\.\w+": "([A-Z_]+)"', text))
    return codes


def test_readme_documents_every_fault_code():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `OMGW-([A-Z_]+)` \|", readme, flags=re.M))
    assert documented == raised_codes()


def modules():
    for package in (gateway, connectors, routing):
        yield package.__name__
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                yield info.name


def _is_package(name: str) -> bool:
    return hasattr(importlib.import_module(name), "__path__")


def test_every_module_but_a_package_says_what_it_exports():
    # a package's __init__ says what the package holds; its modules say what they export
    missing = [
        n
        for n in modules()
        if not _is_package(n) and not hasattr(importlib.import_module(n), "__all__")
    ]
    assert missing == []


@pytest.mark.parametrize(
    "name", [n for n in modules() if hasattr(importlib.import_module(n), "__all__")]
)
def test_all_is_sorted_and_resolves(name):
    module = importlib.import_module(name)
    exported = module.__all__

    # ruff's isort-style order (RUF022): CONSTANTS, then Classes, then functions.
    def key(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    assert list(exported) == sorted(exported, key=key)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"


def test_settings_repr_shows_no_secret(tmp_path):
    from gateway.config import Settings

    settings = Settings(
        home=tmp_path,
        database_url="postgresql+psycopg://u:DbSecret-1@h/db",
        wallet_key_b64="S2V5U2VjcmV0LTE=",
    )
    assert "DbSecret-1" not in repr(settings)
    assert "S2V5U2VjcmV0LTE=" not in repr(settings)
