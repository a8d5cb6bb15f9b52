"""Every module of the console that declares routes is served: a new one left out of
``_AREAS`` would answer 404 for all of its pages without a word."""

from __future__ import annotations

import pkgutil

import gateway.manage
from gateway.manage import console_app
from gateway.manage.web_routes import ROUTES


def test_every_module_with_routes_is_an_area_the_console_imports() -> None:
    declaring = {r.handler.__module__.rsplit(".", 1)[1] for r in ROUTES}
    assert declaring == set(console_app._AREAS)
    modules = {m.name for m in pkgutil.iter_modules(gateway.manage.__path__)}
    assert {m for m in modules if m.startswith(("api_", "page_"))} <= declaring


def test_no_two_routes_answer_the_same_method_and_path() -> None:
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))
