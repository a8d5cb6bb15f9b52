"""A synchronous warehouse's answer to a fulfillment request: a headerTR."""

from __future__ import annotations

TR = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/model/"


def header_tr(request_id: int, status: str, name: str | None = None,
               shipped: dict[int, int] | None = None) -> bytes:  # fmt: skip
    """The warehouse's synchronous answer: a headerTR in a SOAP envelope."""
    lines = "".join(
        f"<tr:Line><tr:FulfillLineId>{fid}</tr:FulfillLineId><tr:StatusCode>SHIPPED"
        f"</tr:StatusCode><tr:ShippedQty>{qty}</tr:ShippedQty></tr:Line>"
        for fid, qty in (shipped or {}).items()
    )
    error = f"<tr:ErrorMessageName>{name}</tr:ErrorMessageName>" if name else ""
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soapenv:Body><tr:headerTR xmlns:tr="{TR}">'
        f"<tr:FulfillmentRequestIdentifier>{request_id}</tr:FulfillmentRequestIdentifier>"
        "<tr:FulfillmentSystem>WMS01</tr:FulfillmentSystem>"
        f"<tr:FulfillmentSystemResponseIdentifier>sync-{request_id}"
        "</tr:FulfillmentSystemResponseIdentifier>"
        f"<tr:StatusCode>{status}</tr:StatusCode>{error}{lines}"
        "</tr:headerTR></soapenv:Body></soapenv:Envelope>"
    ).encode()
