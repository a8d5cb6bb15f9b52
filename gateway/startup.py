"""Making a home and its database ready: what every omgw process does before it serves,
works or changes anything (``omgw init`` does only this). Kept apart from the server so
that a command reaching the database imports no SOAP stack."""

from __future__ import annotations

from gateway.config import Settings
from gateway.persistence.db import create_engine_for, make_session_factory, migrate, serialize_setup
from gateway.persistence.private_files import ensure_private_dir, tighten

__all__ = ["missing_home", "prepare"]


def missing_home(settings: Settings) -> str | None:
    """Why ``settings`` name no home ``omgw init`` made, or None.

    Only the default database, the SQLite file in the home, is looked for: a mistyped
    ``OMGW_HOME`` would otherwise get a new, empty database and a new wallet key. A
    database named by ``OMGW_DATABASE_URL`` is the operator's to make (``omgw init``
    migrates it, as every command does).
    """
    database = settings.home_database
    if database is None or database.exists():
        return None
    if not settings.home.is_dir():
        return f"no omgw home at {settings.home}: run 'omgw init', or check OMGW_HOME"
    return (
        f"no omgw database in {settings.home} ({database.name}): run 'omgw init', or check "
        "OMGW_HOME"
    )


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
