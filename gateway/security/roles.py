"""The roles a user may hold, one per inbound service."""

from __future__ import annotations

__all__ = ["ROLES", "SERVICE_ROLES"]

#: service name → the role a caller needs
SERVICE_ROLES = {
    "OrderImportService": "ORDER_IMPORT",
    "OrderInformationService": "ORDER_INQUIRY",
    "OrderFulfillmentResponseService": "FULFILLMENT_RESPONSE",
    "OrderHoldService": "ORDER_HOLD",
}
ROLES = tuple(sorted(set(SERVICE_ROLES.values())))
