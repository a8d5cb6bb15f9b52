"""Hostile request bodies: each the worst of its shape that fits a body limit.

Every builder takes ``n`` (how many of the repeated part) and returns the envelope's
bytes; :func:`largest` finds the largest ``n`` whose body still fits, so each shape is
as large as the gateway can be sent.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.common.inquiry import OIS, OIS_TYPES

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OFRS_TYPES = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/types/"
OFRS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"
IMPORT_TYPES = "http://xmlns.oracle.com/apps/scm/fom/importOrders/orderImportService/types/"
IMPORT = "http://xmlns.oracle.com/apps/scm/fom/importOrders/orderImportService/"

Builder = Callable[[int], bytes]

#: the namespaces :func:`envelope` declares
DECLARED = 7
#: the elements of an envelope around a fulfillment response's lines (Envelope, Body,
#: the operation, its header and the header's 3 children, one fulfillLineList)
ELEMENTS_AROUND_LINES = 8


def envelope(body: str, header: str = "", root: str = "") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{OFRS_TYPES}" '
        f'xmlns:com="{OFRS}" xmlns:imp="{IMPORT_TYPES}" xmlns:ord="{IMPORT}" '
        f'xmlns:oit="{OIS_TYPES}" xmlns:ois="{OIS}"{root}>'
        f"{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def response(lines: str) -> str:
    """A processFulfillmentResponse body around ``lines``."""
    return (
        "<typ:processFulfillmentResponse><typ:responseMessageHeader>"
        "<com:FulfillmentSystem>WMS01</com:FulfillmentSystem>"
        "<com:FulfillmentSystemResponseIdentifier>HOSTILE</com:FulfillmentSystemResponseIdentifier>"
        "<com:IntegrationContextCode>Shipment</com:IntegrationContextCode>"
        f"</typ:responseMessageHeader>{lines}</typ:processFulfillmentResponse>"
    )


def line(body: str) -> str:
    return f"<typ:fulfillLineList>{body}</typ:fulfillLineList>"


def order_lines(lines: int, orders: int = 1) -> str:
    """A createOrders body with ``orders`` orders of ``lines`` minimal lines each."""
    one = (
        "<ord:Line><ord:SourceTransactionLineIdentifier>L</ord:SourceTransactionLineIdentifier>"
        "<ord:ProductNumber>P</ord:ProductNumber>"
        '<ord:OrderedQuantity unitCode="Ea">1</ord:OrderedQuantity></ord:Line>'
    )
    order = (
        "<ord:Order><ord:SourceTransactionIdentifier>H</ord:SourceTransactionIdentifier>"
        "<ord:SourceTransactionSystem>LEGACY</ord:SourceTransactionSystem>"
        f"{one * lines}</ord:Order>"
    )
    return f"<imp:createOrders><imp:request>{order * orders}</imp:request></imp:createOrders>"


def largest(build: Builder, limit: int) -> tuple[int, bytes]:
    """The largest ``n`` whose body fits in ``limit`` bytes, and that body."""
    base = len(build(0))
    unit = max(1, len(build(2)) - len(build(1)))
    n = max(0, (limit - base) // unit)
    body = build(n)
    while len(body) > limit:
        n -= max(1, (len(body) - limit) // unit)
        body = build(n)
    return n, body


def attributes(count: int) -> str:
    return " ".join(f"a{i}=''" for i in range(count))


def declarations(count: int, prefix: str = "n") -> str:
    return "".join(f' xmlns:{prefix}{i}="urn:{i}"' for i in range(count))


#: name -> (service, builder); each is sent as large as the body limit allows
SHAPES: dict[str, tuple[str, Builder]] = {
    "xmlns on the Envelope": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(""), root=declarations(n)),
    ),
    "exactly 100,000 xmlns, on the Envelope": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(""), root=declarations(min(n, 100_000 - DECLARED))),
    ),
    "exactly 100,000 xmlns, one per element": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<x:a xmlns:x='u'/>" * min(n, 100_000 - DECLARED)))),
    ),
    "100,001 xmlns, one per element": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<x:a xmlns:x='u'/>" * min(n, 100_001 - DECLARED)))),
    ),
    "xmlns on the operation": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response("").replace(
                "<typ:processFulfillmentResponse>",
                f"<typ:processFulfillmentResponse{declarations(n)}>",
            )
        ),
    ),
    "xmlns one per element": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<x:a xmlns:x='u'/>" * n))),
    ),
    "attributes on one element": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                line(f"<com:FulfillLineIdentifier {attributes(n)}>1</com:FulfillLineIdentifier>")
            )
        ),
    ),
    "64 attributes on each line": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                f"<typ:fulfillLineList {attributes(64)}>"
                "<com:FulfillLineIdentifier>1</com:FulfillLineIdentifier></typ:fulfillLineList>" * n
            )
        ),
    ),
    "64 attributes on each of 4,687 lines (299,968 attributes)": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                f"<typ:fulfillLineList {attributes(64)}>"
                "<com:FulfillLineIdentifier>1</com:FulfillLineIdentifier></typ:fulfillLineList>"
                * min(n, 300_000 // 64)
            )
        ),
    ),
    "exactly 300,000 attributes, two per element": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<a b='' c=''/>" * min(n, 150_000)))),
    ),
    "300,001 attributes, two per element": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<a b='' c=''/>" * min(n, 150_000) + "<a b=''/>"))),
    ),
    "nesting 60 deep in flexfields, as many as the element limit allows": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                line(
                    "<com:FulfillLineIdentifier>1</com:FulfillLineIdentifier>"
                    + (
                        "<com:AdditionalFulfillLineInformationCategories>"
                        + "<a>" * 53
                        + "</a>" * 53
                        + "</com:AdditionalFulfillLineInformationCategories>"
                    )
                    * min(n, (300_000 - ELEMENTS_AROUND_LINES - 1) // 54)
                )
            )
        ),
    ),
    "nesting 60 deep in flexfields": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                line(
                    "<com:FulfillLineIdentifier>1</com:FulfillLineIdentifier>"
                    + (
                        "<com:AdditionalFulfillLineInformationCategories>"
                        + "<a>" * 53
                        + "</a>" * 53
                        + "</com:AdditionalFulfillLineInformationCategories>"
                    )
                    * n
                )
            )
        ),
    ),
    "elements in the Header": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(""), header="<soapenv:Header>" + "<a/>" * n + "</soapenv:Header>"
        ),
    ),
    "long text in the Header": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(""),
            header=f'<soapenv:Header><x:h xmlns:x="urn:x">{"9" * min(n, 9_000_000)}</x:h>'
            "</soapenv:Header>",
        ),
    ),
    "1,000 mustUnderstand header entries": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(""),
            header='<soapenv:Header xmlns:x="urn:x">'
            + '<x:h soapenv:mustUnderstand="1"/>' * min(n, 1_000)
            + "</soapenv:Header>",
        ),
    ),
    "lines of an order": ("OrderImportService", lambda n: envelope(order_lines(n))),
    "orders of one line": ("OrderImportService", lambda n: envelope(order_lines(1, n))),
    "inquiries": (
        "OrderInformationService",
        lambda n: envelope(
            "<oit:GetOrderDetails>"
            + "<oit:Order><ois:OrderNumber>1</ois:OrderNumber></oit:Order>" * n
            + "</oit:GetOrderDetails>"
        ),
    ),
    "response lines, 2 type errors each": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                line(
                    "<com:FulfillLineIdentifier>x</com:FulfillLineIdentifier>"
                    "<com:ShippedQuantity>y</com:ShippedQuantity>"
                )
                * n
            )
        ),
    ),
    "10,000 response lines, 2 type errors each": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                line(
                    "<com:FulfillLineIdentifier>x</com:FulfillLineIdentifier>"
                    "<com:ShippedQuantity>y</com:ShippedQuantity>"
                )
                * min(n, 10_000)
            )
        ),
    ),
    "long text": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(line(f"<com:FulfillLineIdentifier>{'9' * n}</com:FulfillLineIdentifier>"))
        ),
    ),
    "long text, under the parser's limit": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(
                line(
                    f"<com:FulfillLineIdentifier>{'9' * min(n, 9_000_000)}"
                    "</com:FulfillLineIdentifier>"
                )
            )
        ),
    ),
    "small unknown elements": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<a/>" * n))),
    ),
    "exactly 300,000 elements, small unknown ones": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<a/>" * min(n, 300_000 - ELEMENTS_AROUND_LINES)))),
    ),
    "300,001 elements, small unknown ones": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<a/>" * min(n, 300_001 - ELEMENTS_AROUND_LINES)))),
    ),
    "small elements under another root": (
        "OrderFulfillmentResponseService",
        lambda n: b"<order>" + b"<a/>" * n + b"</order>",
    ),
    "small empty known elements": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(response(line("<com:StatusCode/>" * n))),
    ),
    "exactly 300,000 elements, small empty known ones": (
        "OrderFulfillmentResponseService",
        lambda n: envelope(
            response(line("<com:StatusCode/>" * min(n, 300_000 - ELEMENTS_AROUND_LINES)))
        ),
    ),
}
