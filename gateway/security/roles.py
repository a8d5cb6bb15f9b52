"""The roles a user may hold: one per inbound service, and three for the console.

The console's roles are ranked: an ``ADMIN`` may do what an ``OPERATOR`` may, and an
``OPERATOR`` what a ``VIEWER`` may. A VIEWER reads (orders, messages, setup, status); an
OPERATOR also acts on traffic (replay, park, discard, holds); an ADMIN also changes the
setup (connectors, wallet, routing, trigger points, users).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CONSOLE_ROLES", "ROLES", "SERVICE_ROLES", "console_role", "grants"]

#: service name → the role a caller needs
SERVICE_ROLES = {
    "OrderImportService": "ORDER_IMPORT",
    "OrderInformationService": "ORDER_INQUIRY",
    "OrderFulfillmentResponseService": "FULFILLMENT_RESPONSE",
    "OrderHoldService": "ORDER_HOLD",
}
#: the console's roles, highest first
CONSOLE_ROLES = ("ADMIN", "OPERATOR", "VIEWER")
ROLES = tuple(sorted(set(SERVICE_ROLES.values()) | set(CONSOLE_ROLES)))


def console_role(roles: Iterable[str]) -> str | None:
    """The highest console role among ``roles``, or None for a user of the services only."""
    held = set(roles)
    return next((r for r in CONSOLE_ROLES if r in held), None)


def grants(roles: Iterable[str], needed: str) -> bool:
    """Whether a user holding ``roles`` may do what ``needed`` (a console role) allows."""
    held = console_role(roles)
    return held is not None and CONSOLE_ROLES.index(held) <= CONSOLE_ROLES.index(needed)
