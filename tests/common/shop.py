"""A gateway whose fulfillment requests go to a receiver on 127.0.0.1 standing in for the
warehouse WMS01: the test delivers the outbox when it chooses, reads the requests the
warehouse got, and plays the warehouse's answers (processAcknowledgement,
processFulfillmentResponse) as WMS01 does, in the order it needs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select

from connectors.connector_specs import ConnectorSpec
from gateway.outbox.worker import OutboxWorker
from gateway.persistence.models import FulfillLine, OrderHeader, OutboxMessage
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from tests.common.orders import order, response
from tests.common.receiver import Receiver, receiving
from tests.common.soap import client
from tests.conftest import Admin, Gateway, make_settings, serving

__all__ = [
    "CONNECTOR",
    "Sent",
    "Shop",
    "client_fault",
    "line",
    "outbox_rows",
    "parked",
    "returning",
    "shop_at",
]

TL = "http://xmlns.oracle.com/apps/scm/doo/processOrder/service/"
CONNECTOR = "WMS01_Fulfillment"


@dataclass
class Sent:
    """A request as the warehouse received it."""

    request_id: int
    operation: str
    task: str
    original: int | None
    #: fulfill line id: (OrderedQty, StatusCode, ShipToPartySiteIdentifier)
    lines: dict[int, tuple[Decimal, str, str | None]]


def _read(body: bytes) -> Sent:
    tl = etree.fromstring(body).find(f".//{{{TL}}}headerTL")
    assert tl is not None

    def text(el: Any, name: str) -> str | None:
        return el.findtext(f"{{{TL}}}{name}")

    original = text(tl, "OriginalRequestIdentifier")
    return Sent(
        int(text(tl, "FulfillmentRequestIdentifier") or 0),
        str(text(tl, "Operation")),
        str(text(tl, "TaskType")),
        int(original) if original else None,
        {
            int(text(ln, "FulfillLineId") or 0): (
                Decimal(text(ln, "OrderedQty") or "0"),
                str(text(ln, "StatusCode")),
                text(ln, "ShipToPartySiteIdentifier"),
            )
            for ln in tl.findall(f"{{{TL}}}Line")
        },
    )


def line(lid: str, qty: int | str, item: str = "AS54888", **extra: Any) -> dict[str, Any]:
    """An order line as a source system sends it (zeep dict)."""
    return {
        "SourceTransactionLineIdentifier": lid,
        "SourceTransactionLineNumber": lid,
        "ProductNumber": item,
        "OrderedQuantity": {"_value_1": Decimal(str(qty)), "unitCode": "Ea"},
        "OrderedUOMCode": "Ea",
        **extra,
    }


def returning(
    lid: str, qty: int, original_order: str, original_line: str, item: str = "AS54888"
) -> dict[str, Any]:
    """A return line naming the line it returns by the source order's keys."""
    return line(
        lid,
        qty,
        item,
        TransactionCategoryCode="RETURN",
        ReturnReasonCode="DAMAGED",
        DocumentReference=[
            {
                "DocumentReferenceType": "ORIGINAL_SALES_ORDER",
                "DocumentIdentifier": original_order,
                "DocumentAdditionalIdentifier": "LEGACY",
                "DocumentLineIdentifier": original_line,
            }
        ],
    )


@dataclass
class Shop:
    gw: Gateway
    rx: Receiver
    imports: Any
    ofrs: Any
    info: Any
    seen: int = 0

    def send(
        self, key: str, lines: list[dict[str, Any]], revision: str = "1", **header: Any
    ) -> Any:
        """createOrders of order ``key`` at ``revision``; its OrderImportResponse."""
        body = order(key, revision=revision)
        body["Line"] = lines
        body.update(header)
        (result,) = self.imports.service.createOrders(request={"Order": [body]})
        return result

    def deliver(self) -> list[Sent]:
        """Let the outbox send what waits; the requests the warehouse got since last time."""
        OutboxWorker(self.gw.runtime).drain(20)
        got = [_read(b) for b in self.rx.bodies[self.seen :]]
        self.seen = len(self.rx.bodies)
        return got

    def body(self, request_id: int) -> bytes:
        """The last request body the warehouse got under ``request_id``."""
        return next(b for b in reversed(self.rx.bodies) if _read(b).request_id == request_id)

    def ack(
        self, request_id: int, status: str = "SUCCESS", name: str | None = None, text: str = ""
    ) -> Any:
        return self.ofrs.service.processAcknowledgement(
            fulfillmentRequestAcknowledgement={
                "FulfillmentSystem": "WMS01",
                "FulfillmentRequestIdentifier": request_id,
                "RequestStatusCode": status,
                "ErrorMessageName": name,
                "ErrorMessageText": text or None,
            }
        )

    def respond(self, rid: str, lines: list[dict[str, Any]], task: str = "Shipment") -> Any:
        return self.ofrs.service.processFulfillmentResponse(**response(rid, lines, task=task))

    def flines(self, number: str) -> dict[int, FulfillLine]:
        """The fulfillment lines of the order's current revision, by id."""
        with self.gw.runtime.read_sessions() as s:
            rows = s.scalars(
                select(FulfillLine)
                .join(OrderHeader, OrderHeader.id == FulfillLine.header_id)
                .where(OrderHeader.order_number == number, OrderHeader.status != "DOO_REFERENCE")
                .order_by(FulfillLine.id)
            )
            return {f.id: f for f in rows}

    def header(self, number: str) -> str:
        with self.gw.runtime.read_sessions() as s:
            return str(
                s.scalar(
                    select(OrderHeader.status).where(
                        OrderHeader.order_number == number, OrderHeader.status != "DOO_REFERENCE"
                    )
                )
            )

    def details(self, number: str) -> Any:
        """The order as its source system asks for it (GetOrderDetails)."""
        (found,) = self.info.service.GetOrderDetails(Order=[{"OrderNumber": number}])
        return found

    def admin(self) -> Admin:
        """The ``omgw`` command line on this gateway's database and wallet key."""
        environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
        environ.update(self.gw.runtime.settings.to_env())
        return Admin(environ, self.gw.runtime.settings.home)

    def released(self, key: str, lines: list[dict[str, Any]]) -> tuple[str, Sent]:
        """An order sent, its request delivered and acknowledged; its number and request."""
        number = str(self.send(key, lines).OrderNumber)
        (request,) = self.deliver()
        self.ack(request.request_id)
        return number, request


@contextmanager
def shop_at(database_url: str, home: Path) -> Iterator[Shop]:
    """A gateway whose Shipment, Return and Invoice steps all go to a receiver."""
    with serving(make_settings(home, database_url)) as gw, receiving() as rx:
        with gw.runtime.sessions() as s, s.begin():
            Registry(s, "tests").put_connector(ConnectorSpec(CONNECTOR, "WMS01", rx.url))
            store = RuleStore(s, "tests")
            for task in ("Shipment", "Return", "Invoice"):
                store.set_default(task, CONNECTOR)
            assert store.publish() is not None
        yield Shop(
            gw,
            rx,
            client(gw.base, "OrderImportService"),
            client(gw.base, "OrderFulfillmentResponseService"),
            client(gw.base, "OrderInformationService"),
        )


def client_fault(text: str) -> bytes:
    """A SOAP 1.1 Client fault a warehouse answers with: sending again cannot help, so the
    outbox parks the message at once."""
    return (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
        b"<faultstring>" + text.encode() + b"</faultstring>"
        b"</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


def outbox_rows(shop: Shop, number: str) -> list[OutboxMessage]:
    """The outbox messages of order ``number``, oldest first."""
    with shop.gw.runtime.read_sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.order_number == number)
                .order_by(OutboxMessage.id)
            )
        )


def parked(
    shop: Shop,
    key: str,
    lines: list[dict[str, Any]] | None = None,
    fault: bytes = client_fault("refused"),
) -> tuple[str, int]:
    """An order whose request the warehouse refused with a Client fault: its number and
    the parked message's outbox id."""
    number = str(shop.send(key, lines or [line("L1", 2)]).OrderNumber)
    shop.rx.script = [("500 Internal Server Error", fault)]
    shop.deliver()
    (row,) = outbox_rows(shop, number)
    assert row.status == "PARKED"
    return number, row.id
