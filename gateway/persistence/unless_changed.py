"""Reading without an autoflush when what is read cannot depend on pending changes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.orm import Session

__all__ = ["unless_changed"]


@contextlib.contextmanager
def unless_changed(session: Session, *models: type) -> Iterator[None]:
    """No autoflush inside, unless ``session`` has new or changed objects of ``models``.

    An autoflush in the middle of a response writes its lines' first changes, and the
    commit writes the same lines again with the rest: one UPDATE per line twice, where
    reading configuration (connectors, routing versions) needs none of it flushed.
    """
    if any(isinstance(o, models) for o in (*session.new, *session.dirty)):
        yield
        return
    with session.no_autoflush:
        yield
