"""``omgw demo``: the whole flow on this machine (the ``gateway.demo`` package)."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.invocation import Context, pass_context

__all__ = ["demo"]


@click.command(
    help="Set up the embedded default in OMGW_HOME, start the gateway, two simulated "
    "warehouses (one asynchronous, one synchronous), a business-event subscriber and a "
    "worker, import a batch of orders and follow each one until it closes; then cancel "
    "a line and change a quantity in flight, return 2 of 5 shipped units twice (a third "
    "return is refused) and print a summary with the events received."
)
@click.option("--orders", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", type=int, help="Repeat a run's items and quantities exactly.")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 86_400),
    help="Give up after this many seconds (default 60 + one per order).",
)
@click.option("--verbose", is_flag=True, help="Also log every message sent and received.")
@click.option(
    "--record-events",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every event payload the subscriber receives to this directory, one XML file each.",
)
@pass_context
def demo(
    ctx: Context,
    orders: int,
    seed: int | None,
    timeout: float | None,
    verbose: bool,
    record_events: Path | None,
) -> None:
    from gateway.demo import run_demo

    ctx.makes_home = True
    summary = run_demo(
        ctx.settings,
        orders,
        click.echo,
        timeout=timeout,
        seed=seed,
        quiet=not verbose,
        record_events=record_events,
    )
    if summary.closed != summary.orders:
        raise click.ClickException(
            f"{summary.orders - summary.closed} of {summary.orders} orders did not close; "
            "see 'omgw orders list' and 'omgw messages list'"
        )
    changed = summary.changes
    if changed is not None and changed.closed != changed.orders:
        raise click.ClickException(
            f"{changed.orders - changed.closed} of the {changed.orders} changed and returned "
            "orders did not close; see 'omgw orders list' and 'omgw messages list'"
        )
