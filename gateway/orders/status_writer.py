"""Status changes on persisted rows: checked against the lifecycle, written to history."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.events import recorder
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine

__all__ = ["StatusWriter"]


class StatusWriter:
    """Applies status changes within the caller's transaction; each is noted for the
    business events it may raise, and its history row is written at commit
    (:mod:`gateway.events.recorder`)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _record(
        self, header_id: int, entity: str, entity_id: int, old: str | None, new: str, reason: str
    ) -> None:
        recorder.status_changed(
            self._session,
            recorder.StatusRecord(header_id, entity, entity_id, old, new, reason[:240]),
        )

    def fline(self, fline: FulfillLine, new: str, reason: str) -> None:
        lifecycle.check_fline(fline.status, new)
        self._record(fline.header_id, "FULFILL_LINE", fline.id, fline.status, new, reason)
        fline.status = new

    def new_fline(self, fline: FulfillLine, reason: str) -> None:
        self._record(fline.header_id, "FULFILL_LINE", fline.id, None, fline.status, reason)

    def new_line(self, line: OrderLine, reason: str) -> None:
        self._record(line.header_id, "LINE", line.id, None, line.status, reason)

    def header(self, header: OrderHeader, new: str, reason: str) -> None:
        if header.status == new:
            return
        lifecycle.check_header(header.status, new)
        self._record(header.id, "HEADER", header.id, header.status, new, reason)
        header.status = new

    def new_header(self, header: OrderHeader, reason: str) -> None:
        self._record(header.id, "HEADER", header.id, None, header.status, reason)

    def rollup(self, header: OrderHeader, reason: str) -> None:
        """Recompute each order line's and the header's status from their children."""
        # The children are in memory; an autoflush per access would cost a round trip each.
        with self._session.no_autoflush:
            for line in header.lines:
                self._rollup_line(line, reason)
            new = lifecycle.rollup_header(header.status, (ln.status for ln in header.lines))
            self.header(header, new, reason)

    def _rollup_line(self, line: OrderLine, reason: str) -> None:
        new = lifecycle.rollup_line(f.status for f in line.fulfill_lines)
        if new != line.status:
            self._record(line.header_id, "LINE", line.id, line.status, new, reason)
            line.status = new
