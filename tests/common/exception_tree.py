"""The exception classes a package defines, found by importing each of its modules: what
the tests of a package's one exception root walk."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType


def defined_exceptions(package: ModuleType) -> list[type[BaseException]]:
    """Every exception class defined (not merely imported) in a module of ``package``."""
    found = []
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found
