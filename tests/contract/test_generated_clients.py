"""Clients generated from the WSDLs we serve, zeep's and node-soap's, round-trip an order:
create it with documented attributes, read them back, acknowledge and ship it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from bench import node_soap
from tests.common.soap import PASSWORD, client

NODE_CLIENT = Path(__file__).parent / "node" / "roundtrip.js"


def test_a_zeep_client_round_trips_an_order(sqlite_gateway, unique):
    imports = client(sqlite_gateway.base, "OrderImportService")
    info = client(sqlite_gateway.base, "OrderInformationService")
    ofrs = client(sqlite_gateway.base, "OrderFulfillmentResponseService")
    (created,) = imports.service.createOrders(
        request={
            "Order": [
                {
                    "SourceTransactionIdentifier": unique,
                    "SourceTransactionSystem": "LEGACY",
                    "SourceTransactionNumber": f"SO-{unique}",
                    "BuyingPartyId": 1006,
                    "RequestingLegalUnitIdentifier": 205,
                    "FreezePriceFlag": True,
                    "Line": [
                        {
                            "SourceTransactionLineIdentifier": "1",
                            "SourceTransactionScheduleIdentifier": "1-1",
                            "ProductNumber": "AS54888",
                            "OrderedQuantity": {"_value_1": Decimal("4"), "unitCode": "Ea"},
                            "UnitListPrice": {"_value_1": Decimal("105.50"), "currencyCode": "USD"},
                            "OrderCharge": [
                                {
                                    "ChargeDefinitionCode": "QP_SALE_PRICE",
                                    "OrderChargeComponent": [{"PriceElementCode": "QP_LIST_PRICE"}],
                                }
                            ],
                        }
                    ],
                    "OrderPreferences": {"SubmitFlag": True},
                }
            ]
        }
    )
    assert (created.ReturnStatus, created.FlowType) == ("SUCCESS", "CREATE")
    (order,) = info.service.GetOrderDetails(Order=[{"OrderNumber": created.OrderNumber}])
    assert (order.BuyingPartyId, order.RequestingLegalUnitIdentifier) == (1006, 205)
    assert order.FreezePriceFlag is True and order.OrderPreferences.SubmitFlag is True
    (line,) = order.OrderLine
    assert line.SourceTransactionScheduleIdentifier == "1-1"
    assert (line.UnitListPrice._value_1, line.UnitListPrice.currencyCode) == (
        Decimal("105.50"),
        "USD",
    )
    assert line.OrderCharge[0].OrderChargeComponent[0].PriceElementCode == "QP_LIST_PRICE"
    ofrs.service.processAcknowledgement(
        fulfillmentRequestAcknowledgement={
            "FulfillmentSystem": "WMS01",
            "FulfillmentRequestIdentifier": line.FulfillmentRequestIdentifier,
            "RequestStatusCode": "SUCCESS",
        }
    )
    shipped = ofrs.service.processFulfillmentResponse(
        responseMessageHeader={
            "FulfillmentSystem": "WMS01",
            "FulfillmentSystemResponseIdentifier": f"Z-{unique}",
            "IntegrationContextCode": "Shipment",
        },
        fulfillLineList=[
            {
                "FulfillLineIdentifier": line.FulfillLineIdentifier,
                "ShippedQuantity": {"_value_1": Decimal(4), "unitCode": "Ea"},
            }
        ],
    )
    assert shipped.OverallStatusCode == "SUCCESS"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    reason = node_soap.available()
    if reason is not None:
        if os.environ.get("OMGW_REQUIRE_NODE") == "1":
            pytest.fail(f"node-soap is required (OMGW_REQUIRE_NODE=1): {reason}")
        pytest.skip(reason)
    return node_soap.install() / "node_modules"


def test_a_node_soap_client_round_trips_an_order(sqlite_gateway, unique, node_modules):
    node = shutil.which("node") or "/usr/bin/node"
    run = subprocess.run(
        [node, str(NODE_CLIENT), sqlite_gateway.base, "all", PASSWORD, unique],
        env={**os.environ, "NODE_PATH": str(node_modules)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    assert got["result"]["ReturnStatus"] == "SUCCESS"
    order = got["order"]
    assert order["SourceTransactionIdentifier"] == unique
    assert str(order["BuyingPartyId"]) == "1006"
    line = order["OrderLine"][0] if isinstance(order["OrderLine"], list) else order["OrderLine"]
    assert line["SourceTransactionScheduleIdentifier"] == "1-1"
    assert line["PartialShipAllowedFlag"] in (False, "false")
    assert Decimal(line["UnitListPrice"]["$value"]) == Decimal("105.50")
    assert got["shipped"]["OverallStatusCode"] == "SUCCESS"
