"""XML Schemas loaded once per process, safely from any thread.

libxml2 sets up its built-in schema types on the first schema a process compiles, and
that set-up is not thread-safe: two threads compiling their first schema at once fail
with ``XMLSchemaParseError`` ("Internal error: xmlSchemaPValAttrNodeValue …"). The
outbox worker's first sends arrive together on several threads, so every schema is
compiled here, one at a time, and kept.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

__all__ = ["load_schema"]

_lock = threading.Lock()
_schemas: dict[Path, etree.XMLSchema] = {}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def load_schema(path: Path) -> etree.XMLSchema:
    """The compiled schema at ``path``, compiled on the first call in this process."""
    with _lock:
        schema = _schemas.get(path)
        if schema is None:
            schema = _schemas[path] = etree.XMLSchema(etree.parse(str(path), _PARSER))
        return schema
