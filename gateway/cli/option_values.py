"""What the commands share in reading options: click options applied in the order written,
and the values the user gave under the names specs read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["given", "with_options"]

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
