"""Turning command-line values into registry specs, with one clear error for all problems."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from gateway.registry.specs import build_spec

__all__ = ["build_spec", "given", "with_options"]

F = TypeVar("F", bound=Callable[..., Any])


def with_options(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Apply click options in the order written (decorators apply bottom-up)."""

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def given(renamed: Mapping[str, str] | None = None, **values: Any) -> dict[str, Any]:
    """The options the user gave (not ``None``), under the names specs read."""
    renamed = renamed or {}
    return {renamed.get(k, k): v for k, v in values.items() if v is not None}
