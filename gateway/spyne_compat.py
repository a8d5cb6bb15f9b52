"""What spyne needs to import on Python 3.12 and 3.13; nothing on 3.11.

spyne 2.14.0, the newest release (``spyne>=2.14`` in ``setup.cfg``; nothing newer was
out to check), does not import on 3.12 or later, for two reasons this module answers:

* **Its vendored six** (``spyne.util.six``, six 1.14) puts a meta path importer on
  :data:`sys.meta_path` that has only the PEP 302 ``find_module``/``load_module``.
  Python 3.12 no longer falls back to them, so ``spyne.util.six.moves`` (imported by
  ``spyne.util.oset`` and others as ``spyne`` loads) is not found. :func:`install` puts
  a finder on :data:`sys.meta_path` that answers ``find_spec`` for the names that
  importer knows, with a loader whose ``create_module`` hands back the module the
  importer itself resolves and whose ``exec_module`` does nothing: what six 1.16 added
  to its importer. It asks the importer lazily, when a name is looked up, so it works
  whether it is installed before or after spyne. Unlike six 1.16 it gives a standard
  module it hands back (``collections.abc`` for ``moves.collections_abc``) its own
  ``__spec__`` back, which the import system overwrites with the alias's.
* **cgi** (``spyne.server.wsgi``, ``spyne.protocol.soap.soap11``) is gone from the
  standard library in 3.13. The ``legacy-cgi`` distribution restores the module
  (``legacy-cgi; python_version>="3.13"`` in ``setup.cfg``); :func:`install` only
  checks that it is there, to say so plainly instead of failing inside spyne.

``gateway/__init__.py`` calls :func:`install` before anything else, so every import of
spyne through omgw (every module that imports spyne is in ``gateway``; ``connectors``
and ``routing`` never import it, see the import-linter contracts) finds it installed.
Code outside the package that imports spyne itself (``bench/bare_spyne.py``) imports
``gateway`` first. On 3.11 the importer's old methods still work (with an
``ImportWarning``), cgi is in the standard library, and :func:`install` does nothing.

Remove this module when spyne publishes a release that imports on 3.12 and 3.13.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__all__ = ["install"]

_SIX = "spyne.util.six"


class _SixMovesLoader(importlib.abc.Loader):
    """Loads one ``spyne.util.six.moves`` name through six's own importer."""

    def __init__(self, importer: Any) -> None:
        self._importer = importer
        self._own_spec: ModuleSpec | None = None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        # six's load_module resolves the moved module and puts it in sys.modules.
        module: ModuleType = self._importer.load_module(spec.name)
        self._own_spec = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: ``create_module`` returned a module that is ready. A module
        that had a spec of its own (a standard module six aliases) gets it back."""
        if self._own_spec is not None:
            module.__spec__ = self._own_spec


class _SixMovesFinder:
    """Answers ``find_spec`` for the names spyne's vendored six importer knows."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not fullname.startswith(_SIX + ".moves"):
            return None
        importer = getattr(sys.modules.get(_SIX), "_importer", None)
        if importer is None or fullname not in getattr(importer, "known_modules", ()):
            return None
        return importlib.util.spec_from_loader(
            fullname, _SixMovesLoader(importer), is_package=importer.is_package(fullname)
        )


def install() -> None:
    """Make spyne importable on this Python; idempotent, and a no-op on 3.11."""
    if sys.version_info < (3, 12):
        return
    if not any(isinstance(f, _SixMovesFinder) for f in sys.meta_path):
        sys.meta_path.append(_SixMovesFinder())
    if sys.version_info >= (3, 13) and importlib.util.find_spec("cgi") is None:
        raise ImportError(
            "spyne needs the cgi module, removed from the standard library in Python 3.13: "
            "install the legacy-cgi distribution (pip install legacy-cgi)"
        )
