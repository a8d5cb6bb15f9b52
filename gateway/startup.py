"""Making a home and its database ready: what every omgw process does before it serves,
works or changes anything (``omgw init`` does only this). Kept apart from the server so
that a command reaching the database imports no SOAP stack."""

from __future__ import annotations

from gateway.config import Settings
from gateway.persistence.db import create_engine_for, make_session_factory, migrate, serialize_setup
from gateway.persistence.files import ensure_private_dir, tighten

__all__ = ["prepare"]


def prepare(settings: Settings) -> None:
    """Create the home directory, bring the schema up to date and write the built-in
    task types and default process where they are missing."""
    from gateway.registry.store import ensure_builtins

    ensure_private_dir(settings.home)
    tighten(settings.key_file)
    engine = create_engine_for(settings.database_url)
    try:
        migrate(engine)
        with make_session_factory(engine)() as session, session.begin():
            serialize_setup(session)
            ensure_builtins(session)
    finally:
        engine.dispose()
