"""docs/architecture.md draws the gateway's layers: it must name every layer the import
contract in setup.cfg enforces, and no gateway package or module that is not one."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layers() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    text = config["importlinter:contract:gateway-layers"]["layers"]
    return {name.strip() for line in text.splitlines() for name in line.split("|") if name.strip()}


def test_the_architecture_page_names_every_layer_of_the_contract() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    drawn = set(re.findall(r"\bgateway\.[a-z_]+\b", page.split("## A createOrders call")[0]))
    layers = _layers()
    assert layers - drawn == set(), "layers the picture leaves out"
    assert drawn - layers == set(), "names in the picture that are not layers"
