"""Every exception class routing defines derives from the one root."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import routing
from routing.routing_errors import ConditionError, RoutingError, RuleSetInvalid


def defined_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(routing.__path__, "routing."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def test_every_routing_exception_derives_from_routing_error():
    found = defined_exceptions()
    assert RoutingError in found  # the walk reached routing.routing_errors
    assert [c.__qualname__ for c in found if not issubclass(c, RoutingError)] == []


def test_the_routing_errors_are_still_value_errors():
    assert issubclass(ConditionError, ValueError)
    assert issubclass(RuleSetInvalid, ValueError)
