"""The state one ``omgw`` invocation shares between its commands: settings (read lazily),
the acting admin, and short-lived access to the database."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.observe.logs import use_format
from gateway.runtime import Runtime

__all__ = ["Context", "default_actor", "pass_context"]

#: databases this process has already migrated (one command per process, except in tests)
_PREPARED: set[str] = set()


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a bare container
        return "unknown"


class Context:
    """Lazily built settings shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self.actor = default_actor()
        #: set by the commands that make a home (init, demo) before they read the settings;
        #: every other command refuses a home that does not exist
        self.makes_home = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = Settings.from_env()
            # main() starts at INFO, before any setting is read; from here the setting rules
            logging.getLogger().setLevel(settings.log_level)
            use_format(settings.log_format)
            if not self.makes_home:
                from gateway.startup import missing_home

                if (why := missing_home(settings)) is not None:
                    raise click.ClickException(why)
            self._settings = settings
        return self._settings

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        from gateway.startup import prepare

        if self.settings.database_url not in _PREPARED:
            prepare(self.settings)  # migrates a database an upgrade left behind
            _PREPARED.add(self.settings.database_url)
        runtime = Runtime(self.settings)
        try:
            yield runtime
        finally:
            runtime.close()

    @contextmanager
    def transaction(self) -> Iterator[tuple[Runtime, Session]]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with self.runtime() as runtime, runtime.sessions() as session, session.begin():
            yield runtime, session

    @contextmanager
    def reading(self) -> Iterator[tuple[Runtime, Session]]:
        with self.runtime() as runtime, runtime.read_sessions() as session, session.begin():
            yield runtime, session


pass_context = click.make_pass_decorator(Context, ensure=True)
