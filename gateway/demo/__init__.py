"""``omgw demo``: the whole flow on this machine, watched live.

Sets up the embedded default in ``OMGW_HOME`` (SQLite, a local key file), applies the
bundled ``gateway/setup/demo.toml`` (one capture system, an asynchronous and a synchronous
simulated warehouse, wallet entries with random passwords, rules that route by item),
starts the gateway, both simulators, a simulated business-event subscriber (a CRM) and
an outbox worker in this process on free 127.0.0.1 ports, imports a batch of orders
through ``createOrders`` (the first one held at intake, released a moment later), prints
each order's status changes and a progress line until every order is closed and every
event delivered, then a chapter of changes after release (a line canceled in flight, a
quantity changed in flight, two returns and a third refused), then a summary that counts
the events the subscriber received.

The story is :func:`~gateway.demo.whole_flow.run_demo`; each step has a module of its own:
``home`` (the demo's home and setup), ``stage`` (the parties started), ``order_documents``
(what is imported), ``follow`` (the live view and the operator's steps), ``changes_chapter``
and ``summary``.
"""

from __future__ import annotations

from gateway.demo.home import DEMO_SETUP
from gateway.demo.summary import ChangesSummary, DemoSummary
from gateway.demo.whole_flow import run_demo

__all__ = ["DEMO_SETUP", "ChangesSummary", "DemoSummary", "run_demo"]
