"""Persistence: SQLAlchemy 2 models, engine set-up and Alembic migrations."""

from gateway.persistence.db import create_engine_for, make_session_factory, migrate

__all__ = ["create_engine_for", "make_session_factory", "migrate"]
