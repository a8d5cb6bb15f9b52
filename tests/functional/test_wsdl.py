"""The served WSDLs are the files under wsdl/, and carry Oracle's names."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from lxml import etree

from gateway.wsdl import CANONICAL_BASE, SERVICE_NAMES

WSDL_DIR = Path(__file__).resolve().parents[2] / "wsdl"
W = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        return resp.read()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_served_wsdl_equals_the_published_file(gateway, name):
    url = gateway.url(name)
    served = fetch(url + "?WSDL")
    root = etree.fromstring(served)
    (address,) = root.iter(SOAP + "address")
    assert address.get("location") == url
    canonical = served.replace(url.encode(), (CANONICAL_BASE + name).encode())
    assert canonical == (WSDL_DIR / f"{name}.wsdl").read_bytes(), (
        f"the served {name} WSDL differs from wsdl/{name}.wsdl; if the contract change is "
        "deliberate, run 'make wsdl' and commit the file"
    )


@pytest.mark.parametrize(
    ("name", "operations"),
    [
        ("OrderImportService", {"createOrders", "stageOrders"}),
        ("OrderInformationService", {"GetOrderDetails"}),
        (
            "OrderFulfillmentResponseService",
            {"processAcknowledgement", "processFulfillmentResponse", "stageFulfillmentResponse"},
        ),
        ("OrderHoldService", {"applyHold", "releaseHold"}),
    ],
)
def test_wsdl_has_oracle_names(name, operations):
    root = etree.parse(str(WSDL_DIR / f"{name}.wsdl")).getroot()
    (binding,) = root.iter(W + "binding")
    (port,) = root.iter(W + "port")
    assert binding.get("name") == f"{name}SoapHttp"
    assert port.get("name") == f"{name}SoapHttpPort"
    ops = {op.get("name") for op in root.find(W + "portType").iter(W + "operation")}
    assert ops == operations
    for op in root.find(W + "portType").iter(W + "operation"):
        assert op.find(W + "fault").get("name") == "ServiceException"
    (fault_message,) = [m for m in root.iter(W + "message") if m.get("name") == "ServiceException"]
    part = fault_message.find(W + "part")
    assert part.get("element") == "errors:ServiceErrorMessage"
    assert root.nsmap["errors"] == "http://xmlns.oracle.com/adf/svc/errors/"
