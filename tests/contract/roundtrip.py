"""An order carrying every documented attribute, sent raw, and read back attribute by
attribute from GetOrderDetails (helpers shared by the contract tests)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.contract.model import ObjectType, ServiceModel, load
from tests.common.published import check_answer
from tests.common.soap import Http, basic, post
from tests.conftest import Gateway
from tests.contract import corpus

IMPORT = load("OrderImportService")
INFO = load("OrderInformationService")
#: import attributes GetOrderDetails answers under Oracle's OrderInformationService name
RENAMED = {
    "Line": "OrderLine",
    "AdditionalHeaderInformationCategories": "AdditionalOrderInformationCategories",
    "AdditionalFulfillmentLineInformationCategories": "AdditionalOrderLineInformationCategories",
}
#: omgw's own import attribute that is acted on (a hold), not kept as sent
NOT_KEPT = frozenset({"Hold"})


def order_values(key: str, lines: int = 2) -> dict[str, Any]:
    """An order with a value for every documented attribute (its keys, product,
    quantities and codes chosen so that omgw accepts and processes it)."""
    header = corpus.every_attribute(
        IMPORT,
        IMPORT["Order"],
        key,
        fixed={
            "SourceTransactionIdentifier": key,
            "SourceTransactionSystem": "LEGACY",
            "SourceTransactionNumber": f"SO-{key}",
            "SourceTransactionRevisionNumber": "1",
            "SourceTransactionRevision": "1",
            "BuyingPartyNumber": "1006",
            "BuyingPartyName": "Computer Service and Rentals",
            "TransactionalCurrencyCode": "USD",
            "TransactionTypeCode": "STD",
            "CustomerPONumber": f"PO-{key}",
            "RequestingBusinessUnitName": "Vision Operations",
            "OrderPreferences": {
                "CreateCustomerInformationFlag": "false",
                "SubmitFlag": "true",
                "CreationMode": "HVOP",
            },
        },
        skip=NOT_KEPT | {"Line"},
    )
    header["Line"] = [
        corpus.every_attribute(
            IMPORT,
            IMPORT["OrderLine"],
            f"{key}L{n}",
            fixed={
                "SourceTransactionLineIdentifier": f"L{n}",
                "SourceTransactionLineNumber": str(n),
                "ProductNumber": "AS54888",
                "OrderedQuantity": (str(n + 2), "Ea"),
                "OrderedUOMCode": "Ea",
                "ProductDescription": "Sentinel Standard Desktop",
                "RequestedFulfillmentOrganizationCode": "M1",
                "ShipSetName": f"SS{n}",
                "TransactionCategoryCode": "ORDER",
            },
            skip=NOT_KEPT,
        )
        for n in range(1, lines + 1)
    ]
    return header


def create_request(
    values: Mapping[str, Any],
    style: str = "oracle",
    shuffle: random.Random | None = None,
    user: str | None = "all",
) -> bytes:
    ns = IMPORT.namespace
    request = corpus.render(
        IMPORT,
        IMPORT["OrderImportRequest"],
        {"BatchName": "CONTRACT", "Order": [values]},
        f"{{{ns}types/}}request",
        shuffle,
    )
    body = corpus.wrapper("OrderImportService", "createOrders", [request])
    header = corpus.security_header(user) if user else None
    return corpus.envelope("OrderImportService", body, style, header)


def details_request(key: str, style: str = "oracle", **extra: str) -> bytes:
    """GetOrderDetails as real clients send it: every element of OrderRequest, the
    unused ones empty."""
    ns = INFO.namespace
    order = etree.Element(f"{{{ns}types/}}Order")
    fields = {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": "LEGACY",
        "SourceTransactionNumber": "",
        "SourceTransactionRevision": "",
        "IncludeHeaderAndLineAttributesOnly": "",
        "ExcludeAttachments": "N",
        "TargetSystem": "",
        **extra,
    }
    for name, value in fields.items():
        etree.SubElement(order, f"{{{ns}}}{name}").text = value or None
    line = etree.SubElement(order, f"{{{ns}}}OrderLine")
    etree.SubElement(line, f"{{{ns}}}SourceTransactionLineIdentifier")
    body = corpus.wrapper("OrderInformationService", "GetOrderDetails", [order])
    return corpus.envelope("OrderInformationService", body, style)


def call(gateway: Gateway, service: str, body: bytes, user: str | None = None) -> Http:
    return post(gateway.url(service), body, basic(user) if user else None)


def answer(gateway: Gateway, service: str, body: bytes, user: str | None = None) -> Any:
    """The validated Body child of a successful call."""
    res = call(gateway, service, body, user)
    assert res.status == 200, res.body[:2000]
    return check_answer(service, res.body)


# -- comparing what was sent with what came back ---------------------------------------


def _when(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _same_scalar(kind: str, sent: Any, got: etree._Element, where: str) -> None:
    text = got.text
    if kind == "any":
        want = [e.text for e in sent.iter() if e.text and e.text.strip()]
        have = [e.text for e in got.iter() if e.text and e.text.strip()]
        assert have == want, f"{where}: {have} != {want}"
    elif kind in ("MeasureType", "AmountType"):
        unit = "unitCode" if kind == "MeasureType" else "currencyCode"
        assert (Decimal(text), got.get(unit)) == (Decimal(sent[0]), sent[1]), where
    elif kind == "decimal":
        assert Decimal(text) == Decimal(sent), f"{where}: {text} != {sent}"
    elif kind == "dateTime":
        assert _when(text) == _when(sent), f"{where}: {text} != {sent}"
    else:
        assert text == sent, f"{where}: {text!r} != {sent!r}"


def assert_returned(
    sent: Mapping[str, Any],
    sent_type: ObjectType,
    got: etree._Element,
    got_type: ObjectType,
    where: str,
    model_in: ServiceModel = IMPORT,
    model_out: ServiceModel = INFO,
) -> int:
    """Every attribute in ``sent`` is in ``got`` under its name (or Oracle's other
    name for it) with the same value; returns how many values were compared."""
    compared = 0
    for name, value in sent.items():
        if value is None:
            continue
        field = sent_type.field(name)
        assert field is not None, name
        out_name = RENAMED.get(name, name)
        out_field = got_type.field(out_name)
        assert out_field is not None, f"{where}: {got_type.name} has no {out_name}"
        found = got.findall(f"{{{got_type.namespace}}}{out_name}")
        items = value if isinstance(value, list) else [value]
        assert len(found) == len(items), f"{where}/{out_name}: {len(found)} != {len(items)}"
        for index, (item, el) in enumerate(zip(items, found, strict=True)):
            at = f"{where}/{out_name}[{index + 1}]"
            if field.scalar:
                _same_scalar(field.type, item, el, at)
                compared += 1
            else:
                compared += assert_returned(
                    item, model_in[field.type], el, model_out[out_field.type], at,
                    model_in, model_out,
                )  # fmt: skip
    return compared
