"""Every exception class the connectors define derives from the one root."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import connectors
from connectors.connector_errors import ConnectorError


def defined_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(connectors.__path__, "connectors."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def test_every_connector_exception_derives_from_connector_error():
    found = defined_exceptions()
    assert ConnectorError in found  # the walk reached connectors.connector_errors
    assert [c.__qualname__ for c in found if not issubclass(c, ConnectorError)] == []


def test_the_errors_raised_as_value_errors_still_are():
    from connectors.connector_errors import AnswerInvalidError, PayloadInvalidError, SpecInvalid

    assert all(
        issubclass(c, ValueError) for c in (AnswerInvalidError, PayloadInvalidError, SpecInvalid)
    )
