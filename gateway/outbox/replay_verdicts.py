"""What replay, park and discard decided for each outbox row they selected.

:class:`ReplayItem` is one row's verdict (``REPLAYED``, ``REFUSED`` or ``SKIPPED``) and
why; :class:`Verdicts` is what every result shares (the rows by verdict, whether all
went through, the report); :class:`ReplayResult` is a replay's, with the sentence that
says what was not replayed. Set-aside results build on the same two
(:mod:`gateway.outbox.set_aside`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Generic, Self, TypeVar

from gateway.outbox.message_filter import connector_name
from gateway.persistence.models import OutboxMessage

__all__ = ["ONCE_ONLY", "REFUSED", "REPLAYED", "SKIPPED", "ReplayItem", "ReplayResult", "Verdicts"]

REPLAYED, REFUSED, SKIPPED = "REPLAYED", "REFUSED", "SKIPPED"

#: task types whose request, if processed twice, makes a second shipment or invoice
ONCE_ONLY = {"Shipment": "shipment", "Invoice": "invoice"}


@dataclass(frozen=True)
class ReplayItem:
    """What replay did (or, in a dry run, would do) with one row, and why."""

    verdict: str  # REPLAYED | REFUSED | SKIPPED
    id: int | None
    message_id: str | None
    connector: str | None = None
    order_number: str | None = None
    task_type: str | None = None
    was: str | None = None
    reason: str | None = None
    kind: str | None = None
    event_code: str | None = None

    @classmethod
    def of(
        cls, row: OutboxMessage, verdict: str, reason: str | None, was: str, **more: Any
    ) -> Self:
        """The verdict on ``row``, which was in status ``was`` when judged (``more``: the
        fields a subclass adds)."""
        return cls(
            verdict,
            row.id,
            row.message_id,
            connector_name(row),
            row.order_number,
            row.task_type,
            was,
            reason,
            row.kind,
            row.event_code,
            **more,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Item = TypeVar("Item", bound=ReplayItem)


class Verdicts(Generic[Item]):
    """Every row a replay, park or discard selected, with its verdict: what
    :class:`ReplayResult` and :class:`~gateway.outbox.set_aside.SetAsideResult` share."""

    items: tuple[Item, ...]

    def having(self, verdict: str) -> list[Item]:
        return [i for i in self.items if i.verdict == verdict]

    @property
    def refused(self) -> list[Item]:
        return self.having(REFUSED)

    @property
    def skipped(self) -> list[Item]:
        return self.having(SKIPPED)

    @property
    def ok(self) -> bool:
        """Everything selected was (or, in a dry run, would be) replayed, parked or
        discarded: nothing was refused or skipped."""
        return not self.refused and not self.skipped

    def _report(
        self, head: dict[str, Any], done: str, code: str, problem: str | None
    ) -> dict[str, Any]:
        """``head``, then the count of rows given verdict ``done`` (under its name in lower
        case), of those refused and skipped, each row's verdict, and ``problem`` as an
        error with ``code`` when there is one."""
        out: dict[str, Any] = {
            **head,
            done.lower(): len(self.having(done)),
            "refused": len(self.refused),
            "skipped": len(self.skipped),
            "messages": [i.to_json() for i in self.items],
        }
        if problem is not None:
            out["error"] = {"code": code, "message": problem}
        return out

    @staticmethod
    def _names(items: Sequence[ReplayItem]) -> str:
        """Rows as a problem names them: ``7 (urn:uuid:…)``, or what was asked for when
        no row has it."""
        return ", ".join(
            f"{i.id} ({i.message_id})" if i.id is not None else str(i.message_id) for i in items
        )


@dataclass(frozen=True)
class ReplayResult(Verdicts[ReplayItem]):
    items: tuple[ReplayItem, ...]
    dry_run: bool = False
    force: bool = False

    @property
    def replayed(self) -> list[ReplayItem]:
        return self.having(REPLAYED)

    def problem(self, force: str = "--force") -> str | None:
        """What was not replayed, in a sentence or two; None when everything was.
        ``force`` names the switch that sends refused rows anyway, as the caller knows it."""
        parts = []
        if self.refused:
            # DELIVERED, or uncertain: either may have acted on it already
            twice = any(i.task_type in ONCE_ONLY for i in self.refused)
            effect = (
                "may create a second shipment or invoice"
                if twice
                else "may make the receiver act twice"
            )
            parts.append(
                f"refused without {force}: {self._names(self.refused)}: sending them again "
                f"{effect}; check with the receiver, then use {force} to send them anyway"
            )
        if self.skipped:
            parts.append(f"not replayable: {self._names(self.skipped)}: see the reasons above")
        return ". ".join(parts) or None

    def to_json(self, force: str = "--force") -> dict[str, Any]:
        """The report: counts, each row's verdict, and the problem (code
        ``REPLAY_INCOMPLETE``) when anything selected was not replayed."""
        head = {"dry_run": self.dry_run, "force": self.force}
        return self._report(head, REPLAYED, "REPLAY_INCOMPLETE", self.problem(force))
