"""The state one ``omgw`` invocation shares between its commands: settings, read lazily."""

from __future__ import annotations

import click

from gateway.config import Settings

__all__ = ["Context", "pass_context"]


class Context:
    """Lazily built settings shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)
