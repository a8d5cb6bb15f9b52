"""Turning given values into registry specs, with one clear error for all their problems
(the command line and the console build specs the same way)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from connectors.connector_errors import SpecInvalid
from gateway.errors import translate

__all__ = ["build_spec"]

S = TypeVar("S")


def build_spec(kind: str, data: Mapping[str, Any], build: Callable[[Mapping[str, Any]], S]) -> S:
    try:
        return build(data)
    except SpecInvalid as exc:
        raise translate(exc, kind) from None
