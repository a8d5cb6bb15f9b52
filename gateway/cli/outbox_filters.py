"""The options that select outbox messages, shared by ``omgw messages list``, ``replay``,
``park`` and ``discard``, and the values they turn into: :func:`selection_options` reads
them into one :class:`~gateway.outbox.message_filter.MessageFilter` for the commands that change
messages."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import click

from gateway.cli.option_values import with_options
from gateway.cli.output import emit_table
from gateway.outbox.message_filter import KINDS, STATUSES, MessageFilter, parse_when
from gateway.outbox.replay_verdicts import ReplayItem

__all__ = [
    "emit_verdicts",
    "filter_options",
    "id_option",
    "kind_value",
    "selection_options",
    "task_cell",
]

F = TypeVar("F", bound=Callable[..., Any])


class _When(click.ParamType):
    """ISO 8601 with a time zone, or a date; a bad value is a usage error naming the option."""

    name = "ISO-8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_WHEN = _When()

#: --kind, --connector, --order, --message-id, --since, --until
filter_options: Callable[[F], F] = with_options(
    click.option(
        "--kind",
        type=click.Choice(tuple(KINDS), case_sensitive=False),
        help="Only fulfillment requests, business events or e-mails.",
    ),
    click.option("--connector", help="Only messages to this connector."),
    click.option("--order", "order_number", help="Only messages about this order number."),
    click.option(
        "--message-id",
        "message_ids",
        multiple=True,
        help="Only this WS-Addressing MessageID (repeatable).",
    ),
    click.option(
        "--since", type=_WHEN, help="Created at or after: ISO 8601 with a time zone, or a date."
    ),
    click.option(
        "--until", type=_WHEN, help="Created before: ISO 8601 with a time zone, or a date."
    ),
)

#: --id, repeatable: the commands that change messages name them by outbox id too
id_option: Callable[[F], F] = click.option(
    "--id", "ids", type=int, multiple=True, help="An outbox id (repeatable)."
)


def kind_value(kind: str | None) -> str | None:
    """A ``--kind`` value as the outbox kind it selects."""
    return KINDS[kind.upper()] if kind else None


#: the options of :data:`filter_options` that a MessageFilter takes as they are given
_PASSED_ON = ("connector", "order_number", "message_ids", "since", "until")


def selection_options(action: str, default_status: str) -> Callable[[F], F]:
    """--id, --status, then :data:`filter_options`, read into one ``MessageFilter`` that
    the command gets as its ``selection`` argument.

    Messages named by --id or --message-id are looked for in any status; otherwise only
    in ``default_status`` unless --status names another. A selection that narrows by no
    more than status is a usage error ("say which messages to ``action``: …"): these
    commands change messages, and none of them runs on the whole outbox.
    """

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def read(
            *args: Any, ids: tuple[int, ...], status: str | None, kind: str | None, **kwargs: Any
        ) -> Any:
            named = bool(ids or kwargs["message_ids"])
            selection = MessageFilter(
                ids=ids,
                status=status.upper() if status else (None if named else default_status),
                kind=kind_value(kind),
                **{name: kwargs.pop(name) for name in _PASSED_ON},
            )
            if not selection.selects:
                raise click.UsageError(
                    f"say which messages to {action}: --id, --message-id, --connector, "
                    "--order, --since or --until (or --kind)"
                )
            return command(*args, selection=selection, **kwargs)

        status_option = click.option(
            "--status",
            type=click.Choice(STATUSES, case_sensitive=False),
            help=f"Only messages in this status (default {default_status}; any status for "
            "--id/--message-id).",
        )
        return cast(F, with_options(id_option, status_option, filter_options)(read))

    return decorate


def task_cell(row: dict[str, Any]) -> str | None:
    """The TASK cell: the task type, the event code, or both (``Shipment/FlineStatusUpdate``)."""
    parts = [p for p in (row.get("task_type"), row.get("event_code")) if p]
    return "/".join(parts) or None


def emit_verdicts(items: Sequence[ReplayItem], label: dict[str, str]) -> None:
    """One row per message a replay, park or discard selected: its verdict (``label``
    renames the one that did the work: "replayed", "would replay" …), and why."""
    emit_table(
        [
            {
                **i.to_json(),
                "verdict": label.get(i.verdict, i.verdict.lower()),
                "task_type": task_cell(i.to_json()),
            }
            for i in items
        ],
        [
            ("verdict", "RESULT"),
            ("id", "ID"),
            ("message_id", "MESSAGE ID"),
            ("connector", "CONNECTOR"),
            ("order_number", "ORDER"),
            ("task_type", "TASK"),
            ("was", "WAS"),
            ("reason", "REASON"),
        ],
        False,
    )
